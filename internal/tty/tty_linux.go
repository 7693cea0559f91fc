// Package tty puts a terminal in raw mode and back, and reads and sets
// window sizes: what `vserver NAME enter` needs to relay a user's terminal
// to a pty in a guest.
package tty

import (
	"os"

	"golang.org/x/sys/unix"
)

// IsTerminal reports whether fd is a terminal.
func IsTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// MakeRaw puts the terminal on fd in raw mode (as cfmakeraw(3)) and returns
// a function that restores the previous settings.
func MakeRaw(fd int) (restore func() error, err error) {
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, os.NewSyscallError("ioctl(TCGETS)", err)
	}
	raw := *old
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN] = 1
	raw.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return nil, os.NewSyscallError("ioctl(TCSETS)", err)
	}
	return func() error {
		return os.NewSyscallError("ioctl(TCSETS)", unix.IoctlSetTermios(fd, unix.TCSETS, old))
	}, nil
}

// Size returns the window size of the terminal on fd.
func Size(fd int) (rows, cols uint16, err error) {
	ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
	if err != nil {
		return 0, 0, os.NewSyscallError("ioctl(TIOCGWINSZ)", err)
	}
	return ws.Row, ws.Col, nil
}

// SetSize sets the window size of the terminal (or pty master) on fd; the
// kernel sends SIGWINCH to its foreground process group.
func SetSize(fd int, rows, cols uint16) error {
	return os.NewSyscallError("ioctl(TIOCSWINSZ)", unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}))
}
