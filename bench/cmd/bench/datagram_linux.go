package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// datagramSocket is a unix datagram socket the driver listens on; a
// goroutine receives every datagram and stamps it on arrival, so the
// clock stops when the datagram arrives, not when the driver looks.
type datagramSocket struct {
	path string
	fd   int
	ch   chan report
}

// listenDatagram binds a unix datagram socket at path.
func listenDatagram(path string) (*datagramSocket, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("create report socket: %w", os.NewSyscallError("socket", err))
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind report socket %s: %w", path, err)
	}
	// Room for every report of a run even if the driver is slow to read.
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	s := &datagramSocket{path: path, fd: fd, ch: make(chan report, 4096)}
	go s.receive()
	return s, nil
}

func (s *datagramSocket) receive() {
	buf := make([]byte, 4096)
	for {
		n, _, err := unix.Recvfrom(s.fd, buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n == 0 { // shut down by Close (the helpers never send empty datagrams)
			unix.Close(s.fd)
			close(s.ch)
			return
		}
		s.ch <- parseReport(buf[:n], time.Now())
	}
}

// next returns the next datagram, or an error at the deadline, when ended
// is closed (the supervisor died) or when cancel is closed.
func (s *datagramSocket) next(deadline time.Time, ended, cancel <-chan struct{}) (report, error) {
	select {
	case r, ok := <-s.ch:
		if ok {
			return r, nil
		}
	default:
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case r, ok := <-s.ch:
		if !ok {
			return report{}, errors.New("report socket closed")
		}
		return r, nil
	case <-ended:
		return report{}, errors.New("the supervisor ended")
	case <-cancel:
		return report{}, errors.New("interrupted")
	case <-t.C:
		return report{}, errors.New("timed out")
	}
}

// Close shuts the socket down; the receiving goroutine wakes up, closes it
// and ends (closing it here could hand a reused descriptor to its read).
func (s *datagramSocket) Close() {
	unix.Shutdown(s.fd, unix.SHUT_RDWR)
	os.Remove(s.path)
}
