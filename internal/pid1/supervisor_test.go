package pid1

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// J1, J2, J4: reboot and halt from inside end the namespace the way the
// parent (the vserver monitor, LXC, a test) can tell apart, after running the
// stop hooks with the reason.
func TestRebootHaltPoweroffFromInside(t *testing.T) {
	for _, tc := range []struct {
		op, want string
	}{
		{"reboot", "killed by SIGHUP"},
		{"halt", "killed by SIGINT"},
		{"poweroff", "killed by SIGINT"},
	} {
		t.Run(tc.op, func(t *testing.T) {
			dir := t.TempDir()
			log := filepath.Join(dir, "hooks.log")
			for _, ph := range []string{"pre-start", "post-start", "pre-stop", "post-stop"} {
				hook(t, dir, ph, "10-log", `echo "$VINIT_PHASE $VINIT_REASON" >> `+log)
			}
			g := startGuest(t, dir, guestOpts{})
			g.waitReady()
			if out, err := g.client(tc.op); err != nil {
				t.Fatalf("vinit %s: %v %s", tc.op, err, out)
			}
			if ev := g.event(5 * time.Second); ev != `{"event":"stopping","reason":"`+tc.op+`"}` {
				t.Fatalf("event %q", ev)
			}
			if got := killedBy(g.wait(10 * time.Second)); got != tc.want {
				t.Fatalf("parent saw %s, want %s", got, tc.want)
			}
			want := []string{"pre-start boot", "post-start boot", "pre-stop " + tc.op, "post-stop " + tc.op}
			if got := readLines(t, log); strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("hooks ran %q, want %q", got, want)
			}
		})
	}
}

// B5: every host convention for "stop" and "reboot" is acted on.
func TestHostSignalConventions(t *testing.T) {
	for _, tc := range []struct {
		sig  unix.Signal
		want string
	}{
		{unix.SIGTERM, "killed by SIGINT"},
		{unix.SIGPWR, "killed by SIGINT"},
		{sigHaltSystemd, "killed by SIGINT"},
		{unix.SIGUSR1, "killed by SIGINT"},
		{unix.SIGUSR2, "killed by SIGINT"},
		{sigPoweroffSystemd, "killed by SIGINT"},
		{unix.SIGINT, "killed by SIGHUP"},
		{sigRebootSystemd, "killed by SIGHUP"},
	} {
		t.Run(SignalName(tc.sig), func(t *testing.T) {
			g := startGuest(t, t.TempDir(), guestOpts{})
			g.waitReady()
			g.signal(tc.sig)
			if got := killedBy(g.wait(10 * time.Second)); got != tc.want {
				t.Fatalf("after %s the parent saw %s, want %s", SignalName(tc.sig), got, tc.want)
			}
		})
	}
}

// Signals vinit does not act on (SIGHUP before services, SIGPIPE, SIGALRM,
// job control) must neither kill nor stop it.
func TestOtherSignalsAreHarmless(t *testing.T) {
	g := startGuest(t, t.TempDir(), guestOpts{})
	g.waitReady()
	for _, s := range []unix.Signal{unix.SIGHUP, unix.SIGPIPE, unix.SIGALRM, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, unix.SIGWINCH, unix.SIGQUIT, unix.SIGVTALRM} {
		g.signal(s)
	}
	if out, err := g.client("ping"); err != nil {
		t.Fatalf("vinit does not answer after harmless signals: %v %s", err, out)
	}
	st, _ := os.ReadFile("/proc/" + strconv.Itoa(g.cmd.Process.Pid) + "/stat")
	if f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+1:])); len(f) == 0 || f[0] == "T" {
		t.Fatalf("vinit is stopped: %s", st)
	}
}

// F7: a process that ignores SIGTERM is killed at the end of the budget, and
// the whole shutdown stays within it. B6: a second signal skips the wait.
func TestShutdownBudgetAndEscalation(t *testing.T) {
	// The hook waits until the stray has left its process group (the hook
	// runner kills the hook's group when the hook ends).
	stray := func(dir string) string {
		f := filepath.Join(dir, "stray.pid")
		return `setsid sh -c 'trap "" TERM; echo $$ > ` + f + `; while :; do sleep 1; done' </dev/null >/dev/null 2>&1 &
while [ ! -s ` + f + ` ]; do sleep 0.01; done`
	}
	t.Run("budget", func(t *testing.T) {
		dir := t.TempDir()
		hook(t, dir, "post-start", "stray", stray(dir))
		g := startGuest(t, dir, guestOpts{args: []string{"--shutdown-timeout", "1500ms"}})
		g.waitReady()
		start := time.Now()
		g.signal(unix.SIGTERM)
		if got := killedBy(g.wait(10 * time.Second)); got != "killed by SIGINT" {
			t.Fatalf("parent saw %s", got)
		}
		if took := time.Since(start); took > 2500*time.Millisecond || took < 1000*time.Millisecond {
			t.Fatalf("shutdown with a SIGTERM-proof process took %v, want about the 1.5s budget", took)
		}
	})
	t.Run("second-signal", func(t *testing.T) {
		dir := t.TempDir()
		hook(t, dir, "post-start", "stray", stray(dir))
		g := startGuest(t, dir, guestOpts{args: []string{"--shutdown-timeout", "60s"}})
		g.waitReady()
		start := time.Now()
		g.signal(unix.SIGTERM)
		if ev := g.event(5 * time.Second); !strings.Contains(ev, "stopping") {
			t.Fatalf("event %q", ev)
		}
		g.signal(unix.SIGTERM)
		g.wait(10 * time.Second)
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("a second SIGTERM did not hurry the shutdown: %v", took)
		}
	})
	t.Run("nothing-left-no-wait", func(t *testing.T) { // F3
		g := startGuest(t, t.TempDir(), guestOpts{args: []string{"--shutdown-timeout", "30s"}})
		g.waitReady()
		start := time.Now()
		g.signal(unix.SIGTERM)
		g.wait(10 * time.Second)
		if took := time.Since(start); took > time.Second {
			t.Fatalf("shutdown with nothing to stop took %v", took)
		}
	})
}

