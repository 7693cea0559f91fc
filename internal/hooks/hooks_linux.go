package hooks

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

func newProcessGroup() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// killGroup SIGKILLs the process group led by pid (the hook and anything it
// started without leaving its group).
func killGroup(pid int) { _ = unix.Kill(-pid, unix.SIGKILL) }

func statusOf(ps *os.ProcessState) ExitStatus {
	if ps == nil {
		return ExitStatus{Code: -1}
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ExitStatus{Code: -1, Signal: int(ws.Signal())}
	}
	return ExitStatus{Code: ps.ExitCode()}
}

// StatusFromWait converts a wait4 status, for Starters that reap themselves.
func StatusFromWait(ws unix.WaitStatus) ExitStatus {
	if ws.Signaled() {
		return ExitStatus{Code: -1, Signal: int(ws.Signal())}
	}
	return ExitStatus{Code: ws.ExitStatus()}
}
