package pid1

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vserver-go/vserver/internal/services"
	"golang.org/x/sys/unix"
)

// greeting connects to a socket-activated svchelper and returns its line.
func greeting(t *testing.T, network, addr string) string {
	t.Helper()
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatalf("connect %s: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("read from %s: %v (got %q)", addr, err, line)
	}
	return strings.TrimSpace(line)
}

// Socket activation: vinit opens the sockets, a go-systemd activation
// server gets them (LISTEN_PID is its own pid), answers on them, and the
// sockets survive a restart.
func TestServicesSocketActivation(t *testing.T) {
	t.Parallel()
	helper := svcHelper(t)
	dir := t.TempDir()
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	sock := filepath.Join(dir, "ctl.sock.web")
	svcFile(t, dir, "web", fmt.Sprintf(`command = [%q, "activated"]
listen = ["tcp:%s", "unix:%s"]
listen_names = ["http", "ctl"]
`, helper, addr, sock))
	addr2 := "127.0.0.1:" + strconv.Itoa(freePort(t))
	svcFile(t, dir, "plain", fmt.Sprintf("command = [%q, \"activated\"]\nlisten = [\"tcp:%s\"]\nuser = \"nobody\"\n", helper, addr2))
	g := startGuest(t, dir, guestOpts{})
	g.waitReady()
	// Without listen_names, the name is the service's; a service run as
	// another user gets the socket vinit (root) opened.
	pidPlain := g.waitState("plain", services.StateRunning, 5*time.Second).PID
	if got, want := greeting(t, "tcp", addr2), fmt.Sprintf("pid=%d name=plain", pidPlain); got != want {
		t.Fatalf("plain: %q, want %q", got, want)
	}
	pid := g.waitState("web", services.StateRunning, 5*time.Second).PID
	if got, want := greeting(t, "tcp", addr), fmt.Sprintf("pid=%d name=http", pid); got != want {
		t.Fatalf("tcp: %q, want %q", got, want)
	}
	if got, want := greeting(t, "unix", sock), fmt.Sprintf("pid=%d name=ctl", pid); got != want {
		t.Fatalf("unix: %q, want %q", got, want)
	}
	if out, err := g.client("restart", "web"); err != nil {
		t.Fatalf("restart: %v %s", err, out)
	}
	pid2 := g.waitState("web", services.StateRunning, 5*time.Second).PID
	if pid2 == pid {
		t.Fatalf("restart kept pid %d", pid)
	}
	if got, want := greeting(t, "tcp", addr), fmt.Sprintf("pid=%d name=http", pid2); got != want {
		t.Fatalf("tcp after the restart: %q, want %q", got, want)
	}
}

// D5: a forking daemon (double fork, pidfile) is tracked: status shows the
// daemon, its death is noticed (and it is restarted), stopping kills it.
func TestServicesForkingDaemon(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "d.pid")
	svcFile(t, dir, "d", shCmd(`( setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > `+pidfile+` ); exit 0`)+fmt.Sprintf(`type = "forking"
pidfile = %q
restart_delay = "10ms"
`, pidfile))
	g := startGuest(t, dir, guestOpts{})
	g.waitReady()
	st := g.waitState("d", services.StateRunning, 5*time.Second)
	b, _ := os.ReadFile(pidfile)
	if want, _ := strconv.Atoi(strings.TrimSpace(string(b))); st.PID != want || want == 0 {
		t.Fatalf("status pid %d, pidfile %q", st.PID, b)
	}
	hpid := g.hostPID(st.PID)
	if !alive(hpid) {
		t.Fatalf("daemon %d (host %d) not running", st.PID, hpid)
	}
	// Its death is seen: it is restarted with a new daemon.
	if err := unix.Kill(hpid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	st = g.waitSvc("d", 5*time.Second, "to be restarted", func(s services.Status) bool {
		return s.State == services.StateRunning && s.Restarts == 1 && s.PID != st.PID && s.PID != 0
	})
	if st.LastExit != "killed by SIGKILL" {
		t.Fatalf("last exit %q", st.LastExit)
	}
	hpid = g.hostPID(st.PID)
	if out, err := g.client("stop", "d"); err != nil {
		t.Fatalf("stop: %v %s", err, out)
	}
	if alive(hpid) {
		t.Fatal("the daemon survived its service's stop")
	}
	if st := g.svc("d"); st.State != services.StateStopped {
		t.Fatalf("after stop: %+v", st)
	}
}

