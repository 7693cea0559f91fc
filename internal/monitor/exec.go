package monitor

// exec and enter (DESIGN §4.7, docs/vserver.md): the CLI connects to
// RUN/NAME.sock (root only), the monitor forwards its request to vinit on
// the monitor channel, vinit starts the process inside the guest and
// reports its end. Everything from vinit is parsed defensively: bounded
// lines, strict messages, and fds we did not ask for are closed.

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/vserver-go/vserver/internal/control"
)

// maxSessions bounds the exec sessions one monitor serves at once.
const maxSessions = 64

// execReplyTimeout bounds how long vinit may take to start a process.
const execReplyTimeout = 15 * time.Second

// ExecSocket is where name's monitor serves exec and enter.
func ExecSocket(d Dirs, name string) string { return filepath.Join(d.Run, name+".sock") }

// errGuestGone: the monitor channel closed (the guest ended or rebooted).
var errGuestGone = errors.New("the guest stopped")

// vinitChan is the monitor's end of one boot's monitor channel.
type vinitChan struct {
	conn *control.MsgConn
	log  *logFile

	mu       sync.Mutex
	nextID   uint64
	replies  map[uint64]chan vinitReply // requests waiting for their reply
	sessions map[uint64]chan int        // exec'd processes waiting for their exit status
	closed   bool
}

type vinitReply struct {
	rep control.Reply
	fds []*os.File
}

// newVinitChan takes over f (the socketpair end) and reads it: ready and
// stopping events go to events, replies and exit events to their waiters.
// events is closed at EOF.
func newVinitChan(f *os.File, events chan<- control.Event, l *logFile) (*vinitChan, error) {
	conn, err := control.FileMsgConn(f)
	f.Close()
	if err != nil {
		close(events)
		return nil, err
	}
	v := &vinitChan{conn: conn, log: l, replies: map[uint64]chan vinitReply{}, sessions: map[uint64]chan int{}}
	go v.read(events)
	return v, nil
}

func (v *vinitChan) read(events chan<- control.Event) {
	defer close(events)
	defer v.shut()
	for {
		line, fds, err := v.conn.Read()
		if err != nil {
			control.CloseFiles(fds)
			if errors.Is(err, control.ErrLineTooLong) {
				v.log.Printf("vinit sent an oversized message; ignored")
				continue
			}
			return
		}
		ev, rep, err := control.ParseEvent(line)
		if err != nil {
			control.CloseFiles(fds)
			v.log.Printf("%v", err)
			continue
		}
		if rep != nil {
			v.deliver(*rep, fds)
			continue
		}
		control.CloseFiles(fds) // events carry none
		if ev.Event == "exit" {
			id, status, err := control.ParseExitEvent(ev)
			if err != nil {
				v.log.Printf("%v", err)
				continue
			}
			v.mu.Lock()
			ch := v.sessions[id]
			delete(v.sessions, id)
			v.mu.Unlock()
			if ch != nil {
				ch <- status
			}
			continue
		}
		select {
		case events <- *ev:
		default:
		}
	}
}

// deliver hands a reply to the request waiting for it; a reply nobody
// waits for is dropped, with its fds.
func (v *vinitChan) deliver(rep control.Reply, fds []*os.File) {
	v.mu.Lock()
	ch := v.replies[rep.ID]
	delete(v.replies, rep.ID)
	v.mu.Unlock()
	if ch == nil {
		control.CloseFiles(fds)
		return
	}
	ch <- vinitReply{rep, fds}
}

// shut marks the channel closed and wakes every waiter.
func (v *vinitChan) shut() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return
	}
	v.closed = true
	for id, ch := range v.replies {
		close(ch)
		delete(v.replies, id)
	}
	for id, ch := range v.sessions {
		close(ch)
		delete(v.sessions, id)
	}
	v.conn.Close()
}

// call sends req (with fds, which it closes) and waits for the reply.
// With session set, the request starts a process whose exit status will
// come on the returned channel.
func (v *vinitChan) call(req control.Request, fds []*os.File, session bool) (vinitReply, uint64, <-chan int, error) {
	defer control.CloseFiles(fds)
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return vinitReply{}, 0, nil, errGuestGone
	}
	if session && len(v.sessions) >= maxSessions {
		v.mu.Unlock()
		return vinitReply{}, 0, nil, fmt.Errorf("%d exec sessions are open already", maxSessions)
	}
	v.nextID++
	id := v.nextID
	req.ID = id
	rch := make(chan vinitReply, 1)
	v.replies[id] = rch
	var exit chan int
	if session {
		exit = make(chan int, 1)
		v.sessions[id] = exit
	}
	v.mu.Unlock()
	forget := func() {
		v.mu.Lock()
		delete(v.replies, id)
		delete(v.sessions, id)
		v.mu.Unlock()
	}
	// A vinit that stops reading must not hold this goroutine forever.
	_ = v.conn.Conn().SetWriteDeadline(time.Now().Add(execReplyTimeout))
	if err := v.conn.Write(control.Marshal(req), fds...); err != nil {
		forget()
		return vinitReply{}, 0, nil, fmt.Errorf("send %s request to vinit: %w", req.Op, err)
	}
	t := time.NewTimer(execReplyTimeout)
	defer t.Stop()
	select {
	case r, ok := <-rch:
		if !ok {
			return vinitReply{}, 0, nil, errGuestGone
		}
		if !r.rep.OK {
			forget()
		}
		return r, id, exit, nil
	case <-t.C:
		forget()
		return vinitReply{}, 0, nil, fmt.Errorf("vinit did not answer the %s request within %v", req.Op, execReplyTimeout)
	}
}

