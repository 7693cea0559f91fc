// Command execwait starts children with os/exec and waits for each, while
// orphans keep dying around it, and checks that every child's exit status
// arrives intact: a reaper that steals statuses (wait4(-1) in the wrong
// process) shows up as "no child processes" or a wrong code. It prints
// "ok N" and exits 0, or prints the first failure and exits 1.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"

	"github.com/vserver-go/vserver/conformance/helpers/internal/orphan"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-exit" {
		code, _ := strconv.Atoi(os.Args[2])
		os.Exit(code)
	}
	n := flag.Int("n", 300, "children to start and wait for")
	flag.Parse()

	var stop atomic.Bool
	churned := make(chan int)
	go func() { churned <- churn(&stop) }()

	self, err := os.Executable()
	if err != nil {
		fmt.Println("FAIL executable:", err)
		os.Exit(1)
	}
	for i := 0; i < *n; i++ {
		want := i % 256
		err := exec.Command(self, "-exit", strconv.Itoa(want)).Run()
		got := 0
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			got = ee.ExitCode()
		case err != nil:
			fmt.Printf("FAIL child %d: %v\n", i, err)
			os.Exit(1)
		}
		if got != want {
			fmt.Printf("FAIL child %d: exit status %d, want %d\n", i, got, want)
			os.Exit(1)
		}
	}
	stop.Store(true)
	fmt.Printf("ok %d (while %d orphans died)\n", *n, <-churned)
}

// churn keeps making small batches of orphans that die at once, so the init
// is reaping all the time.
func churn(stop *atomic.Bool) int {
	total := 0
	for !stop.Load() {
		release, err := orphan.Make(4, 0)
		if err != nil {
			return total
		}
		release()
		total += 4
	}
	return total
}
