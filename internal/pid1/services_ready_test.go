package pid1

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vserver-go/vserver/internal/services"
)

// H1: "after" orders the starts: a, then b, then c, each after the one
// before is ready (for a oneshot: has finished).
func TestServicesStartOrder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	order := filepath.Join(dir, "order")
	svcFile(t, dir, "a", shCmd(`sleep 0.2; echo a; echo a >> `+order)+"type = \"oneshot\"\n")
	svcFile(t, dir, "b", shCmd(`sleep 0.2; echo b; echo b >> `+order)+"type = \"oneshot\"\nafter = [\"a\"]\n")
	svcFile(t, dir, "c", shCmd(`echo c; echo c >> `+order)+"after = [\"b\"]\n")
	g := startGuest(t, dir, guestOpts{})
	g.waitReady()
	poll(t, 5*time.Second, "c's output", func() bool { return len(readLines(t, order)) == 3 })
	if got := strings.Join(readLines(t, order), " "); got != "a b c" {
		t.Fatalf("started in the order %q, want a b c", got)
	}
	// Each one's output reached the console, tagged with its name (the
	// lines of different services may interleave: each has its reader).
	poll(t, 5*time.Second, "the console lines", func() bool {
		out := g.out.String()
		return strings.Contains(out, " a: a\n") && strings.Contains(out, " b: b\n") && strings.Contains(out, " c: c\n")
	})
	for _, n := range []string{"a", "b"} {
		if st := g.svc(n); st.State != services.StateDone {
			t.Fatalf("%s: %+v, want done", n, st)
		}
	}
}

// H2: a service with ready = { fd = N } that never writes a newline stays
// starting and what is after it waits; with a timeout it fails, its
// process is killed, and an "after" dependent starts while a "requires"
// dependent fails. A bad fd number is a configuration error.
func TestServicesReadyFDNeverWritten(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	svcFile(t, dir, "silent", shCmd(`exec sleep 1000`)+"ready = { fd = 3, timeout = \"0\" }\n")
	svcFile(t, dir, "nonewline", shCmd(`printf x >&3; exec sleep 1000`)+"ready = { fd = 3, timeout = \"0\" }\n")
	svcFile(t, dir, "closed", shCmd(`exec 3>&-; exec sleep 1000`)+"ready = { fd = 4, timeout = \"0\" }\n")
	svcFile(t, dir, "timesout", shCmd(`exec sleep 1000`)+"ready = { fd = 3, timeout = \"1s\" }\n")
	svcFile(t, dir, "badfd", shCmd(`exec sleep 1000`)+"ready = { fd = 1 }\n")
	for _, n := range []string{"silent", "nonewline", "closed"} {
		svcFile(t, dir, "after-"+n, `command = "sleep 1000"`+"\n"+fmt.Sprintf("after = [%q]\n", n))
	}
	svcFile(t, dir, "after-timesout", `command = "sleep 1000"`+"\nafter = [\"timesout\"]\n")
	svcFile(t, dir, "requires-timesout", `command = "sleep 1000"`+"\nrequires = [\"timesout\"]\n")
	g := startGuest(t, dir, guestOpts{})
	pid := g.waitState("timesout", services.StateStarting, 5*time.Second).PID
	hpid := g.hostPID(pid)
	st := g.waitState("timesout", services.StateFailed, 5*time.Second)
	if st.Reason != "not ready within 1s" {
		t.Fatalf("timesout: reason %q", st.Reason)
	}
	poll(t, 5*time.Second, "the unready process to be killed", func() bool { return !alive(hpid) })
	g.waitState("after-timesout", services.StateRunning, 5*time.Second)
	if st := g.waitState("requires-timesout", services.StateFailed, 5*time.Second); !strings.Contains(st.Reason, `"timesout"`) {
		t.Fatalf("requires-timesout: reason %q", st.Reason)
	}
	// A second has passed: the others still wait.
	for _, n := range []string{"silent", "nonewline", "closed"} {
		if st := g.svc(n); st.State != services.StateStarting {
			t.Errorf("%s: %+v, want still starting", n, st)
		}
		if st := g.svc("after-" + n); st.State != services.StateWaiting {
			t.Errorf("after-%s: %+v, want waiting", n, st)
		}
	}
	if st := g.svc("badfd"); st.State != services.StateFailed || !strings.Contains(st.Reason, "badfd.toml:") {
		t.Errorf("badfd: %+v, want failed with the file's position", st)
	}
}

