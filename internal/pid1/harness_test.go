package pid1

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The tests run the real vinit binary as PID 1 of a new PID namespace: the
// test binary re-executes itself with CLONE_NEWPID|CLONE_NEWNS; that copy is
// PID 1, makes its mounts private, mounts a fresh /proc and executes vinit,
// which so becomes PID 1 with the namespace to itself.

const stageEnv = "PID1_TEST_STAGE"

func TestMain(m *testing.M) {
	if os.Getenv(stageEnv) != "" {
		nsStage()
		return
	}
	code := m.Run()
	if vinitBuiltHere != "" {
		os.RemoveAll(filepath.Dir(vinitBuiltHere))
	}
	os.Exit(code)
}

func nsStage() {
	fail := func(what string, err error) {
		fmt.Fprintf(os.Stderr, "test stage: %s: %v\n", what, err)
		os.Exit(120)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		fail("make mounts private", err)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		fail("mount /proc", err)
	}
	if os.Getenv("PID1_TEST_DROP_SYS_BOOT") != "" {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, unix.CAP_SYS_BOOT, 0, 0, 0); err != nil {
			fail("drop CAP_SYS_BOOT", err)
		}
	}
	args := strings.Split(os.Getenv(stageEnv), "\x1f")
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "VINIT_") || strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			env = append(env, kv)
		}
	}
	err := syscall.Exec(args[0], args, env)
	fail("exec "+args[0], err)
}

var (
	vinitOnce      sync.Once
	vinitPath      string
	vinitBuiltHere string
	vinitErr       error
)

// vinitBin is the binary under test: $VINIT_BIN (make test sets it), else
// one built from ./cmd/vinit for this run.
func vinitBin(t *testing.T) string {
	t.Helper()
	vinitOnce.Do(func() {
		if p := os.Getenv("VINIT_BIN"); p != "" {
			vinitPath = p
			return
		}
		dir, err := os.MkdirTemp("", "vinit-test-bin")
		if err != nil {
			vinitErr = err
			return
		}
		out := filepath.Join(dir, "vinit")
		cmd := exec.Command("go", "build", "-o", out, "../../cmd/vinit")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			vinitErr = fmt.Errorf("build vinit: %v\n%s", err, b)
			return
		}
		vinitPath, vinitBuiltHere = out, out
	})
	if vinitErr != nil {
		t.Fatal(vinitErr)
	}
	return vinitPath
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: vinit is tested as PID 1 of a new PID namespace")
	}
}

// guest is one vinit running as PID 1 of its own PID namespace.
type guest struct {
	t       *testing.T
	cmd     *exec.Cmd
	out     *syncBuf
	mon     *os.File // our end of the monitor channel
	monR    *bufio.Reader
	done    chan struct{}
	ws      syscall.WaitStatus
	dir     string // scratch: config, sockets, logs
	control string
}

type guestOpts struct {
	args         []string // after "vinit"
	dropSysBoot  bool
	stdio        *os.File // terminal for stdin/stdout/stderr
	notifySocket string
	noMonitor    bool
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startGuest starts vinit in supervisor mode with a scratch config dir
// (dir/cfg), control socket dir/ctl.sock and no /dev/reboot unless args say.
func startGuest(t *testing.T, dir string, o guestOpts) *guest {
	t.Helper()
	needRoot(t)
	bin := vinitBin(t)
	g := &guest{t: t, out: &syncBuf{}, done: make(chan struct{}), dir: dir, control: filepath.Join(dir, "ctl.sock")}
	args := append([]string{bin, "--config", filepath.Join(dir, "cfg"), "--control", g.control}, o.args...)
	if !strings.Contains(strings.Join(o.args, " "), "--reboot-socket") {
		args = append(args, "--reboot-socket", "none")
	}
	g.cmd = exec.Command("/proc/self/exe")
	g.cmd.Env = append(os.Environ(), stageEnv+"="+strings.Join(args, "\x1f"))
	if o.dropSysBoot {
		g.cmd.Env = append(g.cmd.Env, "PID1_TEST_DROP_SYS_BOOT=1")
	}
	if o.notifySocket != "" {
		g.cmd.Env = append(g.cmd.Env, "NOTIFY_SOCKET="+o.notifySocket)
	}
	if !o.noMonitor {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		g.mon = os.NewFile(uintptr(fds[0]), "monitor")
		theirs := os.NewFile(uintptr(fds[1]), "monitor-vinit")
		defer theirs.Close()
		g.monR = bufio.NewReader(g.mon)
		g.cmd.ExtraFiles = []*os.File{theirs}
		g.cmd.Env = append(g.cmd.Env, "VINIT_MONITOR_FD=3")
	}
	if o.stdio != nil {
		g.cmd.Stdin, g.cmd.Stdout, g.cmd.Stderr = o.stdio, o.stdio, o.stdio
	} else {
		g.cmd.Stdout, g.cmd.Stderr = g.out, g.out
	}
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWPID | unix.CLONE_NEWNS, Setsid: o.stdio != nil, Setctty: o.stdio != nil}
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = g.cmd.Wait()
		g.ws = g.cmd.ProcessState.Sys().(syscall.WaitStatus)
		close(g.done)
	}()
	t.Cleanup(func() {
		_ = g.cmd.Process.Signal(syscall.SIGKILL) // kills the whole namespace
		<-g.done
		if g.mon != nil {
			g.mon.Close()
		}
		if t.Failed() {
			t.Logf("vinit output:\n%s", g.out.String())
		}
	})
	return g
}

// event waits for the next event line from vinit on the monitor channel.
func (g *guest) event(d time.Duration) string {
	g.t.Helper()
	_ = g.mon.SetReadDeadline(time.Now().Add(d))
	line, err := g.monR.ReadString('\n')
	if err != nil {
		g.t.Fatalf("waiting for an event from vinit: %v (got %q)", err, line)
	}
	return strings.TrimSpace(line)
}

func (g *guest) waitReady() {
	g.t.Helper()
	if ev := g.event(10 * time.Second); ev != `{"event":"ready"}` {
		g.t.Fatalf("first event %q, want ready", ev)
	}
}

// wait waits for vinit to end and returns how.
func (g *guest) wait(d time.Duration) syscall.WaitStatus {
	g.t.Helper()
	select {
	case <-g.done:
		return g.ws
	case <-time.After(d):
		g.t.Fatalf("vinit still running after %v", d)
		return 0
	}
}

// client runs a vinit client command against this guest's control socket.
func (g *guest) client(args ...string) (string, error) {
	cmd := exec.Command(vinitBin(g.t), append(args, "--control", g.control)...)
	cmd.Env = append(os.Environ(), "VINIT_JSON=1")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (g *guest) signal(sig unix.Signal) {
	g.t.Helper()
	if err := unix.Kill(g.cmd.Process.Pid, sig); err != nil {
		g.t.Fatal(err)
	}
}

// hook writes an executable hook script into the guest's config.
func hook(t *testing.T, dir, phase, name, body string) {
	t.Helper()
	d := filepath.Join(dir, "cfg", "hooks", phase+".d")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// poll waits for cond with a deadline.
func poll(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func killedBy(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + SignalName(unix.Signal(ws.Signal()))
	}
	return fmt.Sprintf("exit status %d", ws.ExitStatus())
}
