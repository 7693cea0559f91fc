package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// A forked copy of a Go process has one thread and a runtime that believes it
// has several, so a child may only make raw system calls from nosplit code
// (as syscall.forkAndExecInChild does) and must never return into Go.

const sigBlock = 0 // SIG_BLOCK

const (
	madvDontfork = 10        // MADV_DONTFORK
	stackWindow  = 256 << 10 // kept around the stack pointer
	pageSize     = 4096
)

var (
	allSignals = [2]uint32{^uint32(0), ^uint32(0)} // a kernel sigset_t (64 bits)
	readBuf    [1]byte

	// dontFork lists the anonymous mappings (Go's heap arenas and runtime
	// metadata) a waiter does not need: a sub-forker marks them
	// MADV_DONTFORK in its own copy before forking, so each waiter gets
	// only the binary, its data and a window of the stack it runs on. A
	// waiter then costs the kernel a few pages instead of a copy of the
	// Go heap's page tables, to fork and to tear down.
	dontFork  [256][2]uintptr
	nDontFork int
)

// findDontFork fills dontFork from /proc/self/maps: every anonymous mapping
// except the one holding readBuf (the binary's bss) and the special ones.
func findDontFork() error {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return err
	}
	defer f.Close()
	keep := uintptr(unsafe.Pointer(&readBuf[0]))
	nDontFork = 0
	s := bufio.NewScanner(f)
	for s.Scan() && nDontFork < len(dontFork) {
		fs := strings.Fields(s.Text()) // range perms offset dev inode [path]
		if len(fs) != 5 || fs[4] != "0" {
			continue
		}
		lo, hi, ok := strings.Cut(fs[0], "-")
		a, err1 := strconv.ParseUint(lo, 16, 64)
		b, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil || uintptr(a) <= keep && keep < uintptr(b) {
			continue
		}
		dontFork[nDontFork] = [2]uintptr{uintptr(a), uintptr(b)}
		nDontFork++
	}
	return s.Err()
}

// forkWaiters forks `procs` sub-forkers, each of which forks its share of
// the n waiters and exits, and waits for the sub-forkers. fork(2) holds the
// parent's mmap lock, so forks from one process are serial; forks from
// several processes use all CPUs. The waiters, orphaned when their sub-forker
// exits, go to the init.
func forkWaiters(n, procs int) error {
	if procs < 1 {
		procs = 1
	}
	if err := findDontFork(); err != nil {
		return fmt.Errorf("read own mappings: %w", err)
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
	var here uintptr
	sp := uintptr(unsafe.Pointer(&here))
	for i := 0; i < nDontFork; i++ {
		a, b := dontFork[i][0], dontFork[i][1]
		if a <= sp && sp < b { // the stack we run on: spare a window around it
			lo := (sp - stackWindow) &^ (pageSize - 1)
			hi := (sp + stackWindow) &^ (pageSize - 1)
			if lo > a {
				syscall.RawSyscall(syscall.SYS_MADVISE, a, lo-a, madvDontfork)
			}
			if hi < b {
				syscall.RawSyscall(syscall.SYS_MADVISE, hi, b-hi, madvDontfork)
			}
			continue
		}
		syscall.RawSyscall(syscall.SYS_MADVISE, a, b-a, madvDontfork)
	}
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
