package control

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// MaxFDs bounds the fds one message may carry; more are discarded by the
// kernel (MSG_CTRUNC) and the message then fails its count check.
const MaxFDs = 4

// MsgConn exchanges message lines with fds attached (SCM_RIGHTS) over a
// unix stream socket: the monitor channel and the monitor's exec socket.
//
// Each message is sent with one sendmsg, its fds with it. The kernel
// delivers fds with the first bytes of the message they were sent with and
// ends that read there, so the fds of a read belong to the line that holds
// the read's last byte. Whoever calls Read checks the count it expected and
// closes the rest: a peer cannot make us keep fds we did not ask for.
type MsgConn struct {
	c   *net.UnixConn
	wmu sync.Mutex

	buf  []byte  // received, not yet returned
	pos  int64   // stream offset of buf[0]
	fds  []fdsAt // received fds, by the stream offset of the read's last byte
	skip bool    // dropping the rest of an oversized line
	rerr error   // the read error that ends the stream
}

type fdsAt struct {
	at  int64
	fds []*os.File
}

// NewMsgConn wraps a connected unix stream socket.
func NewMsgConn(c *net.UnixConn) *MsgConn { return &MsgConn{c: c} }

// FileMsgConn makes a MsgConn of a socket fd (an inherited or socketpair
// end). f stays open and usable by its owner; the MsgConn has its own dup.
func FileMsgConn(f *os.File) (*MsgConn, error) {
	nc, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("use %s as a socket: %w", f.Name(), err)
	}
	uc, ok := nc.(*net.UnixConn)
	if !ok {
		nc.Close()
		return nil, fmt.Errorf("use %s as a socket: not a unix socket", f.Name())
	}
	return NewMsgConn(uc), nil
}

// Conn is the underlying socket (deadlines, peer credentials).
func (m *MsgConn) Conn() *net.UnixConn { return m.c }

// Close closes the socket; safe while another goroutine reads. Fds
// received and not yet returned are closed by the Read that then fails.
func (m *MsgConn) Close() error { return m.c.Close() }

// Write sends one message (a line, newline included) and fds with it.
// Safe for concurrent use.
func (m *MsgConn) Write(b []byte, fds ...*os.File) error {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	var oob []byte
	if len(fds) > 0 {
		raw := make([]int, len(fds))
		for i, f := range fds {
			raw[i] = int(f.Fd())
		}
		oob = unix.UnixRights(raw...)
	}
	n, _, err := m.c.WriteMsgUnix(b, oob, nil)
	if err != nil {
		return err
	}
	if n < len(b) {
		// A short write on a full socket buffer: the fds went with the
		// first part, the rest of the line follows.
		_, err = m.c.Write(b[n:])
	}
	return err
}

// Read returns the next message line (without the newline) and the fds
// that came with it. A line over MaxLine is skipped whole and reported as
// ErrLineTooLong (its fds closed); the stream stays in sync. At the end it
// returns io.EOF, or io.ErrUnexpectedEOF after a partial line.
func (m *MsgConn) Read() ([]byte, []*os.File, error) {
	for {
		if i := bytes.IndexByte(m.buf, '\n'); i >= 0 {
			line := m.buf[:i]
			fds := m.takeFDs(m.pos + int64(i))
			m.buf = m.buf[i+1:]
			m.pos += int64(i) + 1
			if m.skip || i > MaxLine {
				m.skip = false
				CloseFiles(fds)
				return nil, nil, ErrLineTooLong
			}
			return bytes.Clone(line), fds, nil
		}
		if len(m.buf) > MaxLine {
			m.skip = true
			CloseFiles(m.takeFDs(m.pos + int64(len(m.buf)) - 1))
			m.pos += int64(len(m.buf))
			m.buf = m.buf[:0]
		}
		if m.rerr != nil {
			CloseFiles(m.takeFDs(m.pos + int64(len(m.buf))))
			if len(m.buf) > 0 || m.skip {
				m.buf = nil
				return nil, nil, io.ErrUnexpectedEOF
			}
			return nil, nil, m.rerr
		}
		m.fill()
	}
}

// fill does one recvmsg.
func (m *MsgConn) fill() {
	var chunk [4096]byte
	oob := make([]byte, unix.CmsgSpace(MaxFDs*4))
	n, oobn, _, _, err := m.c.ReadMsgUnix(chunk[:], oob)
	n, oobn = max(n, 0), max(oobn, 0) // -1 with some errors
	if oobn > 0 {
		var got []*os.File
		if msgs, perr := unix.ParseSocketControlMessage(oob[:oobn]); perr == nil {
			for _, cm := range msgs {
				if raw, rerr := unix.ParseUnixRights(&cm); rerr == nil {
					for _, fd := range raw {
						got = append(got, os.NewFile(uintptr(fd), "received-fd"))
					}
				}
			}
		}
		if len(got) > 0 {
			if n == 0 {
				CloseFiles(got) // fds without data: nothing owns them
			} else {
				m.fds = append(m.fds, fdsAt{at: m.pos + int64(len(m.buf)) + int64(n) - 1, fds: got})
			}
		}
	}
	m.buf = append(m.buf, chunk[:n]...)
	switch {
	case err != nil:
		m.rerr = err
	case n == 0:
		m.rerr = io.EOF
	}
}

// takeFDs removes and returns the fds received with bytes up to offset end.
func (m *MsgConn) takeFDs(end int64) []*os.File {
	var out []*os.File
	i := 0
	for ; i < len(m.fds) && m.fds[i].at <= end; i++ {
		out = append(out, m.fds[i].fds...)
	}
	m.fds = m.fds[i:]
	return out
}

// CloseFiles closes every file in fs (nil entries allowed).
func CloseFiles(fs []*os.File) {
	for _, f := range fs {
		if f != nil {
			f.Close()
		}
	}
}

// ErrFDCount is returned by CheckFDs.
var ErrFDCount = errors.New("wrong number of file descriptors with the message")

// CheckFDs returns fds when there are exactly want of them; otherwise it
// closes them all and returns ErrFDCount.
func CheckFDs(fds []*os.File, want int) ([]*os.File, error) {
	if len(fds) != want {
		CloseFiles(fds)
		return nil, fmt.Errorf("%w: %d, want %d", ErrFDCount, len(fds), want)
	}
	return fds, nil
}
