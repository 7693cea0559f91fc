package monitor

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vserver-go/vserver/internal/guest"
)

// exitOf runs sh -c script and returns how it ended.
func exitOf(t *testing.T, script string) *os.ProcessState {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	_ = cmd.Run()
	return cmd.ProcessState
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct{ script, want string }{
		{"kill -HUP $$", EndReboot},
		{"kill -INT $$", EndHalt},
		{"exit 0", EndHalt},
		{"exit 1", EndCrash},
		{"kill -KILL $$", EndCrash},
		{"kill -TERM $$", EndCrash},
	} {
		if got := classify(exitOf(t, tc.script)); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.script, got, tc.want)
		}
	}
	if classify(nil) != EndCrash {
		t.Error("nil status is not a crash")
	}
}

func TestRebootRateLimit(t *testing.T) {
	cfg := guest.Default("r")
	cfg.Reboot.Max, cfg.Reboot.Interval = 2, time.Minute
	m := &monitor{cfg: cfg}
	t0 := time.Unix(1000, 0)
	for i, want := range []bool{true, true, false} {
		if got := m.rebootAllowed(t0.Add(time.Duration(i) * time.Second)); got != want {
			t.Errorf("reboot %d: allowed=%v, want %v", i+1, got, want)
		}
	}
	// Once the window has passed, reboots are allowed again.
	if !m.rebootAllowed(t0.Add(2 * time.Minute)) {
		t.Error("reboot after the window refused")
	}
}

func TestByPriority(t *testing.T) {
	mk := func(name string, prio int) *guest.Config {
		c := guest.Default(name)
		c.Priority = prio
		return c
	}
	groups := byPriority([]*guest.Config{mk("c", 20), mk("a", 20), mk("z", 5), mk("b", 100)})
	var got []string
	for _, g := range groups {
		var names []string
		for _, c := range g {
			names = append(names, c.Name)
		}
		got = append(got, strings.Join(names, ","))
	}
	if strings.Join(got, " ") != "z a,c b" {
		t.Errorf("groups %v", got)
	}
}

func TestLogRotationAndTail(t *testing.T) {
	p := filepath.Join(t.TempDir(), "g.log")
	l, err := openLog(p, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		fmt.Fprintf(l, "line %02d\n", i) // 8 bytes each
	}
	l.Close()
	cur, _ := os.ReadFile(p)
	old, _ := os.ReadFile(p + ".1")
	if len(cur) > 100 || len(old) > 100 || len(old) == 0 {
		t.Errorf("sizes: current %d, old %d", len(cur), len(old))
	}
	tail := Tail(p, 3)
	if tail != "line 27\nline 28\nline 29\n" {
		t.Errorf("tail %q", tail)
	}
	if !strings.HasPrefix(Tail(p, 1000), "line ") {
		t.Error("tail of both generations does not start with a line")
	}
}

func TestStateRoundTrip(t *testing.T) {
	d := Dirs{Run: t.TempDir(), Log: t.TempDir()}
	if st, err := ReadState(d, "x"); st != nil || err != nil {
		t.Fatalf("missing state: %v %v", st, err)
	}
	in := &State{Name: "x", Phase: PhaseRunning, MonitorPID: 5, Boots: 2, IPs: []string{"10.0.0.1/32"}, Booted: time.Unix(5, 0).UTC()}
	if err := writeState(d, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadState(d, "x")
	if err != nil || out.Phase != PhaseRunning || out.Boots != 2 || out.IPs[0] != "10.0.0.1/32" || !out.Booted.Equal(in.Booted) {
		t.Fatalf("got %+v, %v", out, err)
	}
	if got := stateNames(d); len(got) != 1 || got[0] != "x" {
		t.Errorf("stateNames %v", got)
	}
	if err := os.WriteFile(d.statePath("bad"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadState(d, "bad"); err == nil {
		t.Error("corrupt state accepted")
	}
}

func TestLockIsExclusiveAcrossProcesses(t *testing.T) {
	p := filepath.Join(t.TempDir(), "g.lock")
	f, err := tryLock(p)
	if err != nil {
		t.Fatal(err)
	}
	// flock(1) in another process must fail while we hold it.
	if err := exec.Command("flock", "-n", p, "true").Run(); err == nil {
		t.Error("another process took the held lock")
	}
	if !isLocked(p) {
		t.Error("isLocked = false while held")
	}
	unlock(f)
	if isLocked(p) {
		t.Error("isLocked = true after unlock")
	}
	if err := exec.Command("flock", "-n", p, "true").Run(); err != nil {
		t.Errorf("lock not free after unlock: %v", err)
	}
}
