package tty

import (
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY returns a fresh pty pair from /dev/ptmx.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no ptys here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

func TestRawAndRestore(t *testing.T) {
	_, s := openPTY(t)
	fd := int(s.Fd())
	if !IsTerminal(fd) {
		t.Fatal("a pty slave is not a terminal?")
	}
	before, _ := unix.IoctlGetTermios(fd, unix.TCGETS)
	if before.Lflag&unix.ICANON == 0 || before.Lflag&unix.ECHO == 0 {
		t.Fatalf("a new pty is not canonical with echo: %#x", before.Lflag)
	}
	restore, err := MakeRaw(fd)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := unix.IoctlGetTermios(fd, unix.TCGETS)
	if raw.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 || raw.Oflag&unix.OPOST != 0 || raw.Iflag&unix.ICRNL != 0 {
		t.Fatalf("not raw: lflag %#x oflag %#x iflag %#x", raw.Lflag, raw.Oflag, raw.Iflag)
	}
	if err := restore(); err != nil {
		t.Fatal(err)
	}
	after, _ := unix.IoctlGetTermios(fd, unix.TCGETS)
	if *after != *before {
		t.Fatalf("not restored:\n%+v\n%+v", after, before)
	}
	r, w, _ := os.Pipe()
	defer r.Close()
	defer w.Close()
	if IsTerminal(int(r.Fd())) {
		t.Error("a pipe is a terminal?")
	}
	if _, err := MakeRaw(int(r.Fd())); err == nil {
		t.Error("MakeRaw on a pipe succeeded")
	}
}

func TestSize(t *testing.T) {
	m, s := openPTY(t)
	if err := SetSize(int(m.Fd()), 33, 111); err != nil {
		t.Fatal(err)
	}
	rows, cols, err := Size(int(s.Fd()))
	if err != nil || rows != 33 || cols != 111 {
		t.Fatalf("size %dx%d %v", rows, cols, err)
	}
}