// D4: a process that escaped the service's process group (setsid) is
// stopped with the service.
func TestServicesEscapedProcessStopped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	svcFile(t, dir, "esc", shCmd(`setsid sleep 1001 </dev/null & exec sleep 10001`))
	g := startGuest(t, dir, guestOpts{})
	g.waitReady()
	poll(t, 5*time.Second, "both sleeps", func() bool {
		return len(g.procsWithCmdline("sleep", "1001")) == 1 && len(g.procsWithCmdline("sleep", "10001")) == 1
	})
	if out, err := g.client("stop", "esc"); err != nil {
		t.Fatalf("stop: %v %s", err, out)
	}
	if p := g.procsWithCmdline("sleep", "1001"); len(p) != 0 {
		t.Fatalf("the escaped sleep 1001 survived the stop: %v", p)
	}
	if p := g.procsWithCmdline("sleep", "10001"); len(p) != 0 {
		t.Fatalf("the main sleep survived the stop: %v", p)
	}
}

// Reload, by SIGHUP and by "vinit reload": an unchanged service keeps its
// process, a changed one restarts with the new definition, a new one
// starts, a removed one stops, and a broken file keeps the old definition
// running with the error reported.
func TestServicesReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ver := filepath.Join(dir, "version")
	svcFile(t, dir, "keep", `command = "sleep 1000"`+"\n")
	svcFile(t, dir, "change", shCmd(`echo v1 > `+ver+`; exec sleep 1000`))
	svcFile(t, dir, "remove", `command = "sleep 1002"`+"\n")
	svcFile(t, dir, "broken", `command = "sleep 1003"`+"\n")
	g := startGuest(t, dir, guestOpts{})
	g.waitReady()
	pids := map[string]int{}
	for _, n := range []string{"keep", "change", "remove", "broken"} {
		pids[n] = g.waitState(n, services.StateRunning, 5*time.Second).PID
	}
	removeHost := g.hostPID(pids["remove"])

	svcFile(t, dir, "change", shCmd(`echo v2 > `+ver+`; exec sleep 1000`))
	if err := os.Remove(filepath.Join(dir, "cfg", "services", "remove.toml")); err != nil {
		t.Fatal(err)
	}
	svcFile(t, dir, "new", `command = "sleep 1004"`+"\n")
	svcFile(t, dir, "broken", "command = \"sleep 1005\"\nrestrat = \"always\"\n")
	g.signal(unix.SIGHUP)
	g.waitState("new", services.StateRunning, 5*time.Second)
	g.waitSvc("change", 5*time.Second, "to restart", func(s services.Status) bool {
		return s.State == services.StateRunning && s.PID != pids["change"]
	})
	waitFile(t, ver, []byte("v2\n"))
	g.waitSvc("remove", 5*time.Second, "to be gone", func(s services.Status) bool { return s.Name == "" })
	if alive(removeHost) {
		t.Fatal("the removed service's process still runs")
	}
	for _, n := range []string{"keep", "broken"} {
		if st := g.svc(n); st.State != services.StateRunning || st.PID != pids[n] {
			t.Fatalf("%s: %+v, want still running as pid %d", n, st, pids[n])
		}
	}
	poll(t, 5*time.Second, "the broken file's error in the log", func() bool {
		out := g.out.String()
		return strings.Contains(out, `broken.toml:2:1: unknown key "restrat", did you mean "restart"?`) &&
			strings.Contains(out, `service "broken" keeps its old definition`)
	})

	// The same by request: the reply carries the error.
	pids["new"] = g.svc("new").PID
	svcFile(t, dir, "new", `command = "sleep 1006"`+"\n")
	svcFile(t, dir, "new2", `command = "sleep 1007"`+"\n")
	out, err := g.client("reload")
	if err == nil || !strings.Contains(out, `broken.toml:2:1: unknown key "restrat"`) {
		t.Fatalf("vinit reload with a broken file: %v %q, want an error naming it", err, out)
	}
	g.waitState("new2", services.StateRunning, 5*time.Second)
	st := g.waitSvc("new", 5*time.Second, "to restart", func(s services.Status) bool {
		return s.State == services.StateRunning && s.PID != pids["new"]
	})
	if st.Command != "sleep 1006" {
		t.Fatalf("new runs %q", st.Command)
	}
	for _, n := range []string{"keep", "broken"} {
		if st := g.svc(n); st.State != services.StateRunning || st.PID != pids[n] {
			t.Fatalf("%s: %+v, want still running as pid %d", n, st, pids[n])
		}
	}
}

