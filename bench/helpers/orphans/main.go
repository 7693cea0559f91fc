// Command orphans is the main process of the reaping benchmark. It runs under
// the init being measured and leaves it a burst of orphans to reap:
//
//	orphans -n N [-cgroup DIR]
//
// It starts a copy of itself (the forker) that joins the pids cgroup DIR (so
// the driver can count the orphans in O(1) through pids.current), forks N
// children and exits. The children are thereby reparented to the init. Every
// child blocks in read(2) on stdin, which is the read end of a pipe whose only
// write end the benchmark driver holds: when the driver closes it, all N
// children see end-of-file at once, exit together and become zombies for the
// init to reap. Once the forker is gone this process writes "ready N" to
// stdout and waits for a signal (the driver stops the init afterwards; the
// init forwards SIGTERM here). It never exits on its own: if it did, tini,
// dumb-init and catatonit would exit too, and the kernel would clear the
// namespace instead of the init reaping it.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "orphans: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	n := flag.Int("n", 1000, "number of orphans")
	cgroup := flag.String("cgroup", "", "pids cgroup directory the orphans are counted in")
	forker := flag.Bool("forker", false, "internal: be the forker")
	flag.Parse()
	if *n < 1 {
		return fmt.Errorf("-n %d: want at least 1", *n)
	}
	if *forker {
		return forkAll(*n, *cgroup)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	cmd := exec.Command(self, "-forker", "-n", strconv.Itoa(*n), "-cgroup", *cgroup)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("forker: %w", err)
	}
	fmt.Printf("ready %d\n", *n)
	for {
		time.Sleep(time.Hour) // idle until the init forwards the stop signal
	}
}

// forkAll joins the cgroup and forks n children that wait for stdin's EOF.
func forkAll(n int, cgroup string) error {
	if cgroup != "" {
		if err := os.WriteFile(cgroup+"/cgroup.procs", []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
			return fmt.Errorf("join cgroup: %w", err)
		}
	}
	return forkWaiters(n, runtime.NumCPU())
}
