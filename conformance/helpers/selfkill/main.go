// Command selfkill kills itself with the signal named by its argument (a
// number or a name such as TERM), so that its parent sees "killed by signal"
// without a shell in between (shells differ in how they do this).
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sigaction is the kernel's struct sigaction on linux/amd64 and arm64.
type sigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: selfkill SIGNAL")
		os.Exit(2)
	}
	sig := parse(os.Args[1])
	if sig == 0 {
		fmt.Fprintf(os.Stderr, "selfkill: unknown signal %q\n", os.Args[1])
		os.Exit(2)
	}
	// The Go runtime handles most signals itself (SIGQUIT, for one, makes it
	// exit 2 with a goroutine dump): put the default action back and unblock.
	sa := sigaction{handler: 0} // SIG_DFL
	unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&sa)), 0, 8, 0, 0)
	set := unix.Sigset_t{}
	set.Val[0] = 1 << (uint(sig) - 1)
	unix.PthreadSigmask(unix.SIG_UNBLOCK, &set, nil)
	unix.Kill(os.Getpid(), sig)
	time.Sleep(5 * time.Second)
	fmt.Fprintf(os.Stderr, "selfkill: still alive after signal %d\n", sig)
	os.Exit(3)
}

func parse(s string) syscall.Signal {
	if n, err := strconv.Atoi(s); err == nil {
		return syscall.Signal(n)
	}
	return unix.SignalNum("SIG" + strings.TrimPrefix(strings.ToUpper(s), "SIG"))
}
