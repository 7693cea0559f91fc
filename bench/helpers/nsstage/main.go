// Command nsstage is the first process of the fresh PID and mount namespaces
// the benchmark driver creates (clone with CLONE_NEWPID|CLONE_NEWNS): it
// makes the mount tree private, mounts a /proc that shows the new PID
// namespace and executes the init under test, which thereby becomes PID 1.
//
//	nsstage INIT [ARGS...]
//
// The same stage runs in front of every init, so its cost (one small static
// exec and two mounts) is identical for all of them; the driver also times it
// alone ("no init") so that cost can be read off.
package main

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "nsstage: %v\n", err)
		os.Exit(125)
	}
}

func run(argv []string) error {
	if len(argv) == 0 {
		return errors.New("usage: nsstage INIT [ARGS...]")
	}
	if os.Getpid() != 1 {
		return errors.New("not PID 1 of a new PID namespace")
	}
	// Private first, so the /proc mount does not propagate to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	if err := unix.Exec(argv[0], argv, os.Environ()); err != nil {
		return fmt.Errorf("exec %s: %w", argv[0], err)
	}
	return nil
}
