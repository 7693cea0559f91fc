package main

// exec, enter, ps, kill and --json against real guests (docs/vserver.md).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vserver-go/vserver/internal/cgroup"
	"github.com/vserver-go/vserver/internal/monitor"
	"golang.org/x/sys/unix"
)

// bg is a vserver command running in the background.
type bg struct {
	cmd      *exec.Cmd
	out, err *syncBuffer
	done     chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs vserver in the background with stdin (nil: /dev/null).
func (e *env) start(stdin io.Reader, args ...string) *bg {
	e.t.Helper()
	cmd := exec.Command(vserver, args...)
	cmd.Env = append(os.Environ(), "VSERVER_CONFIG_DIR="+e.dirs.Config, "VSERVER_RUN_DIR="+e.dirs.Run,
		"VSERVER_LOG_DIR="+e.dirs.Log, "VSERVER_VINIT="+vinit)
	b := &bg{cmd: cmd, out: &syncBuffer{}, err: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, b.out, b.err
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(b.done) }()
	e.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-b.done
	})
	return b
}

// wait waits for the command's exit status.
func (b *bg) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-b.done:
		return b.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		t.Fatalf("%v still running after %v; stdout %q stderr %q", b.cmd.Args, d, b.out.String(), b.err.String())
		return -1
	}
}

// guestProcs lists the guest's processes through `vserver NAME ps --json`.
func (e *env) guestProcs(name string) []monitor.Proc {
	e.t.Helper()
	r := e.mustRun(name, "ps", "--json")
	var ps []monitor.Proc
	if err := json.Unmarshal([]byte(r.stdout), &ps); err != nil {
		e.t.Fatalf("ps --json: %v\n%s", err, r.stdout)
	}
	return ps
}

func findProc(ps []monitor.Proc, cmdline string) *monitor.Proc {
	for i := range ps {
		if ps[i].Command == cmdline {
			return &ps[i]
		}
	}
	return nil
}

