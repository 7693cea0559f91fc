package pid1

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// openGuestPTY opens a new pty in the guest's own devpts (/dev/ptmx) with
// the given window size. The slave is opened without becoming our
// controlling terminal; the child makes it its own (setsid, TIOCSCTTY).
func openGuestPTY(rows, cols uint16) (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open pty: %w", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", os.NewSyscallError("ioctl(TIOCSPTLCK)", err))
	}
	// TIOCGPTPEER opens the slave through the master, never by a path in
	// /dev/pts that could name something else.
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	sfd := int(r)
	if errno != 0 {
		n, nerr := unix.IoctlGetInt(fd, unix.TIOCGPTN)
		if nerr != nil {
			m.Close()
			return nil, nil, fmt.Errorf("get pty number: %w", os.NewSyscallError("ioctl(TIOCGPTN)", nerr))
		}
		sfd, err = unix.Open(fmt.Sprintf("/dev/pts/%d", n), unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err != nil {
			m.Close()
			return nil, nil, fmt.Errorf("open pty slave /dev/pts/%d: %w", n, err)
		}
	}
	s := os.NewFile(uintptr(sfd), "pty-slave")
	if rows > 0 && cols > 0 {
		_ = unix.IoctlSetWinsize(sfd, unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	}
	return m, s, nil
}
