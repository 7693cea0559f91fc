package monitor

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

func pidfdOpen(pid int) (*os.File, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, os.NewSyscallError("pidfd_open", err)
	}
	return os.NewFile(uintptr(fd), "pidfd"), nil
}

func pidfdSignal(pidfd *os.File, sig syscall.Signal) error {
	return os.NewSyscallError("pidfd_send_signal", unix.PidfdSendSignal(int(pidfd.Fd()), sig, nil, 0))
}
