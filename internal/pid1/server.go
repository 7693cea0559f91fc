package pid1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/vserver-go/vserver/internal/control"
)

// ask runs a request on the loop and waits for the reply.
func (sv *supervisor) ask(req control.Request) control.Reply {
	ch := make(chan control.Reply, 1)
	sv.l.Post(func() {
		sv.handle(req, func(r control.Reply) {
			select {
			case ch <- r:
			default:
			}
		})
	})
	return <-ch
}

// listenUnix creates a stream socket at path that only root may use:
// mode 0600, and the peer's uid is checked on every connection anyway.
func listenUnix(path string) (*net.UnixListener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		os.Remove(path) // stale, from before a re-exec or a crash
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// serveControl serves the control protocol on path.
func serveControl(path string, sv *supervisor) error {
	ln, err := listenUnix(path)
	if err != nil {
		return err
	}
	go acceptLoop(ln, sv, func(c *net.UnixConn) { serveControlConn(c, sv) })
	return nil
}

func acceptLoop(ln *net.UnixListener, sv *supervisor, serve func(*net.UnixConn)) {
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			sv.log.Printf("accept on %s: %v", ln.Addr(), err)
			time.Sleep(100 * time.Millisecond) // EMFILE and the like: do not spin
			continue
		}
		uid, err := peerUID(c)
		if err != nil || uid != 0 {
			sv.log.Printf("%s: refused a connection from uid %d (only root may control vinit)", ln.Addr(), uid)
			c.Close()
			continue
		}
		go serve(c)
	}
}

func serveControlConn(c *net.UnixConn, sv *supervisor) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 4096)
	for {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Minute))
		line, err := control.ReadLine(br)
		if err != nil && !errors.Is(err, control.ErrLineTooLong) {
			return
		}
		var rep control.Reply
		if err != nil {
			rep = control.Reply{Error: err.Error()}
		} else if req, perr := control.ParseRequest(line); perr != nil {
			rep = control.Reply{Error: perr.Error()}
		} else {
			rep = sv.ask(req)
		}
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(control.Marshal(rep)); err != nil {
			return
		}
	}
}

// serveReboot serves the 2003 vreboot protocol: a client writes "reboot\n"
// or "halt\n" (also "poweroff\n") on a stream socket, traditionally
// /dev/reboot.
func serveReboot(path string, sv *supervisor) error {
	ln, err := listenUnix(path)
	if err != nil {
		return err
	}
	go acceptLoop(ln, sv, func(c *net.UnixConn) {
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		word, ok, err := readRebootRequest(c)
		if err != nil {
			return
		}
		if ok {
			sv.ask(control.Request{Op: word})
			_, _ = c.Write([]byte("ok\n"))
		} else {
			sv.log.Printf("%s: unknown request %q (want reboot, halt or poweroff)", path, truncate(word, 40))
			_, _ = fmt.Fprintf(c, "error: unknown request\n")
		}
	})
	return nil
}

// readRebootRequest reads the one request of a vreboot client: a line of
// at most 64 bytes (a longer one is cut there, a last one may lack its
// newline). ok says whether word is an action; err is set only when the
// client sent nothing before its end or the read deadline.
func readRebootRequest(r io.Reader) (word string, ok bool, err error) {
	br := bufio.NewReaderSize(r, 64)
	line, err := br.ReadSlice('\n')
	if err != nil && !(errors.Is(err, os.ErrDeadlineExceeded) || len(line) > 0) {
		return "", false, err
	}
	word = string(bytes.TrimSpace(line))
	switch word {
	case actReboot, actHalt, actPoweroff:
		return word, true, nil
	}
	return word, false, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// monitorChan is the channel the vserver monitor handed us: we send events
// and replies, it sends requests, exec requests with fds (SCM_RIGHTS,
// exec.go). Writes go through a bounded queue so a monitor that stops
// reading cannot block PID 1.
type monitorChan struct {
	conn  *control.MsgConn
	out   chan outMsg
	execs map[uint64]*execProc // running exec'd processes by request id; loop-owned
}

type outMsg struct {
	b   []byte
	fds []*os.File // closed once sent
}

// newMonitorChan serves the channel on f, which stays open for a re-exec.
func newMonitorChan(f *os.File, sv *supervisor) *monitorChan {
	conn, err := control.FileMsgConn(f)
	if err != nil {
		sv.log.Printf("monitor channel: %v", err)
		return nil
	}
	m := &monitorChan{conn: conn, out: make(chan outMsg, 64), execs: map[uint64]*execProc{}}
	go func() {
		broken := false
		for msg := range m.out {
			if !broken {
				if err := conn.Write(msg.b, msg.fds...); err != nil {
					sv.log.Printf("monitor channel: %v", err)
					broken = true
				}
			}
			control.CloseFiles(msg.fds)
		}
	}()
	go func() {
		for {
			line, fds, err := conn.Read()
			if err != nil && !errors.Is(err, control.ErrLineTooLong) {
				control.CloseFiles(fds)
				return // the monitor closed its end; it sees our exit anyway
			}
			var rep control.Reply
			if err != nil {
				rep = control.Reply{Error: err.Error()}
			} else if req, perr := control.ParseRequest(line); perr != nil {
				control.CloseFiles(fds)
				rep = control.Reply{ID: req.ID, Error: perr.Error()}
			} else if req.Op == "exec" || req.Op == "signal" {
				sv.monitorExec(req, fds, m) // replies itself
				continue
			} else {
				control.CloseFiles(fds) // no other request carries fds
				rep = sv.ask(req)
			}
			m.send(control.Marshal(rep))
		}
	}()
	return m
}

func (m *monitorChan) send(b []byte) { m.sendFDs(b) }

// sendFDs queues b with fds, which are closed once sent or dropped.
func (m *monitorChan) sendFDs(b []byte, fds ...*os.File) {
	select {
	case m.out <- outMsg{b, fds}:
	default: // the monitor is not reading; it will see how we end
		control.CloseFiles(fds)
	}
}