// vinit stop / start / restart NAME.
func TestServicesControlStopStartRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	svcFile(t, dir, "s", `command = "sleep 1000"`+"\n")
	svcFile(t, dir, "off", `command = "sleep 1001"`+"\nenabled = false\n")
	g := startGuest(t, dir, guestOpts{})
	g.waitReady()
	if st := g.svc("off"); st.State != services.StateStopped {
		t.Fatalf("disabled service: %+v", st)
	}
	pid := g.waitState("s", services.StateRunning, 5*time.Second).PID
	hpid := g.hostPID(pid)
	if out, err := g.client("stop", "s"); err != nil {
		t.Fatalf("stop: %v %s", err, out)
	}
	if st := g.svc("s"); st.State != services.StateStopped || st.PID != 0 {
		t.Fatalf("after stop: %+v", st)
	}
	if alive(hpid) {
		t.Fatal("process alive after stop")
	}
	if out, err := g.client("start", "s"); err != nil {
		t.Fatalf("start: %v %s", err, out)
	}
	pid2 := g.waitState("s", services.StateRunning, 5*time.Second).PID
	if pid2 == pid {
		t.Fatalf("start reused pid %d", pid)
	}
	if out, err := g.client("restart", "s"); err != nil {
		t.Fatalf("restart: %v %s", err, out)
	}
	pid3 := g.waitState("s", services.StateRunning, 5*time.Second).PID
	if pid3 == pid2 {
		t.Fatalf("restart kept pid %d", pid2)
	}
	if out, err := g.client("start", "off"); err != nil {
		t.Fatalf("start off: %v %s", err, out)
	}
	g.waitState("off", services.StateRunning, 5*time.Second)
	if out, err := g.client("stop", "nosuch"); err == nil || !strings.Contains(out, `no service "nosuch"`) {
		t.Fatalf("stop of an unknown service: %v %s", err, out)
	}
}

// A6: the main service exits 3: the others are stopped (in order) and
// vinit exits 3.
func TestServicesMainExitStatus(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	order := filepath.Join(dir, "order")
	svcFile(t, dir, "app", shCmd(`sleep 0.3; exit 3`)+"main = true\nrestart = \"never\"\nafter = [\"db\"]\n")
	svcFile(t, dir, "db", shCmd(`trap 'echo db >> `+order+`; exit 0' TERM; while :; do sleep 1 & wait; done`))
	svcFile(t, dir, "side", shCmd(`trap 'echo side >> `+order+`; exit 0' TERM; while :; do sleep 1 & wait; done`)+"after = [\"db\"]\n")
	g := startGuest(t, dir, guestOpts{})
	g.waitReady()
	ws := g.wait(10 * time.Second)
	if got := killedBy(ws); got != "exit status 3" {
		t.Fatalf("parent saw %s, want exit status 3", got)
	}
	if got := strings.Join(readLines(t, order), " "); got != "side db" {
		t.Fatalf("stop order %q, want \"side db\"", got)
	}
}

