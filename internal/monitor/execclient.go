package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/vserver-go/vserver/internal/control"
)

// ExecSession is one exec or enter from the CLI's side: the process runs
// in the guest until Wait returns its status.
type ExecSession struct {
	conn   *control.MsgConn
	PID    int      // in the guest's PID namespace
	Master *os.File // enter: the guest pty's master (nil for exec)
}

// ExecError is a process that could not be started, with the status to
// exit with (127 not found, 126 not executable, 1 otherwise).
type ExecError struct {
	Status int
	Msg    string
}

func (e *ExecError) Error() string { return e.Msg }

// StartExec asks name's monitor to run e inside the guest. Without TTY,
// stdio are the process's stdin, stdout and stderr (passed, not copied: the
// caller closes its copies); with TTY, stdio is empty and the session has
// the master of a pty that vinit opened in the guest.
func StartExec(d Dirs, name string, e *control.Exec, stdio []*os.File) (*ExecSession, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	if len(stdio) != e.FDs() {
		return nil, fmt.Errorf("exec: %d stdio files, want %d", len(stdio), e.FDs())
	}
	if !Running(d, name) {
		return nil, fmt.Errorf("guest %s: %w", name, ErrNotRunning)
	}
	path := ExecSocket(d, name)
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("guest %s: %w (no exec socket %s)", name, ErrNotRunning, path)
		}
		return nil, fmt.Errorf("connect to the monitor of %s: %w", name, err)
	}
	conn := control.NewMsgConn(c.(*net.UnixConn))
	ok := false
	defer func() {
		if !ok {
			conn.Close()
		}
	}()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if err := conn.Write(control.Marshal(control.Request{ID: 1, Op: "exec", Exec: e}), stdio...); err != nil {
		return nil, fmt.Errorf("send exec request to the monitor of %s: %w", name, err)
	}
	line, fds, err := conn.Read()
	if err != nil {
		control.CloseFiles(fds)
		return nil, fmt.Errorf("read the monitor's answer: %w", err)
	}
	rep, err := control.ParseReply(line)
	if err != nil {
		control.CloseFiles(fds)
		return nil, err
	}
	if !rep.OK {
		control.CloseFiles(fds)
		ee := &ExecError{Status: 1, Msg: rep.Error}
		var f control.ExecFailed
		if len(rep.Data) > 0 && json.Unmarshal(rep.Data, &f) == nil && f.Status > 0 && f.Status < 256 {
			ee.Status = f.Status
		}
		if ee.Msg == "" {
			ee.Msg = "exec failed"
		}
		return nil, ee
	}
	want := 0
	if e.TTY {
		want = 1
	}
	if fds, err = control.CheckFDs(fds, want); err != nil {
		return nil, fmt.Errorf("the monitor's answer: %w", err)
	}
	var started control.ExecStarted
	_ = json.Unmarshal(rep.Data, &started)
	s := &ExecSession{conn: conn, PID: started.PID}
	if want == 1 {
		s.Master = fds[0]
	}
	_ = c.SetDeadline(time.Time{})
	ok = true
	return s, nil
}

// Signal sends sig to the process's group inside the guest.
func (s *ExecSession) Signal(sig syscall.Signal) error {
	_ = s.conn.Conn().SetWriteDeadline(time.Now().Add(5 * time.Second))
	return s.conn.Write(control.Marshal(control.Request{ID: 2, Op: "signal", Target: 1, Signal: int(sig)}))
}

// Wait returns the process's exit status (the code, or 128+signal). When
// the guest went away first, it returns 255 and an error.
func (s *ExecSession) Wait() (int, error) {
	for {
		line, fds, err := s.conn.Read()
		control.CloseFiles(fds)
		if err != nil {
			if errors.Is(err, control.ErrLineTooLong) {
				continue
			}
			return 255, fmt.Errorf("lost the connection to the monitor: %w", err)
		}
		ev, _, err := control.ParseEvent(line)
		if err != nil || ev == nil || ev.Event != "exit" || ev.Status == nil {
			continue
		}
		if ev.Reason != "" {
			return *ev.Status, errors.New(ev.Reason)
		}
		return *ev.Status, nil
	}
}

// Close ends the session from our side (the monitor stops waiting).
func (s *ExecSession) Close() {
	s.conn.Close()
	if s.Master != nil {
		s.Master.Close()
	}
}
