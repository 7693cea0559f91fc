package control

import (
	"errors"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseExecRequest(t *testing.T) {
	for _, tc := range []struct {
		in, err string
	}{
		{in: `{"id":1,"op":"exec","exec":{"argv":["id","-u"],"user":"nobody","cwd":"/tmp","env":["A=1","_x2=y=z"]}}`},
		{in: `{"id":1,"op":"exec","exec":{"tty":true,"rows":24,"cols":80}}`},
		{in: `{"id":1,"op":"exec","exec":{"argv":["sh"],"user":"65534"}}`},
		{in: `{"id":2,"op":"signal","target":1,"signal":15}`},
		{in: `{"op":"exec"}`, err: "exec: no command"},
		{in: `{"op":"exec","exec":{}}`, err: "exec: no command"},
		{in: `{"op":"exec","exec":{"argv":[""]}}`, err: "exec: empty command name"},
		{in: `{"op":"exec","exec":{"argv":["a\u0000b"]}}`, err: "exec: argument 0 contains a NUL byte"},
		{in: `{"op":"exec","exec":{"argv":["x"],"env":["NOEQUALS"]}}`, err: `exec: bad environment entry "NOEQUALS"`},
		{in: `{"op":"exec","exec":{"argv":["x"],"env":["1A=2"]}}`, err: `exec: bad environment entry "1A=2"`},
		{in: `{"op":"exec","exec":{"argv":["x"],"env":["A-B=2"]}}`, err: `exec: bad environment entry`},
		{in: `{"op":"exec","exec":{"argv":["x"],"env":["=v"]}}`, err: `exec: bad environment entry`},
		{in: `{"op":"exec","exec":{"argv":["x"],"user":"../root"}}`, err: `exec: bad user name "../root"`},
		{in: `{"op":"exec","exec":{"argv":["x"],"user":"a b"}}`, err: `exec: bad user name`},
		{in: `{"op":"exec","exec":{"argv":["x"],"user":"-r"}}`, err: `exec: bad user name`},
		{in: `{"op":"exec","exec":{"argv":["x"],"cwd":"tmp"}}`, err: `exec: working directory "tmp" is not an absolute path`},
		{in: `{"op":"exec","exec":{"argv":["x"],"rows":70000}}`, err: "bad request: json: cannot unmarshal number 70000"},
		{in: `{"op":"exec","exec":{"argv":["x"],"bogus":1}}`, err: `bad request: json: unknown field "bogus"`},
		{in: `{"op":"exec","exec":{"argv":["x"]},"signal":9}`, err: "exec: takes no target or signal"},
		{in: `{"op":"signal","signal":9}`, err: "signal: a target"},
		{in: `{"op":"signal","target":3,"signal":0}`, err: "signal: bad signal number 0"},
		{in: `{"op":"signal","target":3,"signal":65}`, err: "signal: bad signal number 65"},
		{in: `{"op":"signal","target":3,"signal":-1}`, err: "signal: bad signal number -1"},
		{in: `{"op":"signal","target":3,"signal":2,"exec":{"argv":["x"]}}`, err: "signal: takes no command"},
		{in: `{"op":"status","target":3}`, err: "status: takes no command, target or signal"},
		{in: `{"op":"ping","exec":{"argv":["x"]}}`, err: "ping: takes no command, target or signal"},
		{in: `{"op":"exec","name":"web","exec":{"argv":["x"]}}`, err: "exec: takes no service name"},
	} {
		_, err := ParseRequest([]byte(tc.in))
		if tc.err == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.in, err)
			}
			continue
		}
		if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
			t.Errorf("%s: err = %v, want %q", tc.in, err, tc.err)
		}
	}
}