// cron dies of SIGTERM (status 143): a service that dies of its own stop
// signal while being stopped stopped cleanly; the same signal from
// elsewhere is a failure and restarts it.
func TestServicesDiesOfStopSignal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	svcFile(t, dir, "cron", `command = "sleep 1000"`+"\nrestart_delay = \"10ms\"\n")
	svcFile(t, dir, "intstop", `command = "sleep 1001"`+"\nstop_signal = \"INT\"\n")
	g := startGuest(t, dir, guestOpts{})
	g.waitReady()
	pid := g.waitState("cron", services.StateRunning, 5*time.Second).PID
	if err := unix.Kill(g.hostPID(pid), unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	st := g.waitSvc("cron", 5*time.Second, "to be restarted", func(s services.Status) bool {
		return s.State == services.StateRunning && s.Restarts == 1
	})
	if st.LastExit != "killed by SIGTERM" {
		t.Fatalf("last exit %q", st.LastExit)
	}
	for _, n := range []string{"cron", "intstop"} {
		if out, err := g.client("stop", n); err != nil {
			t.Fatalf("stop %s: %v %s", n, err, out)
		}
		st := g.svc(n)
		want := map[string]string{"cron": "killed by SIGTERM", "intstop": "killed by SIGINT"}[n]
		if st.State != services.StateStopped || st.LastExit != want || st.Reason != "stopped" {
			t.Fatalf("%s after stop: %+v, want stopped, %s", n, st, want)
		}
	}
}

// B7 for services: whatever vinit inherited (SIGINT and SIGQUIT ignored,
// SIGUSR1, SIGUSR2 and SIGTERM blocked), every service starts with default
// dispositions and an empty mask, also through the exec trampoline; and
// vinit still acts on SIGTERM.
func TestServicesCleanSignalState(t *testing.T) {
	t.Parallel()
	helper := svcHelper(t)
	dir := t.TempDir()
	cmd := `command = ["grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"]` + "\ntype = \"oneshot\"\n"
	svcFile(t, dir, "plain", cmd+fmt.Sprintf("stdout = %q\n", filepath.Join(dir, "plain.out")))
	svcFile(t, dir, "wrapped", cmd+fmt.Sprintf("stdout = %q\numask = \"022\"\n", filepath.Join(dir, "wrapped.out")))
	g, r := startGuestPiped(t, dir, []string{helper, "sigwrap", "2,3", "10,12,15", "--"})
	go func() { _, _ = io.Copy(g.out, r) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("vinit output:\n%s", g.out.String())
		}
	})
	// The wrapper hands what it execs that state (checked on grep). The
	// environment may add to it (a runner that ignores signal 32): the
	// wrapper's own bits must be there, whatever else is.
	out, err := exec.Command(helper, "sigwrap", "2,3", "10,12,15", "--", "/bin/grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status").CombinedOutput()
	if err != nil {
		t.Fatalf("the wrapper: %v %q", err, out)
	}
	for _, w := range []struct {
		key  string
		bits uint64
	}{{"SigBlk", 0x4a00}, {"SigIgn", 0x6}} {
		var v uint64
		for _, line := range strings.Split(string(out), "\n") {
			if rest, ok := strings.CutPrefix(line, w.key+":"); ok {
				v, _ = strconv.ParseUint(strings.TrimSpace(rest), 16, 64)
			}
		}
		if v&w.bits != w.bits {
			t.Fatalf("the wrapper does not set up the signal state: %s %#x lacks %#x (%q)", w.key, v, w.bits, out)
		}
	}
	g.waitReady()
	want := []byte("SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n")
	waitFile(t, filepath.Join(dir, "plain.out"), want)
	waitFile(t, filepath.Join(dir, "wrapped.out"), want)
	g.signal(unix.SIGTERM)
	if got := killedBy(g.wait(10 * time.Second)); got != "killed by SIGINT" {
		t.Fatalf("SIGTERM to a vinit started with it blocked: parent saw %s", got)
	}
}