func TestExecInsideGuest(t *testing.T) {
	e := newEnv(t)
	e.config(e.name, "")
	stopped := e.newGuest(t)
	e.config(stopped, "")
	e.mustRun(e.name, "start")
	st := e.state(e.name)

	t.Run("guest values", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"hostname"}, e.name},
			{[]string{"id", "-u"}, "0"},
			{[]string{"cat", "/proc/1/comm"}, "vinit"},  // checked below
			{[]string{"sh", "-c", "echo $$ $PPID"}, ""}, // checked below
			{[]string{"--user", "nobody", "--", "id", "-u"}, "65534"},
			{[]string{"--user", "nobody", "--", "id", "-G"}, "65534"},
			{[]string{"--user", "nobody", "--", "sh", "-c", "echo $HOME $USER"}, "/nonexistent nobody"},
			{[]string{"--cwd", "/tmp", "--", "sh", "-c", "echo $PWD"}, "/tmp"},
			{[]string{"--env", "GREETING=hello", "--env", "PATH=/bin", "--", "sh", "-c", "echo $GREETING $PATH"}, "hello /bin"},
			// The bounding set is the guest's: no CAP_SYS_ADMIN (bit 21).
			{[]string{"sh", "-c", "grep CapBnd /proc/self/status"}, ""},
		} {
			r := e.run("", append([]string{e.name, "exec"}, tc.args...)...)
			got := strings.TrimSpace(r.stdout)
			if r.code != 0 {
				t.Errorf("exec %v: exit %d, stderr %q", tc.args, r.code, r.stderr)
				continue
			}
			switch {
			case tc.args[0] == "sh" && strings.Contains(tc.args[2], "$PPID"):
				// Started by vinit (guest pid 1), itself a guest pid.
				f := strings.Fields(got)
				if len(f) != 2 || f[1] != "1" {
					t.Errorf("exec's parent in the guest: %q, want pid 1 (vinit)", got)
				}
			case strings.Contains(strings.Join(tc.args, " "), "CapBnd"):
				v, err := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(got, "CapBnd:")), 16, 64)
				if err != nil || v&(1<<21) != 0 || v == 0 {
					t.Errorf("exec'd process has bounding set %q: want the guest's (no CAP_SYS_ADMIN)", got)
				}
			case tc.args[0] == "cat":
				if got != "vinit" {
					t.Errorf("guest pid 1 calls itself %q, want vinit", got)
				}
			case got != tc.want:
				t.Errorf("exec %v: %q, want %q", tc.args, got, tc.want)
			}
		}
	})

	t.Run("the process is in the guest's namespaces and cgroup", func(t *testing.T) {
		b := e.start(nil, e.name, "exec", "--", "sleep", "30")
		var p *monitor.Proc
		waitFor(t, 10*time.Second, "the exec'd sleep in ps", func() bool {
			p = findProc(e.guestProcs(e.name), "sleep 30")
			return p != nil
		})
		for _, ns := range []string{"pid", "mnt", "uts", "ipc", "cgroup", "net"} {
			a, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", p.HostPID, ns))
			v, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", st.InitPID, ns))
			if a == "" || a != v {
				t.Errorf("%s namespace: exec'd %q, vinit %q", ns, a, v)
			}
		}
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", p.HostPID)); err != nil || !strings.HasSuffix(exe, "/bin/busybox") {
			t.Errorf("exec'd process runs %q (%v), want the guest's busybox", exe, err)
		}
		g, err := cgroup.Open(monitor.CgroupRel(e.name))
		if err != nil {
			t.Fatal(err)
		}
		pids, _ := g.Procs()
		if !containsInt(pids, p.HostPID) {
			t.Errorf("exec'd pid %d not in the guest's cgroup %v", p.HostPID, pids)
		}
		if p.PPID != 1 {
			t.Errorf("exec'd process's guest parent is %d, want 1", p.PPID)
		}
		// kill -s TERM by guest pid ends it; exec reports 143.
		e.mustRun(e.name, "kill", "-s", "TERM", strconv.Itoa(p.PID))
		if code := b.wait(t, 10*time.Second); code != 143 {
			t.Errorf("exec of a sleep killed by TERM: exit %d, want 143", code)
		}
	})

	t.Run("exit status", func(t *testing.T) {
		for _, tc := range []struct {
			script string
			want   int
		}{{"exit 0", 0}, {"exit 3", 3}, {"kill -TERM $$", 143}, {"kill -KILL $$", 137}} {
			if r := e.run("", e.name, "exec", "--", "sh", "-c", tc.script); r.code != tc.want {
				t.Errorf("%s: exit %d, want %d (stderr %q)", tc.script, r.code, tc.want, r.stderr)
			}
		}
	})

	t.Run("stdin", func(t *testing.T) {
		// A pipe is passed as it is.
		if r := e.run("hi\nthere\n", e.name, "exec", "--", "cat"); r.code != 0 || r.stdout != "hi\nthere\n" {
			t.Errorf("echo hi | exec cat: exit %d, %q %q", r.code, r.stdout, r.stderr)
		}
		// A regular file is relayed through a fresh pipe: the guest never
		// gets a host file it could reopen through /proc/self/fd.
		f := filepath.Join(e.dir, "input")
		if err := os.WriteFile(f, []byte("from a file\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		in, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		b := e.start(in, e.name, "exec", "--", "sh", "-c", "cat; ls -l /proc/self/fd/0")
		if code := b.wait(t, 20*time.Second); code != 0 || !strings.HasPrefix(b.out.String(), "from a file\n") ||
			!strings.Contains(b.out.String(), "pipe:") || strings.Contains(b.out.String(), f) {
			t.Errorf("exec with a file on stdin: exit %d, %q %q", code, b.out.String(), b.err.String())
		}
	})

	t.Run("errors", func(t *testing.T) {
		r := e.run("", e.name, "exec", "--", "no-such-command")
		if r.code != 127 || !strings.Contains(r.stderr, "no-such-command: command not found") {
			t.Errorf("unknown command: exit %d, %q", r.code, r.stderr)
		}
		r = e.run("", e.name, "exec", "--", "/etc/passwd")
		if r.code != 126 {
			t.Errorf("not executable: exit %d, %q", r.code, r.stderr)
		}
		r = e.run("", e.name, "exec", "--user", "nosuchuser", "--", "id")
		if r.code == 0 || !strings.Contains(r.stderr, `unknown user "nosuchuser"`) {
			t.Errorf("unknown user: exit %d, %q", r.code, r.stderr)
		}
		r = e.run("", e.name, "exec", "--cwd", "/nonexistent", "--", "true")
		if r.code == 0 || !strings.Contains(r.stderr, "working directory") {
			t.Errorf("missing cwd: exit %d, %q", r.code, r.stderr)
		}
		r = e.run("", e.name, "exec", "--env", "1BAD=x", "--", "true")
		if r.code != monitor.ExitUsage {
			t.Errorf("bad --env: exit %d, %q", r.code, r.stderr)
		}
		r = e.run("", stopped, "exec", "--", "true")
		if r.code != monitor.ExitNotRunning || !strings.Contains(r.stderr, "not running") {
			t.Errorf("exec in a stopped guest: exit %d, %q", r.code, r.stderr)
		}
		r = e.run("", stopped, "enter")
		if r.code == 0 {
			t.Errorf("enter without a terminal: exit 0")
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		var bs []*bg
		for i := range 5 {
			bs = append(bs, e.start(strings.NewReader(fmt.Sprintf("in-%d\n", i)), e.name, "exec", "--",
				"sh", "-c", fmt.Sprintf("sleep 0.3; read x; echo $x-$(hostname); exit %d", 10+i)))
		}
		for i, b := range bs {
			want := fmt.Sprintf("in-%d-%s\n", i, e.name)
			if code := b.wait(t, 30*time.Second); code != 10+i || b.out.String() != want {
				t.Errorf("exec %d: exit %d, %q (want %d, %q), stderr %q", i, code, b.out.String(), 10+i, want, b.err.String())
			}
		}
	})

	t.Run("signals reach the process", func(t *testing.T) {
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
			b := e.start(nil, e.name, "exec", "--", "sh", "-c", "echo started; exec sleep 30")
			waitFor(t, 10*time.Second, "the exec'd shell to start", func() bool { return strings.Contains(b.out.String(), "started") })
			if err := b.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if code := b.wait(t, 10*time.Second); code != 128+int(sig) {
				t.Errorf("%v to the client: exit %d, want %d", sig, code, 128+int(sig))
			}
		}
		waitFor(t, 10*time.Second, "the killed sleeps to be reaped", func() bool {
			return findProc(e.guestProcs(e.name), "sleep 30") == nil
		})
	})

	t.Run("client gone", func(t *testing.T) {
		// stdin is a terminal, so the client relays it through a pipe:
		// when the client dies, the process's stdin closes (cat ends),
		// and the monitor goes on serving.
		_, slave := openHostPTY(t)
		b := e.start(slave, e.name, "exec", "--", "sh", "-c", "cat; echo cat-ended > /tmp/gone")
		waitFor(t, 10*time.Second, "cat in the guest", func() bool { return findProc(e.guestProcs(e.name), "cat") != nil })
		_ = b.cmd.Process.Kill()
		b.wait(t, 10*time.Second)
		waitFor(t, 10*time.Second, "cat to end", func() bool {
			r := e.run("", e.name, "exec", "--", "cat", "/tmp/gone")
			return strings.TrimSpace(r.stdout) == "cat-ended"
		})
	})

	t.Run("ps and kill", func(t *testing.T) {
		ps := e.guestProcs(e.name)
		if len(ps) == 0 || ps[0].PID != 1 || ps[0].HostPID != st.InitPID || ps[0].PPID != 0 {
			t.Fatalf("ps: first process %+v, want vinit as guest pid 1, host pid %d", ps, st.InitPID)
		}
		r := e.mustRun(e.name, "ps")
		if !regexp.MustCompile(`(?m)^1\s+0\s+0\s+\S+\s+\S+\s+` + strconv.Itoa(st.InitPID) + `\s+vinit`).MatchString(r.stdout) {
			t.Errorf("ps:\n%s", r.stdout)
		}
		// A pid that is not the guest's is refused, whatever it is on the host.
		outside := 4000000
		if r := e.run("", e.name, "kill", strconv.Itoa(outside)); r.code == 0 || !strings.Contains(r.stderr, "has no process") {
			t.Errorf("kill of a pid outside the guest: exit %d, %q", r.code, r.stderr)
		}
		if r := e.run("", e.name, "kill", "-s", "NOSUCH", "2"); r.code != monitor.ExitUsage {
			t.Errorf("bad signal: exit %d", r.code)
		}
		// kill all: every process but vinit.
		b1 := e.start(nil, e.name, "exec", "--", "sleep", "31")
		b2 := e.start(nil, e.name, "exec", "--", "sleep", "32")
		waitFor(t, 10*time.Second, "two sleeps", func() bool {
			ps := e.guestProcs(e.name)
			return findProc(ps, "sleep 31") != nil && findProc(ps, "sleep 32") != nil
		})
		r = e.mustRun(e.name, "kill", "-s", "KILL", "all")
		if !strings.Contains(r.stdout, "to 2 processes") {
			t.Errorf("kill all: %q", r.stdout)
		}
		if c1, c2 := b1.wait(t, 10*time.Second), b2.wait(t, 10*time.Second); c1 != 137 || c2 != 137 {
			t.Errorf("kill -s KILL all: exec statuses %d %d", c1, c2)
		}
		if !pidAlive(st.InitPID) {
			t.Fatal("kill all killed vinit")
		}
	})

	t.Run("json", func(t *testing.T) {
		r := e.mustRun("list", "--json")
		var list []guestJSON
		if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
			t.Fatalf("list --json: %v\n%s", err, r.stdout)
		}
		seen := map[string]guestJSON{}
		for _, g := range list {
			seen[g.Name] = g
		}
		g, ok := seen[e.name]
		if !ok || !g.Running || g.State != monitor.PhaseRunning || g.Processes < 1 || g.InitPID != st.InitPID || g.NetMode == "" {
			t.Errorf("list --json entry of %s: %+v", e.name, g)
		}
		if s, ok := seen[stopped]; !ok || s.Running || s.State != "stopped" {
			t.Errorf("list --json entry of the stopped guest: %+v", s)
		}
		r = e.mustRun(e.name, "status", "--json")
		var one guestJSON
		if err := json.Unmarshal([]byte(r.stdout), &one); err != nil || one.Name != e.name || !one.Running || one.Boots != 1 {
			t.Errorf("status --json: %v %+v", err, one)
		}
		if r := e.run("", stopped, "status", "--json"); r.code != monitor.ExitNotRunning || !strings.Contains(r.stdout, `"running": false`) {
			t.Errorf("status --json of a stopped guest: exit %d %q", r.code, r.stdout)
		}
		if r := e.mustRun("list"); !regexpLine(r.stdout, e.name, "running", "none") {
			t.Errorf("list lacks the network mode:\n%s", r.stdout)
		}
	})

	t.Run("exec needs the monitor's socket and root", func(t *testing.T) {
		fi, err := os.Stat(monitor.ExecSocket(e.dirs, e.name))
		if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
			t.Fatalf("exec socket: %v %v", fi, err)
		}
		// A non-root client is refused even if the file mode let it in.
		sock := monitor.ExecSocket(e.dirs, e.name)
		if err := os.Chmod(sock, 0o666); err != nil {
			t.Fatal(err)
		}
		for d := e.dirs.Run; strings.HasPrefix(d, e.dir) || d == filepath.Dir(e.dir); d = filepath.Dir(d) {
			if err := os.Chmod(d, 0o755); err != nil { // test directories only
				t.Fatal(err)
			}
		}
		reply, err := talkAs(65534, sock, `{"id":1,"op":"exec","exec":{"tty":true}}`+"\n")
		if err != nil {
			t.Fatal(err)
		}
		if reply != "" {
			t.Errorf("uid 65534 got an answer: %q", reply)
		}
		waitFor(t, 5*time.Second, "the monitor to log the refusal", func() bool {
			return strings.Contains(monitor.Tail(e.dirs.LogPath(e.name), 20), "refused a connection from uid 65534")
		})
	})

	e.mustRun(e.name, "stop")
	if _, err := os.Stat(monitor.ExecSocket(e.dirs, e.name)); err == nil {
		t.Error("exec socket left after stop")
	}
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// openHostPTY opens a pty on the host: the "user's terminal" of a test.
func openHostPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no ptys: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

