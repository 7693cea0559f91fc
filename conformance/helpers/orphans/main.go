// Command orphans makes processes whose parent has exited, so that they are
// re-parented to the init under test, lets them exit at the same instant (or
// staggered), and waits until the init has reaped every one of them.
//
// It prints "ready" before it starts (with -wait-start it then reads a line
// from stdin), "reaped N in DURATION" after each round that was reaped,
// "done" at the end (then with -wait-end it reads a line before it exits), and
// "timeout: K processes left" (exit 1) when the init does not reap them in
// time. Only processes other than itself, its parent and PID 1 are counted, so
// it must run as the init's direct child inside the test's PID namespace.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/vserver-go/vserver/conformance/helpers/internal/orphan"
)

func main() {
	n := flag.Int("n", 100, "orphans per round")
	rounds := flag.Int("rounds", 1, "rounds")
	stagger := flag.Duration("stagger", 0, "orphan i exits i*stagger/n after the release (0: all at the same instant)")
	exitWithLast := flag.Bool("exit-with-last", false, "exit 0 at the instant the last round's orphans are released instead of waiting for them")
	timeout := flag.Duration("timeout", 20*time.Second, "how long the init may take to reap one round")
	waitStart := flag.Bool("wait-start", false, "read a line from stdin before the first round")
	waitEnd := flag.Bool("wait-end", false, "read a line from stdin before exiting")
	quiet := flag.Bool("quiet", false, "print only the last round's result")
	flag.Parse()

	in := bufio.NewReader(os.Stdin)
	fmt.Println("ready")
	if *waitStart {
		in.ReadString('\n')
	}
	for r := 1; r <= *rounds; r++ {
		t0 := time.Now()
		release, err := orphan.Make(*n, *stagger)
		if err != nil {
			fmt.Fprintln(os.Stderr, "orphans:", err)
			os.Exit(2)
		}
		if !*quiet {
			fmt.Printf("made %d in %v\n", *n, time.Since(t0).Round(time.Microsecond))
		}
		start := time.Now()
		release()
		if r == *rounds && *exitWithLast {
			os.Exit(0)
		}
		left := waitReaped(*timeout)
		if left > 0 {
			fmt.Printf("timeout: %d processes left after round %d\n", left, r)
			os.Exit(1)
		}
		if !*quiet || r == *rounds {
			fmt.Printf("reaped %d in %v\n", *n, time.Since(start).Round(time.Microsecond))
		}
	}
	fmt.Println("done")
	if *waitEnd {
		in.ReadString('\n')
	}
}

// waitReaped polls /proc until no process but itself, its parent and PID 1
// is left (zombies count: they are listed until reaped) and returns how many
// were left at the deadline.
func waitReaped(timeout time.Duration) int {
	keep := map[int]bool{1: true, os.Getpid(): true, os.Getppid(): true}
	deadline := time.Now().Add(timeout)
	for {
		left := countOthers(keep)
		if left == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(200 * time.Microsecond)
	}
}

func countOthers(keep map[int]bool) int {
	d, err := os.Open("/proc")
	if err != nil {
		return -1
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return -1
	}
	n := 0
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err == nil && !keep[pid] {
			n++
		}
	}
	return n
}
