package main

// Black-box tests of the vserver command with real guests: each test builds
// a busybox guest root, writes NAME.toml into a temporary config directory
// and drives the built binary (VSERVER_BIN, else built here) with vinit
// (VINIT_BIN, else built here). They need root, cgroup2 and busybox-static.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vserver-go/vserver/internal/cgroup"
	"github.com/vserver-go/vserver/internal/guestroot"
	"github.com/vserver-go/vserver/internal/monitor"
)

var (
	binDir   string
	vserver  string
	vinit    string
	skipWhy  string
	guestSeq atomic.Int32
)

func TestMain(m *testing.M) {
	code := func() int {
		dir, err := os.MkdirTemp("", "vserver-test-bin")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		binDir = dir
		skipWhy = prerequisites()
		return m.Run()
	}()
	os.Exit(code)
}

// prerequisites builds or finds the binaries and says why guests cannot
// run here ("" = they can).
func prerequisites() string {
	if os.Geteuid() != 0 {
		return "needs root to create namespaces and cgroups"
	}
	if _, err := cgroup.Unified(); err != nil {
		return err.Error()
	}
	if _, err := os.Stat(guestroot.Busybox); err != nil {
		return "needs a static busybox (apt-get install busybox-static): " + err.Error()
	}
	build := func(env, pkg, name string) (string, error) {
		if p := os.Getenv(env); p != "" {
			return p, nil
		}
		out := filepath.Join(binDir, name)
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
		}
		return out, nil
	}
	var err error
	if vserver, err = build("VSERVER_BIN", "github.com/vserver-go/vserver/cmd/vserver", "vserver"); err != nil {
		return err.Error()
	}
	if vinit, err = build("VINIT_BIN", "github.com/vserver-go/vserver/cmd/vinit", "vinit"); err != nil {
		return err.Error()
	}
	return ""
}

// env is one test's config, run and log directories and a guest in them.
type env struct {
	t     *testing.T
	dir   string
	dirs  monitor.Dirs
	name  string
	root  string
	trace string // hooks append here
}

func newEnv(t *testing.T) *env {
	t.Helper()
	if skipWhy != "" {
		t.Skip(skipWhy)
	}
	dir := t.TempDir()
	e := &env{t: t, dir: dir, dirs: monitor.Dirs{
		Config: filepath.Join(dir, "conf"), Run: filepath.Join(dir, "run"), Log: filepath.Join(dir, "log")},
		trace: filepath.Join(dir, "trace")}
	for _, d := range []string{e.dirs.Config, e.dirs.Run, e.dirs.Log} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.name = e.newGuest(t)
	return e
}

// newGuest builds one more guest root and returns a fresh name for it;
// cleanup stops it and checks nothing is left.
func (e *env) newGuest(t *testing.T, opts ...guestroot.Option) string {
	name := fmt.Sprintf("vt%d-%d", os.Getpid(), guestSeq.Add(1))
	root := filepath.Join(e.dir, "roots", name)
	if err := guestroot.Build(root, append([]guestroot.Option{guestroot.WithHostname(name)}, opts...)...); err != nil {
		t.Fatal(err)
	}
	if e.root == "" {
		e.root = root
	}
	t.Cleanup(func() { e.cleanup(name) })
	return name
}

func (e *env) rootOf(name string) string { return filepath.Join(e.dir, "roots", name) }

// cleanup stops the guest and removes whatever a failed test left.
func (e *env) cleanup(name string) {
	e.run("", name, "stop")
	if monitor.Running(e.dirs, name) {
		if st, _ := monitor.ReadState(e.dirs, name); st != nil {
			_ = syscall.Kill(st.MonitorPID, syscall.SIGKILL)
		}
	}
	_ = monitor.CleanStale(e.dirs, name, func(string, ...any) {})
}

