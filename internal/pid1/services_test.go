package pid1

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vserver-go/vserver/internal/services"
	"golang.org/x/sys/unix"
)

// Service supervision, end to end: vinit as PID 1 of a new PID namespace
// runs services from dir/cfg/services. Scenario IDs are those of
// /work/shared/reference/init-scenarios.md.

// F1: a chain a <- b <- c is stopped in reverse: c, then b, then a.
func TestServicesShutdownOrder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	order := filepath.Join(dir, "order")
	prev := ""
	for _, name := range []string{"a", "b", "c"} {
		up := filepath.Join(dir, name+".up")
		body := shCmd(fmt.Sprintf(`trap 'echo %s >> %s; exit 0' TERM; touch %s; while :; do sleep 1 & wait; done`, name, order, up)) +
			fmt.Sprintf("ready = { file = %q }\n", up)
		if prev != "" {
			body += fmt.Sprintf("after = [%q]\n", prev)
		}
		svcFile(t, dir, name, body)
		prev = name
	}
	g := startGuest(t, dir, guestOpts{})
	g.waitReady()
	g.signal(unix.SIGTERM)
	if got := killedBy(g.wait(10 * time.Second)); got != "killed by SIGINT" {
		t.Fatalf("parent saw %s", got)
	}
	if got := strings.Join(readLines(t, order), " "); got != "c b a" {
		t.Fatalf("services stopped in the order %q, want \"c b a\"", got)
	}
}

// F2: a service that catches SIGTERM and keeps running gets SIGKILL after
// its stop_timeout, by "vinit stop" and in the shutdown.
func TestServicesStopTimeoutKills(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, name := range []string{"stubborn1", "stubborn2"} {
		svcFile(t, dir, name, shCmd(`trap 'echo got-term >> `+filepath.Join(dir, name+".log")+`' TERM; while :; do sleep 1 & wait; done`)+
			"stop_timeout = \"1s\"\n")
	}
	g := startGuest(t, dir, guestOpts{})
	g.waitReady()
	var out string
	var err error
	took := timed(func() { out, err = g.client("stop", "stubborn1") })
	if err != nil {
		t.Fatalf("vinit stop: %v %s", err, out)
	}
	if took < 900*time.Millisecond || took > 3*time.Second {
		t.Fatalf("stop of a SIGTERM-proof service took %v, want about its 1s stop_timeout", took)
	}
	st := g.svc("stubborn1")
	if st.State != services.StateStopped || st.LastExit != "killed by SIGKILL" {
		t.Fatalf("after the stop: %+v, want stopped, killed by SIGKILL", st)
	}
	// Exactly once: a second SIGTERM means "hurry" to many programs.
	if got := readLines(t, filepath.Join(dir, "stubborn1.log")); len(got) != 1 {
		t.Fatalf("the service saw its SIGTERM %d times, want once", len(got))
	}
	start := time.Now()
	g.signal(unix.SIGTERM)
	g.wait(10 * time.Second)
	if took := time.Since(start); took < 900*time.Millisecond || took > 5*time.Second {
		t.Fatalf("shutdown with a SIGTERM-proof service took %v, want 1s..5s", took)
	}
	if got := readLines(t, filepath.Join(dir, "stubborn2.log")); len(got) == 0 {
		t.Fatal("stubborn2 never saw its SIGTERM")
	}
}

// F3: services that end at once on SIGTERM: the shutdown takes no grace.
func TestServicesQuickShutdown(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for i := range 4 {
		svcFile(t, dir, "s"+strconv.Itoa(i), `command = "sleep 1000"`+"\n")
	}
	svcFile(t, dir, "trapper", shCmd(`trap 'exit 0' TERM; while :; do sleep 1 & wait; done`))
	g := startGuest(t, dir, guestOpts{args: []string{"--shutdown-timeout", "30s"}})
	g.waitReady()
	g.waitState("s3", services.StateRunning, 5*time.Second)
	start := time.Now()
	g.signal(unix.SIGTERM)
	g.wait(10 * time.Second)
	took := time.Since(start)
	t.Logf("shutdown of 5 services took %v", took)
	if took > 700*time.Millisecond {
		t.Fatalf("shutdown of services that exit on SIGTERM took %v, want far less than 1s", took)
	}
}

// F5: a service still starting (notify, READY=1 never sent) does not hold
// up the shutdown longer than its stop timeout.
func TestServicesShutdownWhileStarting(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	svcFile(t, dir, "slow", shCmd(`trap "" TERM; exec sleep 1000`)+`type = "notify"
stop_timeout = "1s"
ready = { timeout = "0" }
`)
	g := startGuest(t, dir, guestOpts{})
	g.waitState("slow", services.StateStarting, 5*time.Second)
	start := time.Now()
	g.signal(unix.SIGTERM)
	if got := killedBy(g.wait(10 * time.Second)); got != "killed by SIGINT" {
		t.Fatalf("parent saw %s", got)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("shutdown with a service stuck starting took %v, want about its 1s stop timeout", took)
	}
}