func TestExecLimits(t *testing.T) {
	many := make([]string, MaxArgs+1)
	for i := range many {
		many[i] = "a"
	}
	if err := (&Exec{Argv: many}).Validate(); err == nil {
		t.Error("too many arguments accepted")
	}
	big := strings.Repeat("x", MaxExecSize)
	if err := (&Exec{Argv: []string{"echo", big}}).Validate(); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized argv: %v", err)
	}
	if err := (&Exec{Argv: []string{"x"}, Env: []string{"A=" + big}}).Validate(); err == nil {
		t.Error("oversized env accepted")
	}
	if err := (&Exec{Argv: []string{"x"}, User: strings.Repeat("u", 33)}).Validate(); err == nil {
		t.Error("33-byte user name accepted")
	}
	if !ValidUser("www-data") || !ValidUser("host$") || ValidUser("$") || ValidUser("") {
		t.Error("ValidUser")
	}
}

func TestParseExitEvent(t *testing.T) {
	ev, _, err := ParseEvent(Marshal(ExitEvent(7, 143))[:len(Marshal(ExitEvent(7, 143)))-1])
	if err != nil || ev == nil {
		t.Fatalf("%v %v", ev, err)
	}
	if id, st, err := ParseExitEvent(ev); err != nil || id != 7 || st != 143 {
		t.Fatalf("exit event: %d %d %v", id, st, err)
	}
	for _, bad := range []string{`{"event":"exit","id":7}`, `{"event":"exit","status":1}`,
		`{"event":"exit","id":7,"status":256}`, `{"event":"exit","id":7,"status":-1}`, `{"event":"ready","id":7,"status":1}`} {
		ev, _, err := ParseEvent([]byte(bad))
		if err != nil {
			continue
		}
		if _, _, err := ParseExitEvent(ev); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func FuzzParseExecRequest(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"op":"exec","exec":{"argv":["id","-u"],"user":"nobody","cwd":"/tmp","env":["A=1"]}}`,
		`{"id":1,"op":"exec","exec":{"tty":true,"rows":24,"cols":80}}`,
		`{"id":2,"op":"signal","target":1,"signal":15}`,
		`{"op":"exec","exec":{"argv":["a\u0000"]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRequest(data)
		if err != nil {
			return
		}
		switch r.Op {
		case "exec":
			if r.Exec == nil || r.Exec.Validate() != nil {
				t.Fatalf("accepted a bad exec: %+v", r.Exec)
			}
			if len(r.Exec.Argv) == 0 && !r.Exec.TTY {
				t.Fatal("accepted an exec without command")
			}
			for _, kv := range r.Exec.Env {
				if !ValidEnv(kv) {
					t.Fatalf("accepted env %q", kv)
				}
			}
			for _, a := range r.Exec.Argv {
				if strings.IndexByte(a, 0) >= 0 {
					t.Fatalf("accepted a NUL in %q", a)
				}
			}
			if r.Exec.User != "" && !ValidUser(r.Exec.User) {
				t.Fatalf("accepted user %q", r.Exec.User)
			}
		case "signal":
			if r.Target == 0 || r.Signal < 1 || r.Signal > MaxSignal || r.Exec != nil {
				t.Fatalf("accepted a bad signal request %+v", r)
			}
		default:
			if r.Exec != nil || r.Target != 0 || r.Signal != 0 {
				t.Fatalf("accepted exec fields on %q", r.Op)
			}
		}
	})
}

// socketPair returns two connected MsgConns.
func socketPair(t *testing.T) (*MsgConn, *MsgConn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out [2]*MsgConn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "pair")
		m, err := FileMsgConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = m
	}
	t.Cleanup(func() { out[0].Close(); out[1].Close() })
	for _, m := range out {
		_ = m.Conn().SetDeadline(time.Now().Add(10 * time.Second))
	}
	return out[0], out[1]
}

