// Command abstractprobe runs inside a test guest: it connects to the host's
// abstract unix socket @NAME and to one of its own, and writes the two
// results ("ok" or the errno's name) to OUT, e.g. "host=EPERM own=ok".
package main

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: abstractprobe NAME OUT")
		os.Exit(2)
	}
	name, out := os.Args[1], os.Args[2]
	own := fmt.Sprintf("%s-own-%d", name, os.Getpid())
	l, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err == nil {
		err = unix.Bind(l, &unix.SockaddrUnix{Name: "@" + own})
	}
	if err == nil {
		err = unix.Listen(l, 1)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "abstractprobe: listen on @"+own+":", err)
		os.Exit(1)
	}
	res := fmt.Sprintf("host=%s own=%s\n", connect(name), connect(own))
	if err := os.WriteFile(out, []byte(res), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "abstractprobe:", err)
		os.Exit(1)
	}
}

func connect(name string) string {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return "socket-" + err.Error()
	}
	defer unix.Close(fd)
	err = unix.Connect(fd, &unix.SockaddrUnix{Name: "@" + name})
	var errno unix.Errno
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &errno):
		return unix.ErrnoName(errno)
	}
	return err.Error()
}