// H3: the dependent starts only once the newline arrives on the fd.
func TestServicesReadyFD(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	svcFile(t, dir, "s", shCmd(`sleep 0.3; echo newline >> `+log+`; echo >&5; exec sleep 1000`)+"ready = { fd = 5 }\n")
	svcFile(t, dir, "d", shCmd(`echo d-started >> `+log+`; exec sleep 1000`)+"after = [\"s\"]\n")
	g := startGuest(t, dir, guestOpts{})
	g.waitReady()
	g.waitState("d", services.StateRunning, 5*time.Second)
	if got := strings.Join(readLines(t, log), " "); got != "newline d-started" {
		t.Fatalf("log %q, want the newline before d started", got)
	}
	if st := g.svc("s"); st.State != services.StateRunning {
		t.Fatalf("s: %+v", st)
	}
}

// H4: sd_notify READY=1, from Debian's systemd-notify (a child of the
// service, so notify_access = "all") and from the main process itself
// (at once, before vinit could have looked, and after a while). With
// notify_access = "main", a child's READY=1 does not count.
func TestServicesReadyNotify(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("systemd-notify"); err != nil {
		t.Skip("systemd-notify not installed (Debian package systemd)")
	}
	helper := svcHelper(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	svcFile(t, dir, "sdnotify", shCmd(`sleep 0.3; echo sending >> `+log+`; systemd-notify --ready --status=hello; exec sleep 1000`)+`type = "notify"
notify_access = "all"
`)
	svcFile(t, dir, "after-sdnotify", shCmd(`echo after-sdnotify >> `+log+`; exec sleep 1000`)+"after = [\"sdnotify\"]\n")
	svcFile(t, dir, "mainlate", fmt.Sprintf("command = [%q, \"notify\", \"sleep:300ms\", \"send:READY=1\"]\ntype = \"notify\"\n", helper))
	svcFile(t, dir, "after-mainlate", shCmd(`echo after-mainlate >> `+log+`; exec sleep 1000`)+"after = [\"mainlate\"]\n")
	svcFile(t, dir, "mainearly", fmt.Sprintf("command = [%q, \"notify\", \"send:READY=1\"]\nready = { notify = true }\n", helper))
	svcFile(t, dir, "childonly", fmt.Sprintf("command = [%q, \"notify\", \"child:READY=1\", \"send:STATUS=main-said\"]\ntype = \"notify\"\n", helper))
	g := startGuest(t, dir, guestOpts{})
	g.waitState("after-sdnotify", services.StateRunning, 5*time.Second)
	g.waitState("after-mainlate", services.StateRunning, 5*time.Second)
	g.waitState("mainearly", services.StateRunning, 5*time.Second)
	lines := readLines(t, log)
	pos := map[string]int{}
	for i, l := range lines {
		pos[l] = i + 1
	}
	if pos["sending"] == 0 || pos["after-sdnotify"] < pos["sending"] {
		t.Fatalf("log %q: after-sdnotify started before READY=1 was sent", lines)
	}
	if st := g.svc("sdnotify"); st.State != services.StateRunning || st.NotifyState != "hello" {
		t.Fatalf("sdnotify: %+v, want running with status hello", st)
	}
	// The main process's STATUS= arrives after the child's READY=1: once
	// it is seen, the READY=1 was seen too, and ignored.
	st := g.waitSvc("childonly", 5*time.Second, "to show the main process's status", func(st services.Status) bool { return st.NotifyState == "main-said" })
	if st.State != services.StateStarting {
		t.Fatalf("childonly: %+v: a child's READY=1 counted with notify_access = main", st)
	}
}

// H6: tcp, unix, file and command readiness checks gate the dependents;
// a check that never passes fails the service at its timeout.
func TestServicesReadyChecks(t *testing.T) {
	t.Parallel()
	helper := svcHelper(t)
	dir := t.TempDir()
	port := freePort(t)
	sock := filepath.Join(dir, "ready.sock")
	file, flag := filepath.Join(dir, "ready.file"), filepath.Join(dir, "ready.flag")
	svcFile(t, dir, "tcp", fmt.Sprintf("command = [\"/bin/sh\", \"-c\", 'sleep 0.3; exec %s listen 127.0.0.1:%d']\nready = { tcp = \"127.0.0.1:%d\", interval = \"20ms\" }\n", helper, port, port))
	svcFile(t, dir, "after-tcp", shCmd(fmt.Sprintf(`if bash -c 'echo > /dev/tcp/127.0.0.1/%d'; then echo open; else echo closed; fi > %s/after-tcp; exec sleep 1000`, port, dir))+"after = [\"tcp\"]\n")
	svcFile(t, dir, "unix", fmt.Sprintf("command = [\"/bin/sh\", \"-c\", 'sleep 0.3; exec %s listen unix:%s']\nready = { unix = %q }\n", helper, sock, sock))
	svcFile(t, dir, "after-unix", shCmd(fmt.Sprintf(`[ -S %s ] && echo open > %s/after-unix; exec sleep 1000`, sock, dir))+"after = [\"unix\"]\n")
	svcFile(t, dir, "file", shCmd(`sleep 0.3; touch `+file+`; exec sleep 1000`)+fmt.Sprintf("ready = { file = %q }\n", file))
	svcFile(t, dir, "after-file", shCmd(fmt.Sprintf(`[ -e %s ] && echo open > %s/after-file; exec sleep 1000`, file, dir))+"after = [\"file\"]\n")
	svcFile(t, dir, "command", shCmd(`sleep 0.3; touch `+flag+`; exec sleep 1000`)+fmt.Sprintf("ready = { command = [\"test\", \"-e\", %q] }\n", flag))
	svcFile(t, dir, "after-command", shCmd(fmt.Sprintf(`[ -e %s ] && echo open > %s/after-command; exec sleep 1000`, flag, dir))+"after = [\"command\"]\n")
	svcFile(t, dir, "deadport", `command = "sleep 1000"`+"\n"+fmt.Sprintf("ready = { tcp = \"127.0.0.1:%d\", timeout = \"500ms\" }\n", freePort(t)))
	svcFile(t, dir, "deadcmd", `command = "sleep 1000"`+"\nready = { command = \"false\", timeout = \"500ms\" }\n")
	g := startGuest(t, dir, guestOpts{})
	g.waitReady()
	for _, n := range []string{"tcp", "unix", "file", "command"} {
		g.waitState("after-"+n, services.StateRunning, 5*time.Second)
		poll(t, 5*time.Second, "after-"+n+"'s verdict", func() bool { return len(readLines(t, filepath.Join(dir, "after-"+n))) > 0 })
		if got := readLines(t, filepath.Join(dir, "after-"+n)); len(got) != 1 || got[0] != "open" {
			t.Errorf("after-%s started when the check would have failed: %q", n, got)
		}
	}
	for _, n := range []string{"deadport", "deadcmd"} {
		if st := g.svc(n); st.State != services.StateFailed || st.Reason != "not ready within 500ms" {
			t.Errorf("%s: %+v, want failed: not ready within 500ms", n, st)
		}
	}
}

// H7: a dependency on a missing service and a dependency cycle: "vinit
// check" names file:line:col and fails; at run time only the bad services
// fail and the others run.
func TestServicesBadDependencies(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	svcFile(t, dir, "orphan", "command = \"sleep 1000\"\nrequires = [\"nope\"]\n")
	svcFile(t, dir, "b", "command = \"sleep 1000\"\nafter = [\"c\"]\n")
	svcFile(t, dir, "c", "command = \"sleep 1000\"\nafter = [\"b\"]\n")
	svcFile(t, dir, "good", "command = \"sleep 1000\"\n")
	cfg := filepath.Join(dir, "cfg")
	cmd := exec.Command(vinitBin(t), "check", cfg)
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); err == nil || code == 0 {
		t.Fatalf("vinit check passed a bad configuration: %s", out)
	}
	for _, want := range []string{
		filepath.Join(cfg, "services", "orphan.toml") + `:2:13: requires: unknown service "nope"`,
		filepath.Join(cfg, "services", "b.toml") + `:2:10: after: dependency cycle: b -> c -> b`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("vinit check output lacks %q:\n%s", want, out)
		}
	}
	g := startGuest(t, dir, guestOpts{})
	g.waitReady()
	if st := g.svc("good"); st.State != services.StateRunning {
		t.Fatalf("good: %+v", st)
	}
	for n, want := range map[string]string{
		"orphan": "orphan.toml:2:13: requires: unknown service",
		"b":      "b.toml:2:10: after: dependency cycle",
		"c":      "b.toml:2:10: after: dependency cycle", // reported once, at the cycle's first service
	} {
		if st := g.svc(n); st.State != services.StateFailed || !strings.Contains(st.Reason, want) {
			t.Errorf("%s: %+v, want failed: %s", n, st, want)
		}
	}
	for _, op := range []string{"start", "restart"} {
		if out, err := g.client(op, "orphan"); err == nil || !strings.Contains(out, `service "orphan" cannot run`) {
			t.Errorf("vinit %s of a service that cannot run: %v %q, want an error", op, err, out)
		}
	}
	if !strings.Contains(g.out.String(), `requires: unknown service "nope"`) {
		t.Errorf("the error is not in vinit's log:\n%s", g.out.String())
	}
}
