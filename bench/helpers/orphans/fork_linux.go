package main

import (
	"fmt"
	"syscall"
	"unsafe"
)

// A forked copy of a Go process has one thread and a runtime that believes it
// has several, so a child may only make raw system calls from nosplit code
// (as syscall.forkAndExecInChild does) and must never return into Go.

const sigBlock = 0 // SIG_BLOCK

var (
	allSignals = [2]uint32{^uint32(0), ^uint32(0)} // a kernel sigset_t (64 bits)
	readBuf    [1]byte
)

// forkWaiters forks `procs` sub-forkers, each of which forks its share of
// the n waiters and exits, and waits for the sub-forkers. fork(2) holds the
// parent's mmap lock, so forks from one process are serial; forks from
// several processes use all CPUs. The waiters, orphaned when their sub-forker
// exits, go to the init.
func forkWaiters(n, procs int) error {
	if procs < 1 {
		procs = 1
	}
	pids := make([]int, 0, procs)
	for i := 0; i < procs; i++ {
		share := n / procs
		if i < n%procs {
			share++
		}
		pid, errno := forkForker(share)
		if errno != 0 {
			return fmt.Errorf("fork: %w", errno)
		}
		pids = append(pids, pid)
	}
	var firstErr error
	for _, pid := range pids {
		var ws syscall.WaitStatus
		for {
			_, err := syscall.Wait4(pid, &ws, 0, nil)
			if err != syscall.EINTR {
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("wait for sub-forker %d: %w", pid, err)
				}
				break
			}
		}
		if firstErr == nil && (!ws.Exited() || ws.ExitStatus() != 0) {
			firstErr = fmt.Errorf("sub-forker %d: fork failed (status %v)", pid, ws)
		}
	}
	return firstErr
}

// forkForker forks a child that forks share waiters and exits: 0 when all
// forks succeeded, 1 otherwise.
//
//go:nosplit
//go:norace
func forkForker(share int) (int, syscall.Errno) {
	pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	if pid != 0 {
		return int(pid), 0
	}
	syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, sigBlock, uintptr(unsafe.Pointer(&allSignals)), 0, 8, 0, 0)
	status := uintptr(0)
	for i := 0; i < share; i++ {
		pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
		if errno != 0 {
			status = 1
			break
		}
		if pid == 0 {
			waitForEOF()
		}
	}
	for {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, status, 0, 0)
	}
}

// waitForEOF reads stdin until end-of-file and exits 0; signals stay
// blocked (the Go handlers it inherited must never run). It does not return.
//
//go:nosplit
//go:norace
func waitForEOF() {
	for {
		n, _, errno := syscall.RawSyscall(syscall.SYS_READ, 0, uintptr(unsafe.Pointer(&readBuf[0])), 1)
		if errno == syscall.EINTR {
			continue
		}
		if errno != 0 || n == 0 {
			break
		}
	}
	for {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
	}
}
