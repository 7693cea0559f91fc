package monitor

// The monitor's exec path against a fake vinit on a real socketpair: the
// monitor must survive and contain whatever vinit sends.

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vserver-go/vserver/internal/control"
	"github.com/vserver-go/vserver/internal/guest"
)

// fakeVinit is the guest end of a monitor channel, driven by the test.
type fakeVinit struct {
	t    *testing.T
	conn *control.MsgConn
}

func (f *fakeVinit) read() (control.Request, []*os.File) {
	f.t.Helper()
	line, fds, err := f.conn.Read()
	if err != nil {
		f.t.Errorf("fake vinit: read: %v", err)
		return control.Request{}, nil
	}
	req, err := control.ParseRequest(line)
	if err != nil {
		f.t.Errorf("fake vinit: the monitor sent a bad request: %v", err)
	}
	return req, fds
}

func (f *fakeVinit) send(s string, fds ...*os.File) {
	f.t.Helper()
	if err := f.conn.Write([]byte(s+"\n"), fds...); err != nil {
		f.t.Errorf("fake vinit: write: %v", err)
	}
}

// execHarness is a monitor's exec server with a fake vinit on its channel.
type execHarness struct {
	d      Dirs
	name   string
	vinit  *fakeVinit
	events chan control.Event
	log    string
}

