package orphan

import (
	"syscall"
	"unsafe"
)

// The orphan makers below fork without exec, the way a C program would. Ten
// thousand orphans as exec'd Go programs would cost gigabytes; forked copies
// share every page. A forked child of a Go program may only make raw system
// calls (the runtime's other threads do not exist in it), so everything it
// runs is nosplit and allocation-free.

// forkMaker forks an intermediate process that forks n orphans and exits at
// once, so the orphans are re-parented to the init (or the nearest subreaper).
// Each orphan closes wfd, blocks reading rfd until EOF, sleeps delays[i] when
// delays is non-nil, and exits 0. The intermediate exits 0, or 1 if a fork
// failed. It returns the intermediate's pid to the caller, which must wait for
// it.
//
//go:nosplit
//go:norace
func forkMaker(n int, rfd, wfd int, delays []syscall.Timespec) (int, syscall.Errno) {
	pid, _, e := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	if pid != 0 {
		return int(pid), 0
	}
	syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(wfd), 0, 0)
	failed := uintptr(0)
	for i := 0; i < n; i++ {
		c, _, e := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
		if e != 0 {
			failed = 1
			break
		}
		if c == 0 {
			var d *syscall.Timespec
			if delays != nil {
				d = &delays[i]
			}
			orphanBody(rfd, d)
		}
	}
	syscall.RawSyscall(syscall.SYS_EXIT_GROUP, failed, 0, 0)
	return 0, 0
}

// orphanBody waits for EOF on rfd, sleeps d (if any) and exits 0. It never
// returns.
//
//go:nosplit
//go:norace
func orphanBody(rfd int, d *syscall.Timespec) {
	var b [1]byte
	for {
		_, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(rfd), uintptr(unsafe.Pointer(&b[0])), 1)
		if e != syscall.EINTR {
			break
		}
	}
	if d != nil && (d.Sec != 0 || d.Nsec != 0) {
		syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(d)), 0, 0)
	}
	for {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
	}
}