// F6: one budget bounds the whole shutdown, even for a chain of services
// whose stop timeouts add up to far more.
func TestServicesShutdownBudget(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	globalFile(t, dir, `shutdown_timeout = "3s"`+"\n")
	for i := 1; i <= 5; i++ {
		body := shCmd(`trap "" TERM; exec sleep 1000`) + `stop_timeout = "2s"` + "\n"
		if i > 1 {
			body += fmt.Sprintf("after = [\"s%d\"]\n", i-1)
		}
		svcFile(t, dir, "s"+strconv.Itoa(i), body)
	}
	g := startGuest(t, dir, guestOpts{})
	g.waitReady()
	start := time.Now()
	g.signal(unix.SIGTERM)
	g.wait(10 * time.Second)
	took := time.Since(start)
	t.Logf("shutdown of 5 chained SIGTERM-proof services (2s each) in a 3s budget took %v", took)
	if took < 2*time.Second || took > 3500*time.Millisecond {
		t.Fatalf("shutdown took %v, want within the 3s budget (and not before the first stop timeout)", took)
	}
	if n := len(descendants(g.cmd.Process.Pid)); n != 0 {
		t.Fatalf("%d processes left", n)
	}
}

// G1: restart = "always" restarts a service whatever signal killed it.
func TestServicesRestartAfterSignals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sigs := []string{"ABRT", "BUS", "FPE", "HUP", "ILL", "INT", "KILL", "PIPE", "QUIT", "SEGV", "TERM", "TRAP", "USR1", "USR2", "XCPU"}
	for _, s := range sigs {
		svcFile(t, dir, "sig"+s, shCmd(`echo start >> `+filepath.Join(dir, s)+`; kill -s `+s+` $$; sleep 5`)+`restart = "always"
restart_delay = "50ms"
restart_max_delay = "50ms"
start_limit = { burst = 0 }
rlimits = { core = 0 }
`)
	}
	g := startGuest(t, dir, guestOpts{})
	for _, s := range sigs {
		st := g.waitSvc("sig"+s, 10*time.Second, "to be restarted after SIG"+s, func(st services.Status) bool {
			return st.Restarts >= 2 && len(readLines(t, filepath.Join(dir, s))) >= 3
		})
		if st.LastExit != "killed by SIG"+s {
			t.Errorf("sig%s: last exit %q, want killed by SIG%s", s, st.LastExit, s)
		}
	}
}

// G2: restart = "always" restarts a service that exits 0.
func TestServicesRestartAlwaysAfterSuccess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	starts := filepath.Join(dir, "starts")
	svcFile(t, dir, "s", shCmd(`echo start >> `+starts+`; sleep 0.2; exit 0`)+`restart = "always"
restart_delay = "10ms"
`)
	g := startGuest(t, dir, guestOpts{})
	st := g.waitSvc("s", 10*time.Second, "to be restarted twice", func(st services.Status) bool {
		return st.Restarts >= 2 && len(readLines(t, starts)) >= 3
	})
	if st.LastExit != "exit status 0" {
		t.Fatalf("last exit %q", st.LastExit)
	}
}

// G3: on-failure: fails once, succeeds the second time, then stays down.
func TestServicesOnFailureThenSuccess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	marker, starts := filepath.Join(dir, "marker"), filepath.Join(dir, "starts")
	svcFile(t, dir, "s", shCmd(`echo start >> `+starts+`; [ -e `+marker+` ] && exit 0; touch `+marker+`; exit 1`)+`restart = "on-failure"
restart_delay = "10ms"
`)
	g := startGuest(t, dir, guestOpts{})
	g.waitReady()
	st := g.waitSvc("s", 10*time.Second, "to end", func(st services.Status) bool {
		return st.State == services.StateStopped || st.State == services.StateFailed || st.State == services.StateDone
	})
	if st.State != services.StateStopped || st.Restarts != 1 || st.LastExit != "exit status 0" {
		t.Fatalf("status %+v, want stopped after 1 restart with exit status 0", st)
	}
	if n := len(readLines(t, starts)); n != 2 {
		t.Fatalf("%d starts, want 2", n)
	}
	g.signal(unix.SIGTERM)
	if got := killedBy(g.wait(10 * time.Second)); got != "killed by SIGINT" {
		t.Fatalf("parent saw %s", got)
	}
}

