package soak

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vserver-go/vserver/internal/cgroup"
	"github.com/vserver-go/vserver/internal/guestroot"
	"github.com/vserver-go/vserver/internal/monitor"
)

// scale is how much work one soak run does.
type scale struct {
	Orphans, Crashes, Execs, Reboots int
}

// The warm-up before the baseline.
const (
	warmExecs   = 300
	warmCrashes = 20
	warmReboots = 30
)

var (
	short = scale{Orphans: 20000, Crashes: 200, Execs: 20, Reboots: 5}
	full  = scale{Orphans: 1000000, Crashes: 10000, Execs: 1000, Reboots: 100}
)

// scaleFromEnv: SOAK=full for the numbers (make soak), else the
// short variant; SOAK_ORPHANS, SOAK_CRASHES, SOAK_EXECS, SOAK_REBOOTS
// override one figure each.
func scaleFromEnv(t *testing.T) scale {
	s := short
	if os.Getenv("SOAK") == "full" {
		s = full
	}
	for _, o := range []struct {
		env string
		v   *int
	}{{"SOAK_ORPHANS", &s.Orphans}, {"SOAK_CRASHES", &s.Crashes}, {"SOAK_EXECS", &s.Execs}, {"SOAK_REBOOTS", &s.Reboots}} {
		if v := os.Getenv(o.env); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				t.Fatalf("%s=%q: want a positive number", o.env, v)
			}
			*o.v = n
		}
	}
	return s
}

// build returns the binary named by env, or builds pkg into dir.
func build(t *testing.T, env, pkg, dir, name string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// soak is one soak run's guest and directories.
type soak struct {
	t             *testing.T
	name, root    string
	dirs          monitor.Dirs
	vserver, init string
}

// vs runs vserver with the soak's directories and a deadline.
func (s *soak) vs(d time.Duration, args ...string) (string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.vserver, args...)
	cmd.Env = append(os.Environ(), "VSERVER_CONFIG_DIR="+s.dirs.Config, "VSERVER_RUN_DIR="+s.dirs.Run,
		"VSERVER_LOG_DIR="+s.dirs.Log, "VSERVER_VINIT="+s.init)
	if len(args) == 2 && args[1] == "start" {
		// The monitor's stderr is the guest log: its GC trace there
		// tells its live heap (liveHeap).
		cmd.Env = append(cmd.Env, "GODEBUG=gctrace=1")
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		s.t.Fatalf("vserver %s: no answer within %v\n%s", strings.Join(args, " "), d, out.String())
	}
	code := 0
	if err != nil {
		code = -1
		if cmd.ProcessState != nil {
			code = cmd.ProcessState.ExitCode()
		}
	}
	return out.String(), code
}

func (s *soak) must(d time.Duration, args ...string) string {
	s.t.Helper()
	out, code := s.vs(d, args...)
	if code != 0 {
		s.t.Fatalf("vserver %s: exit %d\n%s\nlog:\n%s", strings.Join(args, " "), code, out, monitor.Tail(s.dirs.LogPath(s.name), 40))
	}
	return out
}

func (s *soak) state() *monitor.State {
	s.t.Helper()
	st, err := monitor.ReadState(s.dirs, s.name)
	if err != nil || st == nil {
		s.t.Fatalf("state of %s: %v, %v", s.name, st, err)
	}
	return st
}

// liveHeap reports the monitor's live heap after its last garbage
// collection, from the GC trace in the guest log ("n/a" before the first).
func (s *soak) liveHeap() string {
	b, _ := os.ReadFile(s.dirs.LogPath(s.name))
	last, n := "n/a", 0
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "gc ") {
			continue
		}
		n++
		for _, f := range strings.Split(l, ",") {
			if f = strings.TrimSpace(f); strings.HasSuffix(f, " MB") && strings.Count(f, "->") == 2 {
				last = f[strings.LastIndex(f, "->")+2:]
			}
		}
	}
	return fmt.Sprintf("%s after GC %d", last, n)
}

// reboot runs reboot in the guest and waits for the next boot to be up.
func (s *soak) reboot() {
	s.t.Helper()
	before := s.state()
	// The exec's session ends with the guest: its status is not the point.
	s.vs(time.Minute, s.name, "exec", "--", "/sbin/reboot")
	waitFor(s.t, time.Minute, "the guest to come back from its reboot", func() bool {
		st, _ := monitor.ReadState(s.dirs, s.name)
		return st != nil && st.Boots == before.Boots+1 && st.Phase == monitor.PhaseRunning
	})
}

// zombies asks a process in the guest how many zombies it sees.
func (s *soak) zombies() int {
	s.t.Helper()
	out := s.must(time.Minute, s.name, "exec", "--", "/bin/soakhelper", "zombies")
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		s.t.Fatalf("zombies: %q", out)
	}
	return n
}

