// Package orphan makes orphan processes for the conformance helpers: processes
// whose parent has already exited, so the kernel has re-parented them to the
// init (or the nearest subreaper), blocked until the caller releases them.
package orphan

import (
	"fmt"
	"syscall"
	"time"
)

// Make creates n orphans and returns the function that releases them: on
// release every orphan exits 0 at the same instant, or orphan i after
// i*stagger/n when stagger > 0.
func Make(n int, stagger time.Duration) (release func(), err error) {
	var delays []syscall.Timespec
	if stagger > 0 {
		delays = make([]syscall.Timespec, n)
		for i := range delays {
			delays[i] = syscall.NsecToTimespec(int64(stagger) * int64(i) / int64(n))
		}
	}
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("make orphans: pipe: %w", err)
	}
	pid, errno := forkMaker(n, p[0], p[1], delays)
	syscall.Close(p[0])
	if errno != 0 {
		syscall.Close(p[1])
		return nil, fmt.Errorf("make orphans: fork: %w", errno)
	}
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			syscall.Close(p[1])
			return nil, fmt.Errorf("make orphans: wait for the maker %d: %w", pid, err)
		}
		break
	}
	if ws.ExitStatus() != 0 {
		syscall.Close(p[1])
		return nil, fmt.Errorf("make orphans: maker %d could not fork all %d", pid, n)
	}
	return func() { syscall.Close(p[1]) }, nil
}
