package services

import (
	"bytes"
	"errors"
	"net"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// notifyMsg is one sd_notify datagram: its sender and its KEY=VALUE fields.
type notifyMsg struct {
	pid    int
	fields map[string]string
}

// parseNotify reads an sd_notify datagram: newline-separated KEY=VALUE
// assignments (sd_notify(3)). Lines without "=" are ignored, as systemd does.
func parseNotify(b []byte) map[string]string {
	m := map[string]string{}
	for _, line := range bytes.Split(b, []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte("="))
		if !ok || len(k) == 0 || len(k) > 64 {
			continue
		}
		m[string(k)] = string(v)
	}
	return m
}

// notifySocket is a service's own NOTIFY_SOCKET: a datagram socket created
// before the service is executed, so a READY=1 sent at once is not lost.
// The kernel tells us each sender's pid (SO_PASSCRED), which notify_access
// checks against.
type notifySocket struct {
	path string
	conn *net.UnixConn
}

func openNotify(path string) (*notifySocket, error) {
	if err := os.MkdirAll(dirOf(path), 0o755); err != nil {
		return nil, err
	}
	os.Remove(path)
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	rc, err := conn.SyscallConn()
	if err == nil {
		var serr error
		err = rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1) })
		if err == nil {
			err = serr
		}
	}
	if err != nil {
		conn.Close()
		os.Remove(path)
		return nil, err
	}
	// Services may run as other users; they must be able to send.
	_ = os.Chmod(path, 0o666)
	return &notifySocket{path: path, conn: conn}, nil
}

// serve reads datagrams until the socket is closed, handing each to deliver.
func (n *notifySocket) serve(deliver func(notifyMsg)) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred))
	for {
		nb, noob, _, _, err := n.conn.ReadMsgUnix(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		pid := 0
		if msgs, err := unix.ParseSocketControlMessage(oob[:noob]); err == nil {
			for _, m := range msgs {
				if cred, err := unix.ParseUnixCredentials(&m); err == nil {
					pid = int(cred.Pid)
				}
			}
		}
		deliver(notifyMsg{pid: pid, fields: parseNotify(buf[:nb])})
	}
}

func (n *notifySocket) close() {
	n.conn.Close()
	os.Remove(n.path)
}

func dirOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i > 0 {
		return p[:i]
	}
	return "/"
}