// noZombies waits until the guest has reaped everything.
func (s *soak) noZombies(d time.Duration) {
	s.t.Helper()
	var n int
	waitFor(s.t, d, "the guest to have no zombies", func() bool { n = s.zombies(); return n == 0 })
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// usage is a host process's open fds and resident memory.
type usage struct {
	FDs   int
	RSS   int64    // bytes
	Links []string // where the fds lead, for the report when they differ
}

func (u usage) String() string {
	return fmt.Sprintf("%d fds, RSS %.2f MiB", u.FDs, float64(u.RSS)/(1<<20))
}

func measure(t *testing.T, pid int) usage {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("fds of %d: %v", pid, err)
	}
	var links []string
	for _, e := range ents {
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
		links = append(links, e.Name()+"->"+l)
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	var rss int64
	for _, l := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			rss = kb << 10
		}
	}
	return usage{FDs: len(ents), RSS: rss, Links: links}
}

// settled measures pid until its RSS is within limit of before (the Go
// runtime returns freed memory to the kernel in the background) or d
// passes, and returns the last measurement.
func settled(t *testing.T, pid int, before usage, limit int64, d time.Duration) usage {
	deadline := time.Now().Add(d)
	for {
		u := measure(t, pid)
		if u.RSS-before.RSS < limit && u.FDs == before.FDs || time.Now().After(deadline) {
			return u
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func fileSize(p string) int {
	st, err := os.Stat(p)
	if err != nil {
		return -1
	}
	return int(st.Size())
}

// TestSoak keeps one guest busy — orphans for its init to reap, a service
// that crashes and is restarted, execs, reboots from inside — and checks
// that nothing accumulates: zombies, fds and memory of vinit and the
// monitor, and, after the stop, cgroups, mounts, pins and state.
func TestSoak(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start guests (namespaces, cgroups)")
	}
	if _, err := cgroup.Unified(); err != nil {
		t.Skip(err)
	}
	if _, err := os.Stat(guestroot.Busybox); err != nil {
		t.Skip("needs a static busybox (apt-get install busybox-static): ", err)
	}
	sc := scaleFromEnv(t)
	t.Logf("scale: %d orphans, %d crash-restarts, %d execs, %d reboots from inside", sc.Orphans, sc.Crashes, sc.Execs, sc.Reboots)
	dir := t.TempDir()
	s := &soak{t: t, name: fmt.Sprintf("soak%d", os.Getpid()), dirs: monitor.Dirs{
		Config: filepath.Join(dir, "conf"), Run: filepath.Join(dir, "run"), Log: filepath.Join(dir, "log")}}
	for _, d := range []string{s.dirs.Config, s.dirs.Run, s.dirs.Log} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s.vserver = build(t, "VSERVER_BIN", "github.com/vserver-go/vserver/cmd/vserver", dir, "vserver")
	s.init = build(t, "VINIT_BIN", "github.com/vserver-go/vserver/cmd/vinit", dir, "vinit")
	helper := build(t, "", "./testdata/soakhelper", dir, "soakhelper")

	s.root = filepath.Join(dir, "root")
	crashes := "/var/soak-crashes"
	err := guestroot.Build(s.root, guestroot.WithHostname(s.name),
		// Healthy (blocked) until the test creates its count file.
		guestroot.WithService(guestroot.Service{Name: "crasher", TOML: fmt.Sprintf(`
command = ["/bin/sh", "-c", "[ -e %[1]s ] || exec sleep 100000; exec /bin/soakhelper crash %[1]s %[2]d"]
restart = "always"
restart_delay = "1ms"
restart_max_delay = "1ms"
start_limit = { burst = 0 }
stdout = "null"
`, crashes, sc.Crashes+1)}),
		// A few crashes at every boot (/run is fresh each time), so that
		// the baseline has seen the restart path.
		guestroot.WithService(guestroot.Service{Name: "warmcrash", TOML: fmt.Sprintf(`
command = ["/bin/soakhelper", "crash", "/run/warm-crashes", "%d"]
restart = "always"
restart_delay = "1ms"
restart_max_delay = "1ms"
start_limit = { burst = 0 }
stdout = "null"
`, warmCrashes+1)}))
	if err != nil {
		t.Fatal(err)
	}
	hb, err := os.ReadFile(helper)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.root, "bin/soakhelper"), hb, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("root = %q\nhostname = %q\n[reboot]\nmax = 1000\ninterval = \"1s\"\n[stop]\ntimeout = \"20s\"\n", s.root, s.name)
	if err := os.WriteFile(filepath.Join(s.dirs.Config, s.name+".toml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("guest log:\n%s", monitor.Tail(s.dirs.LogPath(s.name), 60))
		}
		s.vs(time.Minute, s.name, "stop")
		if st, _ := monitor.ReadState(s.dirs, s.name); st != nil && monitor.Running(s.dirs, s.name) {
			_ = syscall.Kill(st.MonitorPID, syscall.SIGKILL)
		}
		_ = monitor.CleanStale(s.dirs, s.name, func(string, ...any) {})
	})

	t0 := time.Now()
	s.must(time.Minute, s.name, "start")
	// Warm up: reboots (the monitor's restart path), then one round of
	// each workload on the vinit that the baseline measures. Go heaps
	// grow to their steady size over the first few hundred requests (the
	// monitor's over some 30 reboots, its live heap staying under 1 MB).
	for i := 0; i < warmReboots; i++ {
		s.reboot()
	}
	st := s.state()
	vinitPID, monPID, boots0 := st.InitPID, st.MonitorPID, st.Boots
	s.must(time.Minute, s.name, "exec", "--", "/bin/soakhelper", "orphans", strconv.Itoa(min(sc.Orphans, 20000)))
	for i := 0; i < warmExecs; i++ {
		s.must(time.Minute, s.name, "exec", "--", "true")
	}
	waitFor(t, time.Minute, "the warm-up crashes", func() bool {
		out, _ := s.vs(time.Minute, s.name, "exec", "--", "/bin/sh", "-c", "wc -c < /run/warm-crashes")
		return strings.TrimSpace(out) == strconv.Itoa(warmCrashes+1)
	})
	s.noZombies(30 * time.Second)
	time.Sleep(time.Second) // let both settle; the baseline is a single sample
	vinitBefore, monBefore := measure(t, vinitPID), measure(t, monPID)
	t.Logf("before: vinit %v; monitor %v (after %d execs, %d reboots); monitor's live heap %s",
		vinitBefore, monBefore, warmExecs+4+warmReboots, warmReboots, s.liveHeap())

	// Orphans, in chunks so that one exec does not run for too long.
	p := time.Now()
	for left := sc.Orphans; left > 0; {
		n := min(left, 100000)
		out := s.must(30*time.Minute, s.name, "exec", "--", "/bin/soakhelper", "orphans", strconv.Itoa(n))
		if strings.TrimSpace(out) != strconv.Itoa(n) {
			t.Fatalf("orphans: made %q of %d", out, n)
		}
		left -= n
	}
	s.noZombies(5 * time.Minute)
	orphanTime := time.Since(p)
	t.Logf("%d orphans made and reaped in %v (%.0f/s)", sc.Orphans, orphanTime.Round(time.Millisecond), float64(sc.Orphans)/orphanTime.Seconds())

	// Crash-restarts.
	p = time.Now()
	if err := os.WriteFile(filepath.Join(s.root, crashes), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s.must(time.Minute, s.name, "exec", "--", "/sbin/vinit", "restart", "crasher")
	waitFor(t, time.Duration(sc.Crashes)*50*time.Millisecond+time.Minute, "the service's crashes", func() bool {
		return fileSize(filepath.Join(s.root, crashes)) >= sc.Crashes+1
	})
	crashTime := time.Since(p)
	if n := fileSize(filepath.Join(s.root, crashes)); n != sc.Crashes+1 {
		t.Errorf("the crasher ran %d times; want %d crashes and one healthy run", n, sc.Crashes)
	}
	if out := s.must(time.Minute, s.name, "exec", "--", "/sbin/vinit", "status", "crasher"); !strings.Contains(out, "running") {
		t.Errorf("crasher after its crashes: %s", out)
	}
	t.Logf("%d crash-restarts in %v (%.1f ms each)", sc.Crashes, crashTime.Round(time.Millisecond), crashTime.Seconds()*1000/float64(sc.Crashes))

	// Execs.
	p = time.Now()
	for i := 0; i < sc.Execs; i++ {
		s.must(time.Minute, s.name, "exec", "--", "true")
	}
	execTime := time.Since(p)
	t.Logf("%d execs in %v (%.1f ms each)", sc.Execs, execTime.Round(time.Millisecond), execTime.Seconds()*1000/float64(sc.Execs))
	s.noZombies(30 * time.Second)

	const limit = 1 << 20
	vinitAfter := settled(t, vinitPID, vinitBefore, limit, 20*time.Second)
	t.Logf("vinit after orphans, crashes and execs: %v (was %v; RSS %+d KiB)", vinitAfter, vinitBefore, (vinitAfter.RSS-vinitBefore.RSS)>>10)
	if vinitAfter.FDs != vinitBefore.FDs {
		t.Errorf("vinit holds %d fds, had %d\nnow:    %v\nbefore: %v", vinitAfter.FDs, vinitBefore.FDs, vinitAfter.Links, vinitBefore.Links)
	}
	if vinitAfter.RSS-vinitBefore.RSS >= limit {
		t.Errorf("vinit's RSS grew by %d KiB (limit 1 MiB)", (vinitAfter.RSS-vinitBefore.RSS)>>10)
	}
	if s.state().InitPID != vinitPID {
		t.Fatal("the guest rebooted during the first phases")
	}

	// Reboots from inside, one after the other, as the guest's admin
	// would type them.
	p = time.Now()
	for i := 0; i < sc.Reboots; i++ {
		s.reboot()
	}
	if st := s.state(); st.Boots != boots0+sc.Reboots {
		t.Errorf("boot %d after %d reboots from boot %d", st.Boots, sc.Reboots, boots0)
	}
	rebootTime := time.Since(p)
	t.Logf("%d reboots from inside in %v (%.0f ms each)", sc.Reboots, rebootTime.Round(time.Millisecond), rebootTime.Seconds()*1000/float64(sc.Reboots))
	st = s.state()
	if st.MonitorPID != monPID || st.InitPID == vinitPID {
		t.Fatalf("after the reboots: monitor %d (was %d), vinit %d (was %d)", st.MonitorPID, monPID, st.InitPID, vinitPID)
	}
	// The new vinit is a fresh process; in the same guest it holds what
	// the first one held at the same point.
	s.must(time.Minute, s.name, "exec", "--", "true")
	newVinit := settled(t, st.InitPID, vinitBefore, 1<<30, 10*time.Second)
	t.Logf("vinit after the reboots: %v", newVinit)
	if newVinit.FDs != vinitBefore.FDs {
		t.Errorf("the rebooted vinit holds %d fds, the first one had %d\nnow:    %v\nbefore: %v", newVinit.FDs, vinitBefore.FDs, newVinit.Links, vinitBefore.Links)
	}
	s.noZombies(30 * time.Second)
	monAfter := settled(t, monPID, monBefore, limit, 20*time.Second)
	t.Logf("monitor after everything: %v (was %v; RSS %+d KiB); live heap %s", monAfter, monBefore, (monAfter.RSS-monBefore.RSS)>>10, s.liveHeap())
	if monAfter.FDs != monBefore.FDs {
		t.Errorf("the monitor holds %d fds, had %d\nnow:    %v\nbefore: %v", monAfter.FDs, monBefore.FDs, monAfter.Links, monBefore.Links)
	}
	if monAfter.RSS-monBefore.RSS >= limit {
		t.Errorf("the monitor's RSS grew by %d KiB (limit 1 MiB)", (monAfter.RSS-monBefore.RSS)>>10)
	}

	s.must(time.Minute, s.name, "stop")
	t.Logf("whole soak: %v", time.Since(t0).Round(time.Second))
	s.assertGone(st)
}

// assertGone checks that the stopped guest left nothing: processes,
// state, cgroups (v2 and v1), BPF pins, mounts.
func (s *soak) assertGone(st *monitor.State) {
	t := s.t
	t.Helper()
	if monitor.Running(s.dirs, s.name) {
		t.Error("monitor still running")
	}
	for _, pid := range []int{st.MonitorPID, st.InitPID} {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if bytes.Contains(b, []byte("vinit")) || bytes.Contains(b, []byte("vserver")) {
				t.Errorf("process %d (%q) still exists", pid, b)
			}
		}
	}
	if left, _ := monitor.ReadState(s.dirs, s.name); left != nil {
		t.Errorf("state file left: %+v", left)
	}
	if _, err := cgroup.Open(monitor.CgroupRel(s.name)); err == nil {
		t.Error("cgroup left")
	}
	if v1 := cgroup.OpenV1(monitor.CgroupRel(s.name)); len(v1.Dirs()) > 0 {
		t.Errorf("v1 cgroups left: %v", v1.Dirs())
	}
	if _, err := os.Stat(monitor.PinDir(s.name)); err == nil {
		t.Errorf("BPF pins left in %s", monitor.PinDir(s.name))
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mi), "\n") {
		if strings.Contains(l, s.root) || strings.Contains(l, s.dirs.Run) {
			t.Errorf("mount left: %s", l)
		}
	}
	ents, _ := os.ReadDir(s.dirs.Run)
	var left []string
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".lock") {
			left = append(left, e.Name())
		}
	}
	if len(left) > 0 {
		t.Errorf("run directory holds %v after the stop", left)
	}
	t.Logf("after stop: no monitor, state, cgroup, v1 cgroups, pins or mounts left; run dir: %d entries (locks only)", len(ents))
}
