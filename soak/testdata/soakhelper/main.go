// Command soakhelper runs inside the soak test's guest and keeps its init
// busy. Modes:
//
//	soakhelper orphans N        make N orphans for the guest's init to reap
//	soakhelper crash FILE N     one run of a crashing service: append a byte to
//	                            FILE and exit 1, until FILE holds N bytes; then
//	                            stay up (block) as a healthy service
//	soakhelper zombies          print the number of zombies in the guest
package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "soakhelper:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: soakhelper orphans N | crash FILE N | zombies")
	}
	num := func(i int) (int, error) {
		if len(args) <= i {
			return 0, fmt.Errorf("%s: missing argument %d", args[0], i)
		}
		return strconv.Atoi(args[i])
	}
	switch args[0] {
	case "orphans":
		n, err := num(1)
		if err != nil {
			return err
		}
		made, err := orphans(n)
		fmt.Println(made)
		return err
	case "crash":
		n, err := num(2)
		if err != nil {
			return err
		}
		size, err := bump(args[1])
		if err != nil {
			return err
		}
		if size < n {
			os.Exit(1)
		}
		// Enough crashes: from now on a healthy service.
		for {
			_ = unix.Pause()
		}
	case "zombies":
		fmt.Println(zombies())
		return nil
	}
	return fmt.Errorf("unknown mode %q", args[0])
}

// bump appends one byte to file and returns its new size.
func bump(file string) (int, error) {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, err := f.Write([]byte{'x'}); err != nil {
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return int(st.Size()), nil
}

// batch is how many orphans one middle process leaves behind.
const batch = 256

// orphans forks a middle process per batch that forks children which exit
// at once, and exits itself without waiting for them: they are reparented
// to the guest's init, which must reap them. Between fork and exit the
// children make raw syscalls only (the Go runtime is not usable there).
func orphans(n int) (int, error) {
	runtime.LockOSThread()
	made := 0
	for made < n {
		k := min(batch, n-made)
		pid, _, errno := unix.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
		if errno != 0 {
			return made, fmt.Errorf("clone: %w", errno)
		}
		if pid == 0 {
			status := uintptr(0)
			for i := 0; i < k; i++ {
				c, _, e := unix.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
				if e != 0 {
					status = 1
					break
				}
				if c == 0 {
					unix.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
				}
			}
			unix.RawSyscall(unix.SYS_EXIT_GROUP, status, 0, 0)
		}
		var ws unix.WaitStatus
		for {
			_, err := unix.Wait4(int(pid), &ws, 0, nil)
			if err != unix.EINTR {
				break
			}
		}
		if !ws.Exited() || ws.ExitStatus() != 0 {
			return made, fmt.Errorf("middle process %d: a fork failed (%v)", pid, ws)
		}
		made += k
	}
	return made, nil
}

// zombies counts the processes in state Z that this process can see.
func zombies() int {
	n := 0
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if i := bytes.LastIndexByte(b, ')'); i > 0 && len(b) > i+2 && b[i+2] == 'Z' {
			n++
		}
	}
	return n
}