var (
	stiOnce sync.Once
	stiBin  string
	stiErr  error
)

// tiocstiHelper builds testdata/tiocsti as a static binary.
func tiocstiHelper(t *testing.T) string {
	t.Helper()
	stiOnce.Do(func() {
		out := filepath.Join(binDir, "tiocsti")
		cmd := exec.Command("go", "build", "-o", out, "./testdata/tiocsti")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			stiErr = fmt.Errorf("go build tiocsti: %v\n%s", err, b)
			return
		}
		stiBin = out
	})
	if stiErr != nil {
		t.Fatal(stiErr)
	}
	return stiBin
}

// TestEnterThroughGuestPTY runs `vserver NAME enter` on a pty of the test
// (the user's terminal) and types into it.
func TestEnterThroughGuestPTY(t *testing.T) {
	e := newEnv(t)
	e.config(e.name, "")
	bin, err := os.ReadFile(tiocstiHelper(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.root, "bin/tiocsti"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	e.mustRun(e.name, "start")

	master, slave := openHostPTY(t)
	if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 30, Col: 100}); err != nil {
		t.Fatal(err)
	}
	before, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(vserver, e.name, "enter")
	cmd.Env = append(os.Environ(), "VSERVER_CONFIG_DIR="+e.dirs.Config, "VSERVER_RUN_DIR="+e.dirs.Run,
		"VSERVER_LOG_DIR="+e.dirs.Log, "TERM=vt100")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	var out syncBuffer
	go func() { _, _ = io.Copy(&out, master) }()
	expect := func(what string) {
		t.Helper()
		waitFor(t, 10*time.Second, fmt.Sprintf("%q on the terminal (have %q)", what, out.String()), func() bool {
			return strings.Contains(out.String(), what)
		})
	}
	typeLine := func(s string) {
		t.Helper()
		if _, err := master.Write([]byte(s + "\r")); err != nil {
			t.Fatal(err)
		}
	}
	expect("# ")
	typeLine(`echo $((6*7)); stty size; echo "term=$TERM tty=$(tty)"`)
	expect("42")
	expect("30 100")
	expect("term=vt100 tty=/dev/pts/")

	// The guest's processes hold the guest's pty, never the host terminal.
	var hostTTY unix.Stat_t
	if err := unix.Fstat(int(slave.Fd()), &hostTTY); err != nil {
		t.Fatal(err)
	}
	var hostPts unix.Stat_t
	if err := unix.Stat("/dev/pts", &hostPts); err != nil {
		t.Fatal(err)
	}
	ps := e.guestProcs(e.name)
	shell := findProc(ps, "-sh")
	if shell == nil {
		t.Fatalf("no login shell in ps: %+v", ps)
	}
	for _, p := range ps {
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.HostPID))
		for _, fd := range fds {
			path := fmt.Sprintf("/proc/%d/fd/%s", p.HostPID, fd.Name())
			var st unix.Stat_t
			if unix.Stat(path, &st) != nil {
				continue
			}
			if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == hostTTY.Rdev {
				link, _ := os.Readlink(path)
				t.Errorf("guest pid %d (%s) holds the host terminal on fd %s (%s)", p.PID, p.Command, fd.Name(), link)
			}
		}
	}
	link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/0", shell.HostPID))
	var shellTTY unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/fd/0", shell.HostPID), &shellTTY); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(link, "/dev/pts/") || shellTTY.Dev == hostPts.Dev || unix.Major(shellTTY.Rdev) != 136 {
		t.Errorf("the shell's stdin is %s (dev %d, rdev %d:%d): want a pty of the guest's own devpts (the host's is dev %d)",
			link, shellTTY.Dev, unix.Major(shellTTY.Rdev), unix.Minor(shellTTY.Rdev), hostPts.Dev)
	}

	// Window size changes follow (SIGWINCH to the client).
	if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 120}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the new window size in the guest", func() bool {
		typeLine("stty size")
		time.Sleep(100 * time.Millisecond)
		return strings.Contains(out.String(), "40 120")
	})

	// TIOCSTI from inside types into the guest's pty (the shell runs the
	// injected line), not into the host terminal.
	typeLine(`/bin/tiocsti 'echo sti-$((3*5))'`)
	expect("sti-15")
	typeLine("exit")
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("enter did not end after exit; terminal: %q", out.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("enter: exit %d; terminal: %q", code, out.String())
	}
	after, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if *after != *before {
		t.Errorf("terminal not restored:\n before %+v\n after  %+v", before, after)
	}
	// Nothing was pushed into the host terminal's input.
	if n, err := unix.IoctlGetInt(int(slave.Fd()), unix.TIOCINQ); err != nil || n != 0 {
		t.Errorf("host terminal has %d bytes of pending input (%v): injected from the guest?", n, err)
	}
	waitFor(t, 10*time.Second, "the login shell to be gone", func() bool { return findProc(e.guestProcs(e.name), "-sh") == nil })

	// A client that dies hangs up the guest's pty: the shell gets SIGHUP.
	_, slave2 := openHostPTY(t)
	cmd2 := exec.Command(vserver, e.name, "enter")
	cmd2.Env = cmd.Env
	cmd2.Stdin, cmd2.Stdout, cmd2.Stderr = slave2, slave2, slave2
	cmd2.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd2.Start(); err != nil {
		t.Fatal(err)
	}
	done2 := make(chan struct{})
	go func() { _ = cmd2.Wait(); close(done2) }()
	t.Cleanup(func() { _ = cmd2.Process.Kill(); <-done2 })
	waitFor(t, 10*time.Second, "the second login shell", func() bool { return findProc(e.guestProcs(e.name), "-sh") != nil })
	_ = cmd2.Process.Kill()
	<-done2
	waitFor(t, 10*time.Second, "the shell of a killed client to end", func() bool { return findProc(e.guestProcs(e.name), "-sh") == nil })
}

// talkAs connects to the unix socket at path as uid (on a thread of its
// own that then dies), sends msg and returns what comes back until EOF.
func talkAs(uid int, path, msg string) (string, error) {
	type result struct {
		s   string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with its changed uid
		if _, _, e := syscall.RawSyscall(syscall.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)); e != 0 {
			ch <- result{err: fmt.Errorf("setresuid: %w", e)}
			return
		}
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer unix.Close(fd)
		if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
			ch <- result{err: fmt.Errorf("connect as uid %d: %w", uid, err)}
			return
		}
		_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 5})
		if _, err := unix.Write(fd, []byte(msg)); err != nil {
			ch <- result{} // closed already: refused
			return
		}
		var got []byte
		buf := make([]byte, 4096)
		for {
			n, err := unix.Read(fd, buf)
			if n <= 0 || err != nil {
				break
			}
			got = append(got, buf[:n]...)
		}
		ch <- result{s: string(got)}
	}()
	r := <-ch
	return r.s, r.err
}
