package pid1

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"

	"github.com/vserver-go/vserver/internal/proctree"
	"golang.org/x/sys/unix"
)

// initialPIDNSInode is PROC_PID_INIT_INO: the inode of the initial PID
// namespace, fixed by the kernel (include/linux/proc_ns.h).
const initialPIDNSInode = 0xEFFFFFFC

// inInitialPIDNS reports whether we run in the host's (a VM's) PID namespace.
func inInitialPIDNS() bool {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/pid", &st); err != nil {
		// Without /proc we cannot tell; assume a container, where reboot(2)
		// only ends the namespace. Wrongly assuming a VM would reboot it.
		return false
	}
	return st.Ino == initialPIDNSInode
}

func setSubreaper() error {
	return os.NewSyscallError("prctl(PR_SET_CHILD_SUBREAPER)", unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
}

// setName sets our comm, so ps and /proc/1/comm show "vinit" even when the
// launcher executed us from a memfd. PR_SET_NAME would only rename the
// calling thread; /proc/self/comm is the thread-group leader's, which any
// thread of the process may write.
func setName(name string) {
	if err := os.WriteFile("/proc/self/comm", []byte(name), 0); err == nil {
		return
	}
	b := append([]byte(name), 0)
	_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&b[0])), 0, 0, 0)
}

// closeInheritedFDs closes every fd from first up except keep (-1: none),
// inherited from whoever started us, so neither vinit nor its children hold
// them (catatonit #12). It must run before the Go runtime opens fds of its
// own (the netpoller).
func closeInheritedFDs(first, keep int) {
	if keep >= first {
		err1 := error(nil)
		if keep > first {
			err1 = unix.CloseRange(uint(first), uint(keep-1), 0)
		}
		if err1 == nil && unix.CloseRange(uint(keep+1), ^uint(0), 0) == nil {
			return
		}
	} else if err := unix.CloseRange(uint(first), ^uint(0), 0); err == nil {
		return
	}
	// Kernels before 5.9: close what /proc/self/fd lists, read without the
	// Go poller so it does not open fds while we close them.
	fd, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	var fds []int
	buf := make([]byte, 4096)
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil || n <= 0 {
			break
		}
		_, _, names := unix.ParseDirent(buf[:n], -1, nil)
		for _, name := range names {
			if v, err := strconv.Atoi(name); err == nil && v >= first && v != fd && v != keep {
				fds = append(fds, v)
			}
		}
	}
	unix.Close(fd)
	for _, v := range fds {
		unix.Close(v)
	}
}

// clearInheritedSigmask makes sure the signal mask we pass to children is
// empty. Go hands every child the mask the process started with, so a vinit
// started with signals blocked (a parent script's trap) would start services
// with them blocked. If the mask is not empty, unblock everything and
// re-execute ourselves with the clean mask. Returns only when the mask is
// clean or re-exec failed.
func clearInheritedSigmask() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old, empty unix.Sigset_t
	if err := unix.PthreadSigmask(unix.SIG_SETMASK, &empty, &old); err != nil {
		return
	}
	if old == empty {
		return
	}
	if os.Getenv("_VINIT_SIGMASK_REEXEC") != "" {
		return // already tried once: do not loop
	}
	os.Setenv("_VINIT_SIGMASK_REEXEC", "1")
	_ = syscall.Exec("/proc/self/exe", os.Args, os.Environ())
}

func mountIfMissing(target, fstype string, flags uintptr, data string) error {
	var st, parent unix.Stat_t
	if err := unix.Stat(target, &st); err != nil {
		if !errors.Is(err, unix.ENOENT) {
			return nil
		}
		if err := os.MkdirAll(target, 0o755); err != nil {
			return fmt.Errorf("mount %s: %w", target, err)
		}
		_ = unix.Stat(target, &st)
	}
	if err := unix.Stat(target+"/..", &parent); err == nil && parent.Dev != st.Dev {
		return nil // already a mount point
	}
	if fstype == "proc" {
		if _, err := os.Stat("/proc/self/stat"); err == nil {
			return nil
		}
	}
	if err := unix.Mount(fstype, target, fstype, flags, data); err != nil {
		return fmt.Errorf("mount %s on %s: %w", fstype, target, err)
	}
	return nil
}

// descendants lists the pids below pid. Used when vinit is not PID 1 and
// so must not kill(-1).
func descendants(pid int) []int {
	var out []int
	for _, p := range proctree.Descendants(pid) {
		out = append(out, p.PID)
	}
	return out
}

// isTerminal reports whether fd is a terminal.
func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// foregroundOf reports whether we are in the foreground process group of
// the terminal on fd.
func inForeground(fd int) bool {
	pgrp, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	return err == nil && pgrp == unix.Getpgrp()
}

// consoleIsTerminal reads whether vinit's console (stdin or stdout) is a
// terminal, from the fd types; used to decide what Ctrl-C means.
func consoleIsTerminal() bool { return isTerminal(0) || isTerminal(1) }

func setCloexec(fd int)   { unix.CloseOnExec(fd) }
func clearCloexec(fd int) { _, _ = unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0) }

// rebootSyscall ends the PID namespace (or, in the initial namespace,
// reboots or powers off the machine).
func rebootSyscall(action string, initial bool) error {
	cmd := unix.LINUX_REBOOT_CMD_POWER_OFF
	switch {
	case action == "reboot":
		cmd = unix.LINUX_REBOOT_CMD_RESTART
	case action == "halt" && initial:
		cmd = unix.LINUX_REBOOT_CMD_HALT
	}
	return os.NewSyscallError("reboot", unix.Reboot(cmd))
}

// peerUID returns the uid of the process at the other end of a unix socket.
func peerUID(f interface {
	SyscallConn() (syscall.RawConn, error)
}) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return -1, err
	}
	uid := -1
	var serr error
	err = rc.Control(func(fd uintptr) {
		var cred *unix.Ucred
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if serr == nil {
			uid = int(cred.Uid)
		}
	})
	if err != nil {
		return -1, err
	}
	return uid, serr
}

// OwnsDev reports whether /dev is ours to add to: we are PID 1 and /dev is a
// tmpfs (a guest's or container's private /dev), not the host's devtmpfs we
// would share when merely started in a new PID namespace.
func OwnsDev() bool {
	if os.Getpid() != 1 {
		return false
	}
	var fs unix.Statfs_t
	return unix.Statfs("/dev", &fs) == nil && fs.Type == unix.TMPFS_MAGIC
}

// resetLibcSignals puts signals 32 and 33 back to their default action.
// The Go runtime neither catches nor resets them (the C library reserves
// them for threads), so one inherited as ignored would be passed on to
// every service. As PID 1 the default action is harmless: the kernel does
// not deliver a signal to an init that has no handler for it.
func resetLibcSignals() {
	var act [4]uint64 // struct sigaction with SIG_DFL, no flags, no mask
	for _, sig := range []uintptr{32, 33} {
		_, _, _ = unix.RawSyscall6(unix.SYS_RT_SIGACTION, sig, uintptr(unsafe.Pointer(&act[0])), 0, 8, 0, 0)
	}
}