// requires: a service is stopped when what it requires stops, and fails
// when what it requires fails for good.
func TestServicesRequiresFollowsDependency(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	svcFile(t, dir, "db", `command = "sleep 1000"`+"\n")
	svcFile(t, dir, "web", `command = "sleep 1001"`+"\nrequires = [\"db\"]\n")
	svcFile(t, dir, "flaky", `command = "sleep 1002"`+"\nrestart = \"never\"\n")
	svcFile(t, dir, "app", `command = "sleep 1003"`+"\nrequires = [\"flaky\"]\n")
	g := startGuest(t, dir, guestOpts{})
	g.waitReady()
	g.waitState("web", services.StateRunning, 5*time.Second)
	if out, err := g.client("stop", "db"); err != nil {
		t.Fatalf("stop db: %v %s", err, out)
	}
	g.waitState("web", services.StateStopped, 5*time.Second)
	if p := g.procsWithCmdline("sleep", "1001"); len(p) != 0 {
		t.Fatal("web still runs without db")
	}
	// Starting web pulls db in again.
	if out, err := g.client("start", "web"); err != nil {
		t.Fatalf("start web: %v %s", err, out)
	}
	webPID := g.waitState("web", services.StateRunning, 5*time.Second).PID
	g.waitState("db", services.StateRunning, 5*time.Second)
	// Restarting db restarts web with it.
	if out, err := g.client("restart", "db"); err != nil {
		t.Fatalf("restart db: %v %s", err, out)
	}
	g.waitSvc("web", 5*time.Second, "to be restarted with db", func(s services.Status) bool {
		return s.State == services.StateRunning && s.PID != webPID
	})
	// flaky dies and is not restarted: app fails with it.
	pid := g.waitState("flaky", services.StateRunning, 5*time.Second).PID
	if err := unix.Kill(g.hostPID(pid), unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	g.waitState("flaky", services.StateFailed, 5*time.Second)
	st := g.waitState("app", services.StateFailed, 5*time.Second)
	if !strings.Contains(st.Reason, `"flaky"`) {
		t.Fatalf("app: reason %q", st.Reason)
	}
	if p := g.procsWithCmdline("sleep", "1003"); len(p) != 0 {
		t.Fatal("app still runs after flaky failed")
	}
}

// A forking daemon whose parent exits before the daemon has written its
// pidfile (nginx and others write it from the daemon) is still tracked,
// and a stale pidfile from the run before is not believed.
func TestServicesForkingLatePidfile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "late.pid")
	// A stale pidfile naming a live process that is not the daemon.
	if err := os.WriteFile(pidfile, []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	svcFile(t, dir, "late", shCmd(`setsid sh -c 'sleep 0.2; echo $$ > `+pidfile+`; exec sleep 1000' </dev/null >/dev/null 2>&1 & exit 0`)+fmt.Sprintf(`type = "forking"
pidfile = %q
ready = { timeout = "5s" }
`, pidfile))
	g := startGuest(t, dir, guestOpts{})
	g.waitReady()
	st := g.waitState("late", services.StateRunning, 5*time.Second)
	b, _ := os.ReadFile(pidfile)
	if want, _ := strconv.Atoi(strings.TrimSpace(string(b))); st.PID != want || want <= 1 {
		t.Fatalf("status pid %d, pidfile %q", st.PID, b)
	}
	if out, err := g.client("stop", "late"); err != nil {
		t.Fatalf("stop: %v %s", err, out)
	}
	if p := g.procsWithCmdline("sleep", "1000"); len(p) != 0 {
		t.Fatal("the daemon survived the stop")
	}
}

