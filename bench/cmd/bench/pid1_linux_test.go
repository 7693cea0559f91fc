package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testEnv builds the helpers and picks the inits to try: vinit
// ($VINIT_BIN or the module's bin/vinit) and tini, whichever exist.
func testEnv(t *testing.T) *Env {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates PID and mount namespaces and a pids cgroup")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	e := &Env{Ctx: ctx, Runs: 1, ModRoot: root, Log: io.Discard}
	if e.Stage, err = buildHelper(ctx, root, dir, "nsstage"); err != nil {
		t.Fatal(err)
	}
	if e.Orphans, err = buildHelper(ctx, root, dir, "orphans"); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("VINIT_BIN") == "" {
		t.Setenv("VINIT_BIN", filepath.Join(root, "bin/vinit"))
	}
	ins, err := knownInits([]string{"vinit", "tini"})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range ins {
		if in.Available() {
			e.Inits = append(e.Inits, in)
		}
	}
	if len(e.Inits) == 0 {
		t.Skip("neither vinit (make build) nor tini is installed")
	}
	return e
}

func TestStageRunsInitAsPID1(t *testing.T) {
	e := testEnv(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// The stage itself, without an init, must be PID 1 and see its own /proc.
	p, err := startInit(e.Stage, []string{"/bin/sh", "-c", "echo $$ /proc/[0-9]*"}, nil, w)
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	out, _ := io.ReadAll(r)
	if code, err := p.Wait(10 * time.Second); err != nil || code != 0 {
		t.Fatalf("stage: status %d, %v%s", code, err, p.stderrTail())
	}
	if got := strings.TrimSpace(string(out)); got != "1 /proc/1" {
		t.Errorf("inside the namespace: pid and /proc %q, want %q (sh alone, as PID 1)", got, "1 /proc/1")
	}
	if err := p.Gone(time.Second); err != nil {
		t.Error(err)
	}
}

func TestLifecycleAndIdleMeasurements(t *testing.T) {
	e := testEnv(t)
	for _, in := range e.Inits {
		p, err := startInit(e.Stage, in.Argv("/bin/sleep", "1000"), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		child, err := waitIdle(p, "sleep", 10*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", in.Name, err)
		}
		rss, _, err := memory(p.Pid)
		if err != nil || rss < 64<<10 || rss > 256<<20 {
			t.Errorf("%s: VmRSS %v bytes, %v; want a plausible figure", in.Name, rss, err)
		}
		if err := p.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		code, err := p.Wait(10 * time.Second)
		if err != nil {
			t.Fatalf("%s: %v", in.Name, err)
		}
		if code != 128+int(syscall.SIGTERM) {
			t.Errorf("%s: exit status %d after SIGTERM, want %d (the child died of it)", in.Name, code, 128+syscall.SIGTERM)
		}
		if err := p.Gone(time.Second); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(filepath.Join("/proc", itoa(child))); err == nil {
			t.Errorf("%s: child %d outlived the namespace", in.Name, child)
		}
	}
}

func TestReapBurst(t *testing.T) {
	e := testEnv(t)
	cg, err := newPidsCgroup("vinit-bench-test-" + itoa(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cg.Remove() })
	for _, in := range e.Inits {
		d, cpu, err := reapOnce(e, in, 300, cg)
		if err != nil {
			t.Fatalf("%s: %v", in.Name, err)
		}
		if d <= 0 || d > 10 {
			t.Errorf("%s: 300 orphans reaped in %v s", in.Name, d)
		}
		if cpu <= 0 || cpu > d*float64(runtime.NumCPU()) {
			t.Errorf("%s: init CPU time %v s while reaping for %v s", in.Name, cpu, d)
		}
		if c, err := cg.Current(); err != nil || c != 0 {
			t.Errorf("%s: %d tasks left in the cgroup after the run (%v)", in.Name, c, err)
		}
	}
}

// TestReapBurstCountsZombies stops the init before the release: the orphans
// exit but stay zombies, and the measurement must not end.
func TestReapBurstCountsZombies(t *testing.T) {
	e := testEnv(t)
	cg, err := newPidsCgroup("vinit-bench-test-z-" + itoa(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cg.Remove() })
	oldTimeout, oldHook := reapTimeout, beforeRelease
	t.Cleanup(func() { reapTimeout, beforeRelease = oldTimeout, oldHook })
	reapTimeout = 500 * time.Millisecond
	beforeRelease = func(p *nsInit) { p.Signal(syscall.SIGSTOP) }
	_, _, err = reapOnce(e, e.Inits[0], 50, cg)
	if err == nil || !strings.Contains(err.Error(), "50 of 50 orphans still not reaped") {
		t.Errorf("stopped init: err = %v, want all 50 orphans unreaped", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