func newExecHarness(t *testing.T) *execHarness {
	t.Helper()
	dir := t.TempDir()
	h := &execHarness{d: Dirs{Config: dir, Run: filepath.Join(dir, "run"), Log: dir}, name: "g",
		events: make(chan control.Event, 8), log: filepath.Join(dir, "g.log")}
	if err := os.MkdirAll(h.d.Run, 0o700); err != nil {
		t.Fatal(err)
	}
	lock, err := tryLock(h.d.lockPath(h.name)) // "running"
	if err != nil {
		t.Fatal(err)
	}
	l, err := openLog(h.log, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	m := &monitor{cfg: &guest.Config{Name: h.name}, dirs: h.d, log: l}
	srv, err := m.serveExec()
	if err != nil {
		t.Fatal(err)
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	vc, err := newVinitChan(os.NewFile(uintptr(fds[0]), "host-end"), h.events, l)
	if err != nil {
		t.Fatal(err)
	}
	srv.setChannel(vc)
	gf := os.NewFile(uintptr(fds[1]), "guest-end")
	gc, err := control.FileMsgConn(gf)
	gf.Close()
	if err != nil {
		t.Fatal(err)
	}
	_ = gc.Conn().SetDeadline(time.Now().Add(20 * time.Second))
	h.vinit = &fakeVinit{t: t, conn: gc}
	t.Cleanup(func() {
		srv.close()
		gc.Close()
		l.Close()
		lock.Close()
	})
	return h
}

// stdio returns three pipe ends to pass as a process's stdio, and a
// reader that sees EOF once every copy of the write ends is closed.
func stdioPipes(t *testing.T) ([]*os.File, *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return []*os.File{w, w, w}, r
}

// closedEverywhere checks that no one holds a write end of r's pipe.
func closedEverywhere(t *testing.T, r *os.File, what string) {
	t.Helper()
	_ = r.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := r.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("%s: still open somewhere (read %d, %v)", what, n, err)
	}
}

func TestExecSessionThroughMonitor(t *testing.T) {
	h := newExecHarness(t)
	stdio, r := stdioPipes(t)
	go func() {
		req, fds := h.vinit.read()
		if req.Op != "exec" || len(fds) != 3 || strings.Join(req.Exec.Argv, " ") != "echo hi" {
			t.Errorf("vinit got %+v with %d fds", req, len(fds))
		}
		control.CloseFiles(fds)
		// Noise first: garbage, an oversized line, a reply nobody asked
		// for (with an fd), a malformed exit event, an exit for another id.
		pr, pw, _ := os.Pipe()
		defer pr.Close()
		h.vinit.send("not json")
		h.vinit.send(strings.Repeat("x", control.MaxLine+10))
		h.vinit.send(`{"id":999,"ok":true}`, pw)
		pw.Close()
		h.vinit.send(`{"event":"exit","id":1,"status":300}`)
		h.vinit.send(`{"event":"exit","id":77,"status":1}`)
		data, _ := json.Marshal(control.ExecStarted{PID: 42})
		h.vinit.send(msg(control.Reply{ID: req.ID, OK: true, Data: data}))
		closedEverywhere(t, pr, "an fd with a reply nobody waited for")
		// A signal from the client arrives as a signal request.
		sreq, sfds := h.vinit.read()
		control.CloseFiles(sfds)
		if sreq.Op != "signal" || sreq.Target != req.ID || sreq.Signal != int(syscall.SIGINT) {
			t.Errorf("vinit got %+v, want SIGINT for %d", sreq, req.ID)
		}
		h.vinit.send(msg(control.Reply{ID: sreq.ID, OK: true}))
		h.vinit.send(`{"event":"exit","id":` + jsonInt(req.ID) + `,"status":130}`)
	}()
	s, err := StartExec(h.d, h.name, &control.Exec{Argv: []string{"echo", "hi"}}, stdio)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	control.CloseFiles(stdio[:1])
	if s.PID != 42 || s.Master != nil {
		t.Errorf("session %+v", s)
	}
	if err := s.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	status, err := s.Wait()
	if err != nil || status != 130 {
		t.Fatalf("Wait: %d %v", status, err)
	}
	closedEverywhere(t, r, "the stdio passed to vinit")
	log, _ := os.ReadFile(h.log)
	for _, want := range []string{"bad message from vinit", "oversized", "bad exit event"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// msg is v as a message line without its newline.
func msg(v any) string { return strings.TrimSuffix(string(control.Marshal(v)), "\n") }

func jsonInt(n uint64) string { b, _ := json.Marshal(n); return string(b) }

func TestExecRejectsFDsVinitWasNotAskedFor(t *testing.T) {
	h := newExecHarness(t)
	stdio, _ := stdioPipes(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	killed := make(chan control.Request, 1)
	go func() {
		req, fds := h.vinit.read()
		control.CloseFiles(fds)
		// A non-tty exec answered with an fd: refused, the fd closed,
		// the process killed.
		h.vinit.send(msg(control.Reply{ID: req.ID, OK: true}), pw)
		pw.Close()
		k, _ := h.vinit.read()
		h.vinit.send(msg(control.Reply{ID: k.ID, OK: true}))
		killed <- k
	}()
	_, err = StartExec(h.d, h.name, &control.Exec{Argv: []string{"true"}}, stdio)
	control.CloseFiles(stdio[:1])
	if err == nil || !strings.Contains(err.Error(), "bad reply from vinit") {
		t.Fatalf("exec answered with a stray fd: %v", err)
	}
	closedEverywhere(t, pr, "the stray fd")
	if k := <-killed; k.Op != "signal" || k.Signal != int(syscall.SIGKILL) {
		t.Errorf("after a bad reply the monitor sent %+v, want SIGKILL", k)
	}

	// A tty exec answered with something that is not a pty master.
	pr2, pw2, _ := os.Pipe()
	defer pr2.Close()
	go func() {
		req, fds := h.vinit.read()
		control.CloseFiles(fds)
		h.vinit.send(msg(control.Reply{ID: req.ID, OK: true}), pw2)
		pw2.Close()
		k, _ := h.vinit.read()
		h.vinit.send(msg(control.Reply{ID: k.ID, OK: true}))
	}()
	if _, err := StartExec(h.d, h.name, &control.Exec{TTY: true}, nil); err == nil {
		t.Fatal("a pipe was accepted as the pty master")
	}
	closedEverywhere(t, pr2, "the fake pty master")
}

func TestExecFailureAndGuestGone(t *testing.T) {
	h := newExecHarness(t)
	go func() {
		req, _ := h.vinit.read()
		data, _ := json.Marshal(control.ExecFailed{Status: 127})
		h.vinit.send(msg(control.Reply{ID: req.ID, Error: "exec nope: command not found", Data: data}))
		req, _ = h.vinit.read()
		h.vinit.send(msg(control.Reply{ID: req.ID, OK: true}))
		h.vinit.conn.Close() // the guest ends under the session
	}()
	stdio, _ := stdioPipes(t)
	_, err := StartExec(h.d, h.name, &control.Exec{Argv: []string{"nope"}}, stdio)
	var ee *ExecError
	if !errors.As(err, &ee) || ee.Status != 127 || !strings.Contains(ee.Msg, "command not found") {
		t.Fatalf("failed exec: %v", err)
	}
	stdio, _ = stdioPipes(t)
	s, err := StartExec(h.d, h.name, &control.Exec{Argv: []string{"sleep", "9"}}, stdio)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if status, err := s.Wait(); status != 255 || err == nil || !strings.Contains(err.Error(), "the guest stopped") {
		t.Fatalf("session of a guest that ended: %d %v", status, err)
	}
	// With the channel gone, new sessions are refused clearly.
	stdio, _ = stdioPipes(t)
	if _, err := StartExec(h.d, h.name, &control.Exec{Argv: []string{"true"}}, stdio); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("exec after the guest ended: %v", err)
	}
}

func TestParseProcStatus(t *testing.T) {
	st, err := parseProcStatus("Name:\tsleep\nState:\tS (sleeping)\nPPid:\t7\nUid:\t65534\t65534\t65534\t65534\nVmRSS:\t  1024 kB\nNSpid:\t4242\t12\n")
	if err != nil || st.state != "S" || st.ppid != 7 || st.uid != 65534 || st.rss != 1<<20 || len(st.nspid) != 2 || st.nspid[1] != 12 {
		t.Fatalf("%+v %v", st, err)
	}
	if _, err := parseProcStatus("Name:\tx\n"); err == nil {
		t.Error("status without NSpid accepted")
	}
	if _, err := parseProcStatus("NSpid:\t1\tx\n"); err == nil {
		t.Error("bad NSpid accepted")
	}
}