// The watchdog: a service that stops sending WATCHDOG=1 is killed and
// restarted; "vinit reload NAME" sends the reload signal; "vinit log NAME"
// shows the recent output.
func TestServicesWatchdogReloadSignalLog(t *testing.T) {
	t.Parallel()
	helper := svcHelper(t)
	dir := t.TempDir()
	svcFile(t, dir, "dog", fmt.Sprintf(`command = [%q, "notify", "send:READY=1", "send:WATCHDOG=1", "sleep:100ms", "send:WATCHDOG=1"]
type = "notify"
watchdog = "300ms"
restart_delay = "10ms"
stop_timeout = "1s"
`, helper))
	hup := filepath.Join(dir, "hup")
	svcFile(t, dir, "hup", shCmd(`trap 'echo reloaded >> `+hup+`' HUP; echo hello; while :; do sleep 1 & wait; done`))
	g := startGuest(t, dir, guestOpts{})
	g.waitReady()
	// SIGABRT makes a Go program dump its goroutines and exit 2.
	g.waitSvc("dog", 10*time.Second, "to be restarted by the watchdog", func(s services.Status) bool {
		return s.Restarts >= 1 && s.LastExit == "exit status 2"
	})
	if !strings.Contains(g.out.String(), `service "dog": watchdog: no WATCHDOG=1 within 300ms: killing it`) {
		t.Fatal("the watchdog's kill is not in the log")
	}
	if out, err := g.client("reload", "hup"); err != nil {
		t.Fatalf("reload hup: %v %s", err, out)
	}
	poll(t, 5*time.Second, "the reload signal", func() bool { return len(readLines(t, hup)) == 1 })
	out, err := g.client("log", "hup")
	if err != nil || !strings.Contains(out, `"hello"`) {
		t.Fatalf("vinit log hup: %v %s", err, out)
	}
}

// A service the watchdog restarted, healthy now, is left alone: the kill
// timer of the old instance must not hit the new one.
func TestServicesWatchdogRestartedInstanceSurvives(t *testing.T) {
	t.Parallel()
	helper := svcHelper(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "marker")
	svcFile(t, dir, "dog", shCmd(fmt.Sprintf(`if [ -e %s ]; then exec %s notify send:READY=1 every:50ms:WATCHDOG=1; fi; touch %s; exec %s notify send:READY=1`, marker, helper, marker, helper))+`type = "notify"
watchdog = "1500ms"
restart_delay = "10ms"
stop_timeout = "500ms"
stdout = "null"
`)
	g := startGuest(t, dir, guestOpts{})
	st := g.waitSvc("dog", 10*time.Second, "to be restarted by the watchdog", func(s services.Status) bool {
		return s.Restarts == 1 && s.State == services.StateRunning
	})
	time.Sleep(time.Second) // past the first instance's kill timer (500ms after the watchdog fired)
	now := g.svc("dog")
	if now.PID == st.PID && now.Restarts == 1 && now.State == services.StateRunning {
		return
	}
	// A machine loaded enough to starve the pings for 1.5s may make the
	// watchdog fire again; that is no bug. A SIGKILL without a watchdog
	// timeout is.
	fired := strings.Count(g.out.String(), `service "dog": watchdog: no WATCHDOG=1`)
	if now.LastExit == "killed by SIGKILL" || fired != now.Restarts {
		t.Fatalf("the restarted instance was disturbed: %+v, was %+v; the watchdog fired %d times", now, st, fired)
	}
	t.Logf("the watchdog fired %d times (a loaded machine)", fired)
}