// Without CAP_SYS_BOOT (Docker's default) a reboot re-executes vinit in
// place and a halt exits 0.
func TestRebootWithoutCapSysBoot(t *testing.T) {
	dir := t.TempDir()
	boots := filepath.Join(dir, "boots")
	hook(t, dir, "post-start", "count", "echo boot >> "+boots)
	g := startGuest(t, dir, guestOpts{dropSysBoot: true})
	g.waitReady()
	if out, err := g.client("reboot"); err != nil {
		t.Fatalf("reboot: %v %s", err, out)
	}
	if ev := g.event(5 * time.Second); !strings.Contains(ev, `"reboot"`) {
		t.Fatalf("event %q", ev)
	}
	// The re-executed vinit boots again and says so on the same channel.
	g.waitReady()
	if n := len(readLines(t, boots)); n != 2 {
		t.Fatalf("booted %d times, want 2", n)
	}
	if out, err := g.client("halt"); err != nil {
		t.Fatalf("halt: %v %s", err, out)
	}
	if got := killedBy(g.wait(10 * time.Second)); got != "exit status 0" {
		t.Fatalf("halt without CAP_SYS_BOOT: parent saw %s, want exit status 0", got)
	}
}

func TestPrestartFailureFailsBoot(t *testing.T) {
	dir := t.TempDir()
	hook(t, dir, "pre-start", "10-fail", "echo cannot prepare >&2; exit 4")
	hook(t, dir, "post-start", "10-never", "touch "+filepath.Join(dir, "post-start-ran"))
	g := startGuest(t, dir, guestOpts{})
	if got := killedBy(g.wait(10 * time.Second)); got != "exit status 1" {
		t.Fatalf("parent saw %s, want exit status 1", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "post-start-ran")); err == nil {
		t.Fatal("post-start hooks ran after a failed pre-start")
	}
	out := g.out.String()
	if !strings.Contains(out, "pre-start: 10-fail: cannot prepare") || !strings.Contains(out, `pre-start hook "10-fail": exit status 4`) {
		t.Fatalf("the failure is not explained in the log:\n%s", out)
	}
}

// The control socket is root's only: mode 0600, and the peer's uid is
// checked even if someone loosens the mode.
func TestControlSocketOnlyForRoot(t *testing.T) {
	g := startGuest(t, t.TempDir(), guestOpts{})
	g.waitReady()
	fi, err := os.Stat(g.control)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("control socket mode %v, want 0600", fi.Mode().Perm())
	}
	if err := os.Chmod(g.control, 0o666); err != nil {
		t.Fatal(err)
	}
	for d := g.dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(vinitBin(t), "halt", "--control", g.control)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("uid 65534 could halt vinit: %s", out)
	}
	if out, err := g.client("ping"); err != nil {
		t.Fatalf("vinit gone after a refused request: %v %s", err, out)
	}
	poll(t, 5*time.Second, "the refusal in vinit's log", func() bool {
		return strings.Contains(g.out.String(), "refused a connection from uid 65534")
	})
}

// Bad requests get an error reply naming the problem; vinit keeps running.
func TestBadControlRequests(t *testing.T) {
	g := startGuest(t, t.TempDir(), guestOpts{})
	g.waitReady()
	c, err := net.Dial("unix", g.control)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for _, tc := range []struct{ send, want string }{
		{"not json\n", `bad request`},
		{`{"op":"rm -rf /"}` + "\n", `unknown operation \"rm -rf /\"`},
		{strings.Repeat("x", 70000) + "\n", "longer than 64 KiB"},
		{"\xff\xfe\n", "not valid UTF-8"},
		{`{"op":"ping"}` + "\n", `"ok":true`},
	} {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte(tc.send)); err != nil {
			t.Fatal(err)
		}
		line, err := br.ReadString('\n')
		if err != nil || !strings.Contains(line, tc.want) {
			t.Fatalf("sent %.40q: reply %q (%v), want it to contain %q", tc.send, line, err, tc.want)
		}
	}
	if out, err := g.client("status"); err != nil || !strings.Contains(out, `"state":"running"`) {
		t.Fatalf("status after bad input: %v %s", err, out)
	}
}