// config writes NAME.toml: root, hostname and extra.
func (e *env) config(name, extra string) {
	e.t.Helper()
	src := fmt.Sprintf("root = %q\nhostname = %q\n%s\n", e.rootOf(name), name, extra)
	if err := os.WriteFile(filepath.Join(e.dirs.Config, name+".toml"), []byte(src), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs vserver with the test's directories, with a hard timeout.
func (e *env) run(stdin string, args ...string) result {
	cmd := exec.Command(vserver, args...)
	cmd.Env = append(os.Environ(), "VSERVER_CONFIG_DIR="+e.dirs.Config, "VSERVER_RUN_DIR="+e.dirs.Run,
		"VSERVER_LOG_DIR="+e.dirs.Log, "VSERVER_VINIT="+vinit)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Stdin = strings.NewReader(stdin)
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		e.t.Errorf("vserver %v: timed out", args)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
}

func (e *env) mustRun(args ...string) result {
	e.t.Helper()
	r := e.run("", args...)
	if r.code != 0 {
		e.t.Fatalf("vserver %s: exit %d\nstdout: %s\nstderr: %s\nlog:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr,
			monitor.Tail(e.dirs.LogPath(args[0]), 30))
	}
	return r
}

func (e *env) state(name string) *monitor.State {
	e.t.Helper()
	st, err := monitor.ReadState(e.dirs, name)
	if err != nil || st == nil {
		e.t.Fatalf("state of %s: %v, %v", name, st, err)
	}
	return st
}

// traceLines reads the hooks' trace file.
func (e *env) traceLines() []string {
	b, _ := os.ReadFile(e.trace)
	return strings.Fields(strings.ReplaceAll(string(b), " ", "/"))
}

// hookConfig makes every phase append "PHASE/REASON/NAME" to the trace.
func (e *env) hookConfig() string {
	var b strings.Builder
	b.WriteString("[hooks]\n")
	for _, p := range []string{"pre-start", "post-start", "pre-stop", "post-stop"} {
		fmt.Fprintf(&b, "%s = [\"/bin/sh\", \"-c\", \"echo $VSERVER_PHASE $VSERVER_REASON $VSERVER_NAME >> %s\"]\n", p, e.trace)
	}
	return b.String()
}

// assertGone checks that nothing of name is left: monitor, state, cgroups.
func (e *env) assertGone(name string) {
	e.t.Helper()
	if monitor.Running(e.dirs, name) {
		e.t.Errorf("%s: monitor still running", name)
	}
	if st, _ := monitor.ReadState(e.dirs, name); st != nil {
		e.t.Errorf("%s: state file left: %+v", name, st)
	}
	if _, err := os.Lstat(monitor.ExecSocket(e.dirs, name)); err == nil {
		e.t.Errorf("%s: exec socket left", name)
	}
	if _, err := cgroup.Open(monitor.CgroupRel(name)); err == nil {
		e.t.Errorf("%s: cgroup left", name)
	}
	if v1 := cgroup.OpenV1(monitor.CgroupRel(name)); len(v1.Dirs()) > 0 {
		e.t.Errorf("%s: v1 cgroups left: %v", name, v1.Dirs())
	}
}

func pidAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && len(b) > i+2 && b[i+2] != 'Z'
}

func pidNS(pid int) string {
	s, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	return s
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStartStatusStopWithHooks(t *testing.T) {
	e := newEnv(t)
	e.config(e.name, "[stop]\ntimeout = \"5s\"\n"+e.hookConfig())
	// The 2003 per-guest script runs too, first in each phase.
	script := fmt.Sprintf("#!/bin/sh\necho sh-$1 $2 >> %s\n", e.trace)
	if err := os.WriteFile(filepath.Join(e.dirs.Config, e.name+".sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	r := e.mustRun(e.name, "start")
	if !strings.Contains(r.stdout, "started") {
		t.Errorf("start said %q", r.stdout)
	}
	if r := e.run("", e.name, "running"); r.code != 0 {
		t.Errorf("running: exit %d", r.code)
	}
	st := e.state(e.name)
	if st.Phase != monitor.PhaseRunning || st.Boots != 1 || !pidAlive(st.InitPID) || !pidAlive(st.MonitorPID) {
		t.Fatalf("state %+v", st)
	}
	if pidNS(st.InitPID) == pidNS(os.Getpid()) {
		t.Error("vinit is in the host's PID namespace")
	}
	if r := e.run("", e.name, "start"); r.code != monitor.ExitRunning || !strings.Contains(r.stderr, "already running") {
		t.Errorf("second start: exit %d, %q", r.code, r.stderr)
	}
	r = e.mustRun(e.name, "status")
	for _, want := range []string{"state:", "running", fmt.Sprintf("init pid:    %d", st.InitPID), "boots:       1"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, r.stdout)
		}
	}
	r = e.mustRun("list")
	if !regexpLine(r.stdout, e.name, "running") {
		t.Errorf("list:\n%s", r.stdout)
	}

	e.mustRun(e.name, "stop")
	if pidAlive(st.InitPID) || pidAlive(st.MonitorPID) {
		t.Error("vinit or monitor still alive after stop")
	}
	e.assertGone(e.name)
	if r := e.run("", e.name, "running"); r.code != 1 {
		t.Errorf("running after stop: exit %d", r.code)
	}
	if r := e.run("", e.name, "status"); r.code != monitor.ExitNotRunning || !strings.Contains(r.stdout, "stopped") {
		t.Errorf("status after stop: exit %d %q", r.code, r.stdout)
	}
	n := e.name
	want := []string{
		"sh-pre-start/" + n, "pre-start/boot/" + n, "sh-post-start/" + n, "post-start/boot/" + n,
		"sh-pre-stop/" + n, "pre-stop/stop/" + n, "sh-post-stop/" + n, "post-stop/stop/" + n,
	}
	if got := e.traceLines(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("hooks ran\n  %v\nwant\n  %v", got, want)
	}
	// The log has the monitor's story.
	log := monitor.Tail(e.dirs.LogPath(n), 100)
	for _, want := range []string{"guest is ready", "stopping the guest", "guest ended: stop"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if r := e.mustRun(n, "logs", "-n", "2"); strings.Count(r.stdout, "\n") != 2 {
		t.Errorf("logs -n 2 printed %q", r.stdout)
	}
}

func regexpLine(out string, fields ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		ok := len(f) > 0
		for _, want := range fields {
			found := false
			for _, x := range f {
				found = found || x == want
			}
			ok = ok && found
		}
		if ok {
			return true
		}
	}
	return false
}

func TestRebootFromHostStartsAfresh(t *testing.T) {
	e := newEnv(t)
	e.config(e.name, e.hookConfig())
	e.mustRun(e.name, "start")
	before := e.state(e.name)
	// Hold the old PID namespace open, so its inode number cannot be
	// reused by the new one and the comparison below means something.
	oldNS, err := os.Open(fmt.Sprintf("/proc/%d/ns/pid", before.InitPID))
	if err != nil {
		t.Fatal(err)
	}
	defer oldNS.Close()
	ns := pidNS(before.InitPID)
	e.mustRun(e.name, "reboot")
	after := e.state(e.name)
	if after.Boots != 2 || after.InitPID == before.InitPID || after.MonitorPID != before.MonitorPID {
		t.Fatalf("after reboot: %+v (before %+v)", after, before)
	}
	if pidAlive(before.InitPID) {
		t.Error("the old vinit is still alive")
	}
	if pidNS(after.InitPID) == ns {
		t.Error("the rebooted guest kept its PID namespace")
	}
	r := e.mustRun(e.name, "status")
	if !strings.Contains(r.stdout, "reboots: 1") {
		t.Errorf("status:\n%s", r.stdout)
	}
	e.mustRun(e.name, "stop")
	e.assertGone(e.name)
	n := e.name
	want := []string{"pre-start/boot/" + n, "post-start/boot/" + n, "post-stop/reboot/" + n,
		"pre-start/reboot/" + n, "post-start/reboot/" + n, "pre-stop/stop/" + n, "post-stop/stop/" + n}
	if got := e.traceLines(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("hooks ran\n  %v\nwant\n  %v", got, want)
	}
}

func TestHaltEndsTheGuest(t *testing.T) {
	e := newEnv(t)
	e.config(e.name, e.hookConfig())
	e.mustRun(e.name, "start")
	st := e.state(e.name)
	e.mustRun(e.name, "halt")
	if pidAlive(st.InitPID) || pidAlive(st.MonitorPID) {
		t.Error("still alive after halt")
	}
	e.assertGone(e.name)
	got := e.traceLines()
	if len(got) == 0 || got[len(got)-1] != "post-stop/halt/"+e.name {
		t.Errorf("hooks: %v", got)
	}
	for _, l := range got {
		if strings.HasPrefix(l, "pre-stop/") {
			t.Errorf("pre-stop ran for a guest's own halt: %v", got)
		}
	}
	if r := e.run("", e.name, "halt"); r.code != monitor.ExitNotRunning {
		t.Errorf("halt of a stopped guest: exit %d", r.code)
	}
}

func TestPreStartFailureUndoesEverything(t *testing.T) {
	e := newEnv(t)
	e.config(e.name, fmt.Sprintf("[hooks]\npre-start = \"/bin/sh -c 'echo refusing; exit 3'\"\npost-stop = \"/bin/sh -c 'echo post >> %s'\"\n", e.trace))
	r := e.run("", e.name, "start")
	if r.code == 0 {
		t.Fatal("start succeeded despite a failing pre-start hook")
	}
	if !strings.Contains(r.stderr, "pre-start hook") || !strings.Contains(r.stderr, "refusing") {
		t.Errorf("stderr does not explain: %q", r.stderr)
	}
	e.assertGone(e.name)
}

func TestBadConfigIsExitCode4(t *testing.T) {
	e := newEnv(t)
	e.config(e.name, "[limits]\nmemroy = \"1G\"\n")
	r := e.run("", e.name, "start")
	if r.code != monitor.ExitConfig || !strings.Contains(r.stderr, e.name+".toml:4:1: unknown key \"limits.memroy\", did you mean \"limits.memory\"?") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	r = e.run("", "check", e.name)
	if r.code != monitor.ExitConfig || !strings.Contains(r.stderr, ":4:1:") {
		t.Errorf("check: exit %d, stderr %q", r.code, r.stderr)
	}
	e.config(e.name, "")
	r = e.run("", "check", e.name)
	if r.code != 0 || !strings.Contains(r.stdout, e.name+": ok") || !strings.Contains(r.stdout, "kernel: cgroup2:") {
		t.Errorf("check of a good guest: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := e.run("", e.name, "exec", "--", "true"); r.code != monitor.ExitNotRunning || !strings.Contains(r.stderr, "not running") {
		t.Errorf("exec in a stopped guest: exit %d %q", r.code, r.stderr)
	}
}

// A guest whose shutdown hangs (a vinit pre-stop hook that sleeps) is killed
// when its stop timeout runs out.
func TestStopTimeoutKillsTheGuest(t *testing.T) {
	e := newEnv(t)
	hook := "#!/bin/sh\ntrap '' TERM\nsleep 600\n"
	if err := os.MkdirAll(filepath.Join(e.root, "etc/vinit/hooks/pre-stop.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.root, "etc/vinit/hooks/pre-stop.d/hang"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	e.config(e.name, e.hookConfig()+"[stop]\ntimeout = \"1s\"\n")
	e.mustRun(e.name, "start")
	st := e.state(e.name)
	t0 := time.Now()
	e.mustRun(e.name, "stop")
	took := time.Since(t0)
	if took < time.Second || took > 8*time.Second {
		t.Errorf("stop took %v, want just over the 1s timeout", took)
	}
	if pidAlive(st.InitPID) {
		t.Error("vinit alive after stop")
	}
	e.assertGone(e.name)
	log := monitor.Tail(e.dirs.LogPath(e.name), 50)
	if !strings.Contains(log, "did not stop within 1s") {
		t.Errorf("log:\n%s", log)
	}
	if got := e.traceLines(); len(got) == 0 || got[len(got)-1] != "post-stop/stop/"+e.name {
		t.Errorf("hooks: %v", got)
	}
}

// The pids limit holds against a fork bomb started inside the guest.
func TestPidsLimitHoldsAgainstForkBomb(t *testing.T) {
	e := newEnv(t)
	// setsid: vinit kills what a hook leaves in its process group. The
	// hook itself ends when the bomb's shell gives up at its first failed
	// fork.
	bomb := "#!/bin/sh\nsetsid sh -c 'i=0; while [ $i -lt 200 ]; do sleep 300 & i=$((i+1)); done' </dev/null >/dev/console 2>&1\n"
	if err := os.MkdirAll(filepath.Join(e.root, "etc/vinit/hooks/post-start.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.root, "etc/vinit/hooks/post-start.d/bomb"), []byte(bomb), 0o755); err != nil {
		t.Fatal(err)
	}
	e.config(e.name, "[limits]\nprocesses = 20\n")
	e.mustRun(e.name, "start")
	g, err := cgroup.Open(monitor.CgroupRel(e.name))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the fork bomb to hit the limit", func() bool {
		// busybox sh gives up at the first failed fork.
		return strings.Contains(monitor.Tail(e.dirs.LogPath(e.name), 300), "can't fork")
	})
	pids, err := g.Procs()
	if err != nil {
		t.Fatal(err)
	}
	if len(pids) > 20 || len(pids) < 10 {
		t.Errorf("guest has %d processes, want the limit of 20 reached and held", len(pids))
	}
	e.mustRun(e.name, "stop")
	e.assertGone(e.name)
}

// When the monitor is SIGKILLed the guest dies with it, and the next start
// cleans up the state it left.
func TestStaleStateAfterKilledMonitor(t *testing.T) {
	e := newEnv(t)
	e.config(e.name, "")
	e.mustRun(e.name, "start")
	st := e.state(e.name)
	if err := syscall.Kill(st.MonitorPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "vinit to die with its monitor", func() bool { return !pidAlive(st.InitPID) })
	waitFor(t, 10*time.Second, "the lock to be released", func() bool { return !monitor.Running(e.dirs, e.name) })
	if s, _ := monitor.ReadState(e.dirs, e.name); s == nil {
		t.Fatal("no stale state left to clean (test is moot)")
	}
	r := e.mustRun(e.name, "start")
	if !strings.Contains(r.stderr, "removing stale state") {
		t.Errorf("start did not report the cleanup: %q", r.stderr)
	}
	st2 := e.state(e.name)
	if st2.MonitorPID == st.MonitorPID || !pidAlive(st2.InitPID) {
		t.Errorf("new state %+v", st2)
	}
	e.mustRun(e.name, "stop")
	e.assertGone(e.name)
}

func TestStartAllStopAllOrder(t *testing.T) {
	e := newEnv(t)
	a, b, c, off := e.name, e.newGuest(t), e.newGuest(t), e.newGuest(t)
	hook := func(phase string) string {
		return fmt.Sprintf("%s = [\"/bin/sh\", \"-c\", \"echo %s-$VSERVER_NAME >> %s\"]\n", phase, phase, e.trace)
	}
	hooks := "[hooks]\n" + hook("post-start") + hook("pre-stop")
	e.config(a, "onboot = true\npriority = 10\n"+hooks)
	e.config(b, "onboot = true\npriority = 20\n"+hooks)
	e.config(c, "onboot = true\npriority = 20\n"+hooks)
	e.config(off, "priority = 1\n"+hooks)
	e.mustRun("start-all", "-j", "2")
	for _, n := range []string{a, b, c} {
		if !monitor.Running(e.dirs, n) {
			t.Errorf("%s not running after start-all", n)
		}
	}
	if monitor.Running(e.dirs, off) {
		t.Errorf("%s (not onboot) was started", off)
	}
	e.mustRun("stop-all")
	for _, n := range []string{a, b, c} {
		e.assertGone(n)
	}
	got := e.traceLines()
	if len(got) != 6 {
		t.Fatalf("trace %v", got)
	}
	pos := map[string]int{}
	for i, l := range got {
		pos[l] = i
	}
	if pos["post-start-"+a] != 0 || pos["pre-stop-"+a] != 5 {
		t.Errorf("priority 10 must start first and stop last: %v", got)
	}
}

// `vserver NAME run`, as the systemd unit starts it, exits 133 after a
// guest reboot so systemd starts it afresh.
func TestRunExits133AfterReboot(t *testing.T) {
	e := newEnv(t)
	e.config(e.name, "")
	argv := execStart(t, "%i", e.name)
	cmd := exec.Command(vserver, argv[1:]...)
	cmd.Env = append(os.Environ(), "VSERVER_CONFIG_DIR="+e.dirs.Config, "VSERVER_RUN_DIR="+e.dirs.Run,
		"VSERVER_LOG_DIR="+e.dirs.Log, "VSERVER_VINIT="+vinit)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	waitFor(t, 30*time.Second, "the guest to be running", func() bool {
		st, _ := monitor.ReadState(e.dirs, e.name)
		return st != nil && st.Phase == monitor.PhaseRunning
	})
	st := e.state(e.name)
	if st.MonitorPID != cmd.Process.Pid {
		t.Fatalf("monitor pid %d, want the run process %d", st.MonitorPID, cmd.Process.Pid)
	}
	// Under run the monitor exits instead of rebooting in place; nothing
	// restarts it here, and reboot says so.
	if r := e.run("", e.name, "reboot"); r.code != 1 || !strings.Contains(r.stderr, "status 133") {
		t.Errorf("reboot under run: exit %d, %q", r.code, r.stderr)
	}
	select {
	case <-done:
		err := waitErr
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != monitor.ExitReboot {
			t.Fatalf("run ended with %v, want exit %d; stderr %s", err, monitor.ExitReboot, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not exit after the reboot")
	}
	e.assertGone(e.name)
}

// execStart reads ExecStart= of the shipped unit and instantiates it.
func execStart(t *testing.T, spec, instance string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "etc", "systemd", "vserver@.service"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "ExecStart="); ok {
			argv := strings.Fields(strings.ReplaceAll(v, spec, instance))
			if len(argv) < 3 || filepath.Base(argv[0]) != "vserver" {
				t.Fatalf("unexpected ExecStart=%s", v)
			}
			return argv
		}
	}
	t.Fatal("no ExecStart= in vserver@.service")
	return nil
}

// In ipv4root mode a guest's bind to 0.0.0.0 lands on its own address: the
// host reaches its web server there and not on 127.0.0.1; stop detaches
// the programs.
func TestIPv4RootGuestListensOnItsAddress(t *testing.T) {
	e := newEnv(t)
	ip := fmt.Sprintf("127.43.%d.%d", os.Getpid()>>8&0xff, os.Getpid()&0xff|1)
	port := 20000 + os.Getpid()%20000
	hook := fmt.Sprintf("#!/bin/sh\nhttpd -p 0.0.0.0:%d -h /var/www\n", port)
	if err := os.MkdirAll(filepath.Join(e.root, "etc/vinit/hooks/post-start.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.root, "etc/vinit/hooks/post-start.d/web"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	e.config(e.name, fmt.Sprintf("[net]\nips = [%q]\n", ip))
	if r := e.run("", "check", e.name); r.code != 0 {
		t.Skipf("ipv4root is not available here: %s%s", r.stdout, r.stderr)
	}
	e.mustRun(e.name, "start")
	r := e.mustRun(e.name, "status")
	if !strings.Contains(r.stdout, "ipv4root:") || !strings.Contains(r.stdout, "bind4") {
		t.Errorf("status does not show the protections:\n%s", r.stdout)
	}
	client := &http.Client{Timeout: 2 * time.Second}
	get := func(addr string) (string, error) {
		resp, err := client.Get("http://" + addr + "/")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	var body string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("guest log:\n%s", monitor.Tail(e.dirs.LogPath(e.name), 30))
		}
	})
	waitFor(t, 10*time.Second, "the guest's web server on "+ip, func() bool {
		var err error
		body, err = get(fmt.Sprintf("%s:%d", ip, port))
		return err == nil
	})
	if !strings.Contains(body, "hello from "+e.name) {
		t.Errorf("got %q", body)
	}
	if out, err := get(fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
		t.Errorf("the guest's 0.0.0.0 listener is reachable on the host's 127.0.0.1: %q", out)
	}
	st := e.state(e.name)
	e.mustRun(e.name, "stop")
	e.assertGone(e.name)
	if _, err := os.Stat(st.PinDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("BPF pins left in %s: %v", st.PinDir, err)
	}
}
