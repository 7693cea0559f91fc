package services

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

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
// checks against. All sockets are read by one goroutine (notifyHub): a
// goroutine and a buffer per service cost a megabyte with 200 services.
type notifySocket struct {
	path    string
	fd      int
	deliver func(notifyMsg)
}

// notifyHub reads every notify socket: one epoll set, one goroutine, one
// buffer. Sockets are added and removed under mu, and a socket is read
// only under mu and only while registered, so a closed (and maybe reused)
// fd number is never read on behalf of the wrong service.
type notifyHub struct {
	mu    sync.Mutex
	epfd  int
	socks map[int]*notifySocket
}

var (
	hubOnce sync.Once
	hub     *notifyHub
	hubErr  error
)

func theHub() (*notifyHub, error) {
	hubOnce.Do(func() {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			hubErr = os.NewSyscallError("epoll_create1", err)
			return
		}
		hub = &notifyHub{epfd: fd, socks: map[int]*notifySocket{}}
		go hub.run()
	})
	return hub, hubErr
}

// openNotify creates the socket at path; deliver gets every datagram (from
// the hub's goroutine: it must not touch loop state, only post).
func openNotify(path string, deliver func(notifyMsg)) (*notifySocket, error) {
	h, err := theHub()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dirOf(path), 0o755); err != nil {
		return nil, err
	}
	os.Remove(path)
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	fail := func(op string, err error) (*notifySocket, error) {
		unix.Close(fd)
		os.Remove(path)
		return nil, fmt.Errorf("%s %s: %w", op, path, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		return fail("bind", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		return fail("setsockopt SO_PASSCRED", err)
	}
	// Services may run as other users; they must be able to send.
	if err := os.Chmod(path, 0o666); err != nil {
		return fail("chmod", err)
	}
	n := &notifySocket{path: path, fd: fd, deliver: deliver}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := unix.EpollCtl(h.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
		return fail("epoll_ctl", err)
	}
	h.socks[fd] = n
	return n, nil
}

func (n *notifySocket) close() {
	h := hub
	h.mu.Lock()
	if h.socks[n.fd] == n {
		_ = unix.EpollCtl(h.epfd, unix.EPOLL_CTL_DEL, n.fd, nil)
		delete(h.socks, n.fd)
		unix.Close(n.fd)
	}
	h.mu.Unlock()
	os.Remove(n.path)
}

func (h *notifyHub) run() {
	events := make([]unix.EpollEvent, 32)
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred))
	for {
		n, err := unix.EpollWait(h.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		for _, ev := range events[:n] {
			h.drain(int(ev.Fd), buf, oob)
		}
	}
}

// drain reads every queued datagram of one socket.
func (h *notifyHub) drain(fd int, buf, oob []byte) {
	h.mu.Lock()
	n := h.socks[fd]
	var msgs []notifyMsg
	for n != nil {
		nb, noob, _, _, err := unix.Recvmsg(fd, buf, oob, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			break // EAGAIN: drained
		}
		pid := 0
		if cms, err := unix.ParseSocketControlMessage(oob[:noob]); err == nil {
			for _, m := range cms {
				if cred, err := unix.ParseUnixCredentials(&m); err == nil {
					pid = int(cred.Pid)
				}
			}
		}
		msgs = append(msgs, notifyMsg{pid: pid, fields: parseNotify(buf[:nb])})
	}
	h.mu.Unlock()
	for _, m := range msgs {
		n.deliver(m)
	}
}

func dirOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i > 0 {
		return p[:i]
	}
	return "/"
}