// restart_reset: a service that stayed up long enough restarts after the
// first delay again, not a doubled one. A stop during the backoff stops it.
func TestServicesBackoffResetAndStopInBackoff(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stamps := filepath.Join(dir, "stamps")
	svcFile(t, dir, "stable", shCmd(`date +%s%N >> `+stamps+`; sleep 0.4; exit 1`)+`restart_delay = "200ms"
restart_max_delay = "5s"
restart_reset = "300ms"
start_limit = { burst = 0 }
`)
	svcFile(t, dir, "crash", shCmd(`exit 1`)+`restart_delay = "1s"
start_limit = { burst = 0 }
`)
	g := startGuest(t, dir, guestOpts{})
	g.waitState("crash", services.StateBackoff, 5*time.Second)
	if out, err := g.client("stop", "crash"); err != nil {
		t.Fatalf("stop: %v %s", err, out)
	}
	poll(t, 15*time.Second, "6 starts of stable", func() bool { return len(readLines(t, stamps)) >= 6 })
	lines := readLines(t, stamps)
	// Reset each time: 0.4s up + 0.2s ±10%. Without the reset the delays
	// would double: the fourth and fifth gaps would be at least 1.84s and
	// 3.28s. A loaded machine may stretch any one gap, so the reset is
	// checked on the better of those two.
	var gaps []time.Duration
	for i := 1; i < 6; i++ {
		a, _ := strconv.ParseInt(lines[i-1], 10, 64)
		b, _ := strconv.ParseInt(lines[i], 10, 64)
		gap := time.Duration(b - a)
		gaps = append(gaps, gap)
		t.Logf("start %d after %v", i+1, gap.Round(time.Millisecond))
		if gap < 580*time.Millisecond {
			t.Errorf("start %d came %v after the one before, want 0.4s up + 0.2s ±10%% delay", i+1, gap)
		}
	}
	if best := min(gaps[3], gaps[4]); best > 1500*time.Millisecond {
		t.Errorf("starts 5 and 6 came %v and %v after the one before, want about 0.6s (the delay reset)", gaps[3], gaps[4])
	}
	if st := g.svc("crash"); st.State != services.StateStopped || st.Restarts != 1 {
		t.Fatalf("crash after a stop in its backoff: %+v", st)
	}
}

// sd_notify from a service running as another user reaches vinit.
func TestServicesNotifyAsUser(t *testing.T) {
	t.Parallel()
	helper := svcHelper(t)
	dir := t.TempDir()
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	svcFile(t, dir, "n", fmt.Sprintf("command = [%q, \"notify\", \"send:READY=1\"]\ntype = \"notify\"\nuser = \"nobody\"\nready = { timeout = \"5s\" }\n", helper))
	g := startGuest(t, dir, guestOpts{})
	g.waitReady()
	if st := g.svc("n"); st.State != services.StateRunning {
		t.Fatalf("n: %+v\n%s", st, g.out.String())
	}
}

// A forking daemon whose pidfile never comes fails at the start timeout
// with a reason naming the pidfile, and the daemon is killed; one stopped
// while vinit still waits for its pidfile stops at once.
func TestServicesForkingNoPidfile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	svcFile(t, dir, "never", shCmd(`setsid sleep 2001 </dev/null >/dev/null 2>&1 & exit 0`)+fmt.Sprintf(`type = "forking"
pidfile = %q
ready = { timeout = "500ms" }
restart = "never"
`, filepath.Join(dir, "never.pid")))
	svcFile(t, dir, "waiting", shCmd(`setsid sleep 2002 </dev/null >/dev/null 2>&1 & exit 0`)+fmt.Sprintf(`type = "forking"
pidfile = %q
ready = { timeout = "0" }
stop_timeout = "10s"
`, filepath.Join(dir, "waiting.pid")))
	g := startGuest(t, dir, guestOpts{})
	st := g.waitState("never", services.StateFailed, 5*time.Second)
	if want := "forking: no running daemon named in " + filepath.Join(dir, "never.pid") + " within 500ms"; st.Reason != want {
		t.Fatalf("never: reason %q, want %q", st.Reason, want)
	}
	poll(t, 5*time.Second, "the unnamed daemon to be killed", func() bool { return len(g.procsWithCmdline("sleep", "2001")) == 0 })
	g.waitState("waiting", services.StateStarting, 5*time.Second)
	poll(t, 5*time.Second, "the waiting daemon", func() bool { return len(g.procsWithCmdline("sleep", "2002")) == 1 })
	took := timed(func() {
		if out, err := g.client("stop", "waiting"); err != nil {
			t.Fatalf("stop: %v %s", err, out)
		}
	})
	if took > 2*time.Second {
		t.Fatalf("stop of a forking service waiting for its pidfile took %v", took)
	}
	if len(g.procsWithCmdline("sleep", "2002")) != 0 {
		t.Fatal("the daemon survived the stop")
	}
	if st := g.svc("waiting"); st.State != services.StateStopped {
		t.Fatalf("waiting: %+v", st)
	}
}