// forgetSession stops waiting for a process's end (its client went away).
func (v *vinitChan) forgetSession(id uint64) {
	v.mu.Lock()
	delete(v.sessions, id)
	v.mu.Unlock()
}

// signal asks vinit to signal the process group of session id.
func (v *vinitChan) signal(id uint64, sig int) error {
	r, _, _, err := v.call(control.Request{Op: "signal", Target: id, Signal: sig}, nil, false)
	if err != nil {
		return err
	}
	control.CloseFiles(r.fds)
	if !r.rep.OK {
		return errors.New(r.rep.Error)
	}
	return nil
}

// execServer serves RUN/NAME.sock for the monitor's whole life; ch is the
// current boot's channel, nil while the guest is not running.
type execServer struct {
	name string
	path string
	ln   *net.UnixListener
	log  *logFile

	mu sync.Mutex
	ch *vinitChan
}

// serveExec listens on RUN/NAME.sock (mode 0600, root only).
func (m *monitor) serveExec() (*execServer, error) {
	path := ExecSocket(m.dirs, m.cfg.Name)
	_ = os.Remove(path) // a dead monitor's; we hold the lock
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	s := &execServer{name: m.cfg.Name, path: path, ln: ln, log: m.log}
	go s.accept()
	return s, nil
}

func (s *execServer) close() {
	if s == nil {
		return
	}
	s.ln.Close() // removes the socket file
	s.setChannel(nil)
}

// setChannel makes ch the channel exec requests go to (nil: none).
func (s *execServer) setChannel(ch *vinitChan) {
	if s == nil {
		return
	}
	s.mu.Lock()
	old := s.ch
	s.ch = ch
	s.mu.Unlock()
	if old != nil && old != ch {
		old.shut()
	}
}

func (s *execServer) channel() *vinitChan {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}

func (s *execServer) accept() {
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Printf("exec socket: %v", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if uid, err := peerUID(c); err != nil || uid != 0 {
			s.log.Printf("exec socket: refused a connection from uid %d (root only)", uid)
			c.Close()
			continue
		}
		go s.serve(control.NewMsgConn(c))
	}
}

// serve runs one client's exec session: the request, vinit's reply (with
// the pty master for enter), signals from the client, and the exit status.
func (s *execServer) serve(c *control.MsgConn) {
	defer c.Close()
	reply := func(rep control.Reply, fds ...*os.File) {
		_ = c.Conn().SetWriteDeadline(time.Now().Add(10 * time.Second))
		_ = c.Write(control.Marshal(rep), fds...)
	}
	_ = c.Conn().SetReadDeadline(time.Now().Add(10 * time.Second))
	line, fds, err := c.Read()
	if err != nil {
		control.CloseFiles(fds)
		return
	}
	req, err := control.ParseRequest(line)
	if err == nil && req.Op != "exec" {
		err = fmt.Errorf("%s: the exec socket serves exec only", req.Op)
	}
	if err == nil {
		fds, err = control.CheckFDs(fds, req.Exec.FDs())
	} else {
		control.CloseFiles(fds)
	}
	if err != nil {
		reply(control.Reply{ID: req.ID, Error: err.Error()})
		return
	}
	clientID := req.ID
	ch := s.channel()
	if ch == nil {
		control.CloseFiles(fds)
		reply(control.Reply{ID: clientID, Error: fmt.Sprintf("guest %s is not running", s.name)})
		return
	}
	r, id, exit, err := ch.call(req, fds, true)
	if err != nil {
		reply(control.Reply{ID: clientID, Error: err.Error()})
		return
	}
	r.rep.ID = clientID
	if !r.rep.OK {
		control.CloseFiles(r.fds)
		reply(r.rep)
		return
	}
	want := 0
	if req.Exec.TTY {
		want = 1
	}
	got, err := control.CheckFDs(r.fds, want)
	if err == nil && want == 1 {
		err = checkPTYMaster(got[0])
	}
	if err != nil {
		control.CloseFiles(got)
		s.log.Printf("exec: bad reply from vinit: %v", err)
		_ = ch.signal(id, 9)
		ch.forgetSession(id)
		reply(control.Reply{ID: clientID, Error: "exec: bad reply from vinit"})
		return
	}
	reply(r.rep, got...)
	control.CloseFiles(got) // the client has the only copy now

	_ = c.Conn().SetReadDeadline(time.Time{})
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		for {
			line, fds, err := c.Read()
			control.CloseFiles(fds)
			if err != nil && !errors.Is(err, control.ErrLineTooLong) {
				return
			}
			if err != nil {
				continue
			}
			if req, err := control.ParseRequest(line); err == nil && req.Op == "signal" {
				if err := ch.signal(id, req.Signal); err != nil {
					s.log.Printf("exec: %v", err)
				}
			}
		}
	}()
	select {
	case status, ok := <-exit:
		ev := control.ExitEvent(clientID, status)
		if !ok {
			ev = control.ExitEvent(clientID, 255)
			ev.Reason = errGuestGone.Error()
		}
		_ = c.Conn().SetWriteDeadline(time.Now().Add(10 * time.Second))
		_ = c.Write(control.Marshal(ev))
	case <-gone:
		// The client went away: its pipes or pty closed with it, which
		// the process sees as EOF or SIGHUP; vinit reaps it whenever it ends.
		ch.forgetSession(id)
	}
}