// The 2003 vreboot protocol on /dev/reboot.
func TestDevRebootProtocol(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "reboot")
	g := startGuest(t, dir, guestOpts{args: []string{"--reboot-socket", sock}})
	g.waitReady()
	send := func(s string) string {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(c).ReadString('\n')
		return line
	}
	if got := send("format c:\n"); !strings.HasPrefix(got, "error") {
		t.Fatalf("garbage got %q", got)
	}
	if got := send("reboot\n"); got != "ok\n" {
		t.Fatalf("reboot got %q", got)
	}
	if got := killedBy(g.wait(10 * time.Second)); got != "killed by SIGHUP" {
		t.Fatalf("parent saw %s", got)
	}
}

// READY=1 and STOPPING=1 reach the NOTIFY_SOCKET of whoever started vinit
// (systemd, a launcher), and the variable is not passed on to children.
func TestSdNotify(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "notify")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	hook(t, dir, "post-start", "env", `echo "NOTIFY_SOCKET=${NOTIFY_SOCKET-unset}" > `+filepath.Join(dir, "env"))
	g := startGuest(t, dir, guestOpts{notifySocket: path})
	read := func() string {
		buf := make([]byte, 512)
		_ = ln.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := ln.Read(buf)
		if err != nil {
			t.Fatalf("no notification: %v", err)
		}
		return string(buf[:n])
	}
	if got := read(); got != "READY=1" {
		t.Fatalf("got %q, want READY=1", got)
	}
	g.signal(unix.SIGTERM)
	if got := read(); got != "STOPPING=1" {
		t.Fatalf("got %q, want STOPPING=1", got)
	}
	g.wait(10 * time.Second)
	if got := readLines(t, filepath.Join(dir, "env")); len(got) != 1 || got[0] != "NOTIFY_SOCKET=unset" {
		t.Fatalf("a hook saw %q", got)
	}
}

// The monitor channel answers requests too, and survives garbage.
func TestMonitorChannelRequests(t *testing.T) {
	g := startGuest(t, t.TempDir(), guestOpts{})
	g.waitReady()
	if _, err := g.mon.Write([]byte("garbage\n{\"id\":9,\"op\":\"status\"}\n")); err != nil {
		t.Fatal(err)
	}
	if ev := g.event(5 * time.Second); !strings.Contains(ev, `"ok":false`) || !strings.Contains(ev, "bad request") {
		t.Fatalf("reply to garbage: %q", ev)
	}
	if ev := g.event(5 * time.Second); !strings.Contains(ev, `"id":9`) || !strings.Contains(ev, `"state":"running"`) {
		t.Fatalf("reply to status: %q", ev)
	}
	if _, err := g.mon.Write([]byte(`{"id":10,"op":"reboot"}` + "\n")); err != nil {
		t.Fatal(err)
	}
	if got := killedBy(g.wait(10 * time.Second)); got != "killed by SIGHUP" {
		t.Fatalf("parent saw %s", got)
	}
}

// Orphans reparented to vinit in supervisor mode are reaped: no zombie is
// left and they are counted.
func TestSupervisorReapsOrphans(t *testing.T) {
	dir := t.TempDir()
	// 2000 double-forked children that exit at once, made by a hook.
	hook(t, dir, "post-start", "orphans", `i=0; while [ $i -lt 2000 ]; do ( true & ) ; i=$((i+1)); done`)
	g := startGuest(t, dir, guestOpts{})
	g.waitReady()
	poll(t, 20*time.Second, "2000 orphans reaped", func() bool {
		out, err := g.client("status")
		if err != nil {
			return false
		}
		i := strings.Index(out, `"orphans_reaped":`)
		if i < 0 {
			return false
		}
		n, _ := strconv.Atoi(strings.TrimRight(strings.SplitN(out[i+17:], ",", 2)[0], "}\n"))
		return n >= 2000
	})
	zombies := 0
	for _, p := range descendants(g.cmd.Process.Pid) {
		st, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat")
		if i := strings.LastIndexByte(string(st), ')'); i > 0 && strings.HasPrefix(string(st[i+1:]), " Z") {
			zombies++
		}
	}
	if zombies != 0 {
		t.Fatalf("%d zombies left", zombies)
	}
}

// On an interactive console a person's Ctrl-C means stop, not reboot.
func TestCtrlCOnTerminalHalts(t *testing.T) {
	master, slave, err := openPTY()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer master.Close()
	go func() { _, _ = bufio.NewReader(master).WriteTo(discard{}) }()
	g := startGuest(t, t.TempDir(), guestOpts{stdio: slave})
	slave.Close()
	g.waitReady()
	g.signal(unix.SIGINT)
	if got := killedBy(g.wait(10 * time.Second)); got != "killed by SIGINT" {
		t.Fatalf("Ctrl-C on a terminal: parent saw %s, want a halt (killed by SIGINT)", got)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func openPTY() (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, err
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return m, s, nil
}