// G4: a crash loop backs off on the configured curve (100ms doubling, cap
// 400ms, ±10% jitter) and ends failed at the start limit.
func TestServicesCrashLoopBackoff(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stamps := filepath.Join(dir, "stamps")
	svcFile(t, dir, "crash", shCmd(`date +%s%N >> `+stamps+`; exit 1`)+`restart = "always"
restart_delay = "100ms"
restart_max_delay = "400ms"
start_limit = { burst = 6, interval = "60s" }
`)
	g := startGuest(t, dir, guestOpts{})
	st := g.waitState("crash", services.StateFailed, 15*time.Second)
	if !strings.Contains(st.Reason, "start limit") {
		t.Fatalf("reason %q, want the start limit", st.Reason)
	}
	lines := readLines(t, stamps)
	if len(lines) != 6 {
		t.Fatalf("%d starts, want 6 (the burst)", len(lines))
	}
	var ts []time.Duration
	for _, l := range lines {
		n, err := strconv.ParseInt(l, 10, 64)
		if err != nil {
			t.Fatalf("bad stamp %q", l)
		}
		ts = append(ts, time.Duration(n))
	}
	// Each restart comes after its delay (doubling from 100ms, capped at
	// 400ms, -10% jitter at most): never early. It may be late by the
	// exit, reap and exec of a start, which a loaded machine stretches at
	// random; so the cap is checked on the better of the last two gaps:
	// about 400ms capped, at least 720ms and 1440ms uncapped.
	want := []time.Duration{100, 200, 400, 400, 400}
	var gaps []time.Duration
	for i, w := range want {
		w *= time.Millisecond
		gap := ts[i+1] - ts[i]
		gaps = append(gaps, gap)
		t.Logf("restart %d after %v (delay %v)", i+1, gap.Round(time.Millisecond), w)
		if gap < w*9/10 {
			t.Errorf("restart %d came %v after the start before, want %v -10%% at least", i+1, gap, w)
		}
	}
	if best := min(gaps[3], gaps[4]); best > 650*time.Millisecond {
		t.Errorf("restarts 4 and 5 came %v and %v after the one before, want about 400ms (the cap)", gaps[3], gaps[4])
	}
	// Failed is final: no more starts.
	if st := g.svc("crash"); st.State != services.StateFailed || st.Restarts != 5 {
		t.Fatalf("status %+v, want failed after 5 restarts", st)
	}
}

// G5: exit status 125 means "do not restart", even with restart = always.
func TestServicesExit125NotRestarted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	starts := filepath.Join(dir, "starts")
	svcFile(t, dir, "s", shCmd(`echo start >> `+starts+`; exit 125`)+`restart = "always"
restart_delay = "10ms"
`)
	g := startGuest(t, dir, guestOpts{})
	g.waitReady()
	st := g.waitSvc("s", 10*time.Second, "to end for good", func(st services.Status) bool {
		return st.State == services.StateFailed || st.State == services.StateStopped
	})
	if st.State != services.StateFailed || st.Restarts != 0 || st.LastExit != "exit status 125" || st.Reason != "ended: exit status 125: not restarted" {
		t.Fatalf("status %+v, want not restarted after exit status 125", st)
	}
	if n := len(readLines(t, starts)); n != 1 {
		t.Fatalf("%d starts, want 1", n)
	}
	if _, err := os.Stat(starts); err != nil {
		t.Fatal(err)
	}
}

// A shutdown that finds a service already stopping (a "vinit stop" in
// flight) ends as soon as that service has stopped, not at the budget.
func TestServicesShutdownDuringStop(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	svcFile(t, dir, "slow", shCmd(`trap 'sleep 0.5; exit 0' TERM; while :; do sleep 1 & wait; done`)+"stop_timeout = \"30s\"\n")
	g := startGuest(t, dir, guestOpts{args: []string{"--shutdown-timeout", "20s"}})
	g.waitReady()
	stopped := make(chan string, 1)
	go func() {
		out, err := g.client("stop", "slow")
		stopped <- fmt.Sprint(out, err)
	}()
	g.waitState("slow", services.StateStopping, 5*time.Second)
	start := time.Now()
	g.signal(unix.SIGTERM)
	g.wait(20 * time.Second)
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("shutdown took %v while the service being stopped ended after 0.5s", took)
	}
	<-stopped
}

// Many services stop cleanly well within the default budget: stopping
// them must not cost a scan of /proc per service.
func TestServicesManyStopQuickly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for i := range 200 {
		svcFile(t, dir, "s"+strconv.Itoa(i), `command = "sleep 1000"`+"\n")
	}
	g := startGuest(t, dir, guestOpts{})
	g.waitReady()
	start := time.Now()
	g.signal(unix.SIGTERM)
	g.wait(20 * time.Second)
	took := time.Since(start)
	t.Logf("200 services stopped in %v", took)
	if took > 3*time.Second {
		t.Fatalf("stopping 200 services took %v", took)
	}
	if !strings.Contains(g.out.String(), "halt: shutdown done") {
		t.Fatalf("no clean shutdown:\n%s", g.out.String())
	}
}