// fdInode identifies the open file behind f.
func fdInode(t *testing.T, f *os.File) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestMsgConnFDsStayWithTheirLine(t *testing.T) {
	a, b := socketPair(t)
	r1, w1, _ := os.Pipe()
	r2, w2, _ := os.Pipe()
	defer CloseFiles([]*os.File{r1, w1, r2, w2})
	big := `{"x":"` + strings.Repeat("y", 20000) + `"}` + "\n" // several reads on the other side
	sent := make(chan struct{})
	defer func() { <-sent }() // before the files are closed
	go func() {
		defer close(sent)
		_ = a.Write([]byte("plain-1\n"))
		_ = a.Write([]byte(big), r1, w1)
		_ = a.Write([]byte("plain-2\n"))
		_ = a.Write([]byte("two-lines\nsecond\n"), r2) // the fd goes with the line holding the read's end
		_ = a.Write([]byte("last\n"), w2)
	}()
	expect := func(want string, inodes ...uint64) {
		t.Helper()
		line, fds, err := b.Read()
		if err != nil {
			t.Fatalf("read %q: %v", want, err)
		}
		defer CloseFiles(fds)
		if !strings.HasPrefix(string(line), want) {
			t.Fatalf("line %q, want %q", truncate(string(line), 30), want)
		}
		if len(fds) != len(inodes) {
			t.Fatalf("line %q came with %d fds, want %d", want, len(fds), len(inodes))
		}
		for i, f := range fds {
			if got := fdInode(t, f); got != inodes[i] {
				t.Fatalf("line %q fd %d: inode %d, want %d", want, i, got, inodes[i])
			}
		}
	}
	expect("plain-1")
	expect(`{"x":"yyy`, fdInode(t, r1), fdInode(t, w1))
	expect("plain-2")
	// "two-lines\nsecond\n" arrives in one read: its fd belongs to the
	// line with the read's last byte, "second". Receivers check the count
	// they expect per message, so a peer gains nothing by this.
	expect("two-lines")
	expect("second", fdInode(t, r2))
	expect("last", fdInode(t, w2))
}

func TestMsgConnOversizedLineLosesItsFDs(t *testing.T) {
	a, b := socketPair(t)
	r, w, _ := os.Pipe()
	defer r.Close()
	go func() {
		_ = a.Write([]byte(strings.Repeat("z", MaxLine+100)+"\n"), w)
		w.Close()
		_ = a.Write([]byte("after\n"))
		_ = a.Write([]byte("partial"))
		a.Close()
	}()
	if _, fds, err := b.Read(); !errors.Is(err, ErrLineTooLong) || fds != nil {
		t.Fatalf("oversized line: %v, %d fds", err, len(fds))
	}
	line, fds, err := b.Read()
	if err != nil || string(line) != "after" || len(fds) != 0 {
		t.Fatalf("after the long line: %q %d %v", line, len(fds), err)
	}
	if _, _, err := b.Read(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("partial: %v", err)
	}
	// The pipe's write end was closed everywhere: we did not keep a copy.
	_ = r.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := r.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("the dropped fd is still open somewhere: %d %v", n, err)
	}
}

func TestCheckFDs(t *testing.T) {
	r, w, _ := os.Pipe()
	defer r.Close()
	if _, err := CheckFDs([]*os.File{w}, 3); !errors.Is(err, ErrFDCount) {
		t.Fatalf("err %v", err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("CheckFDs kept an unexpected fd open")
	}
	got, err := CheckFDs([]*os.File{r}, 1)
	if err != nil || len(got) != 1 {
		t.Fatal(err)
	}
}

func FuzzMsgConnRead(f *testing.F) {
	f.Add([]byte("{\"event\":\"ready\"}\n{\"id\":1,\"ok\":true}\n"), uint8(3))
	f.Add([]byte("\n\n\xffpartial"), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		w := os.NewFile(uintptr(fds[0]), "w")
		rf := os.NewFile(uintptr(fds[1]), "r")
		r, err := FileMsgConn(rf)
		rf.Close()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		go func() {
			defer w.Close()
			step := int(chunk)%7 + 1
			for i := 0; i < len(data); i += step {
				if _, err := w.Write(data[i:min(i+step, len(data))]); err != nil {
					return
				}
			}
		}()
		_ = r.Conn().SetReadDeadline(time.Now().Add(5 * time.Second))
		for n := 0; n <= len(data)+1; n++ {
			line, got, err := r.Read()
			if len(got) != 0 {
				t.Fatalf("fds from nowhere: %d", len(got))
			}
			if len(line) > MaxLine || strings.Contains(string(line), "\n") {
				t.Fatalf("bad line of %d bytes", len(line))
			}
			if err != nil && !errors.Is(err, ErrLineTooLong) {
				return
			}
		}
		t.Fatal("more lines than bytes")
	})
}
