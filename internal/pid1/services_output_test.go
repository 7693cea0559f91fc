package pid1

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vserver-go/vserver/internal/services"
	"golang.org/x/sys/unix"
)

// waitFile polls until path holds exactly want.
func waitFile(t *testing.T, path string, want []byte) {
	t.Helper()
	var got []byte
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _ = os.ReadFile(path)
		if bytes.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %q, want %q", path, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// I1: stdout and stderr each land exactly where configured.
func TestServicesOutputRedirection(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	script := func(n string) string { return shCmd(`echo out-`+n+`; echo err-`+n+` >&2`) + "type = \"oneshot\"\n" }
	svcFile(t, dir, "s1", script("s1")+fmt.Sprintf("stderr = %q\n", filepath.Join(dir, "s1.err")))
	svcFile(t, dir, "s2", script("s2")+fmt.Sprintf("stdout = %q\nstderr = \"null\"\n", filepath.Join(dir, "s2.out")))
	svcFile(t, dir, "s3", script("s3")+fmt.Sprintf("stdout = %q\n", filepath.Join(dir, "s3.log")))
	svcFile(t, dir, "s4", script("s4")+"stdout = \"null\"\nstderr = \"console\"\n")
	svcFile(t, dir, "s5", script("s5"))
	g := startGuest(t, dir, guestOpts{})
	g.waitReady()
	waitFile(t, filepath.Join(dir, "s1.err"), []byte("err-s1\n"))
	waitFile(t, filepath.Join(dir, "s2.out"), []byte("out-s2\n"))
	waitFile(t, filepath.Join(dir, "s3.log"), []byte("out-s3\nerr-s3\n"))
	poll(t, 5*time.Second, "the console lines", func() bool {
		return len(consoleLines(g.out.String(), "s4")) > 0 && len(consoleLines(g.out.String(), "s5")) > 1
	})
	for n, want := range map[string]string{"s1": "out-s1", "s2": "", "s3": "", "s4": "err-s4", "s5": "out-s5|err-s5"} {
		if got := strings.Join(consoleLines(g.out.String(), n), "|"); got != want {
			t.Errorf("%s on the console: %q, want %q", n, got, want)
		}
	}
	if out := g.out.String(); strings.Contains(out, "err-s2") || strings.Contains(out, "out-s4") {
		t.Errorf("output sent to null reached the console:\n%s", out)
	}
}

// I2: size rotation: 500 bytes in 10-byte lines with log_max_size = 50
// make ten files of five lines each, oldest in FILE.9; log_keep bounds
// how many rotated files are kept.
func TestServicesLogRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	script := shCmd(`i=1; while [ $i -le 50 ]; do printf 'line-%04d\n' $i; i=$((i+1)); done`) + "type = \"oneshot\"\nlog_max_size = 50\n"
	svcFile(t, dir, "all", script+fmt.Sprintf("stdout = %q\nlog_keep = 20\n", filepath.Join(dir, "all.log")))
	svcFile(t, dir, "three", script+fmt.Sprintf("stdout = %q\nlog_keep = 3\n", filepath.Join(dir, "three.log")))
	g := startGuest(t, dir, guestOpts{})
	g.waitReady()
	chunk := func(i int) []byte { // lines 5i+1 .. 5i+5
		var b bytes.Buffer
		for n := 5*i + 1; n <= 5*i+5; n++ {
			fmt.Fprintf(&b, "line-%04d\n", n)
		}
		return b.Bytes()
	}
	for _, n := range []string{"all", "three"} {
		base := filepath.Join(dir, n+".log")
		waitFile(t, base, chunk(9))
		keep := map[string]int{"all": 9, "three": 3}[n]
		for i := 1; i <= keep; i++ {
			waitFile(t, fmt.Sprintf("%s.%d", base, i), chunk(9-i))
		}
		if _, err := os.Stat(fmt.Sprintf("%s.%d", base, keep+1)); err == nil {
			t.Errorf("%s.%d exists, want %d rotated files", base, keep+1, keep)
		}
	}
}

// I3: invalid UTF-8 and binary bytes pass through to a log file byte for
// byte, and to the console as they are; vinit keeps running.
func TestServicesBinaryOutput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var data []byte
	for range 4 {
		for b := range 256 {
			data = append(data, byte(b))
		}
	}
	data = append(data, "\xc3\x28 \xff\xfe invalid \xe2\x82\n"...)
	src := filepath.Join(dir, "data.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	svcFile(t, dir, "bin", fmt.Sprintf("command = [\"cat\", %q]\ntype = \"oneshot\"\nstdout = %q\n", src, filepath.Join(dir, "bin.log")))
	svcFile(t, dir, "bincon", fmt.Sprintf("command = [\"cat\", %q]\ntype = \"oneshot\"\n", src))
	g := startGuest(t, dir, guestOpts{})
	g.waitReady()
	waitFile(t, filepath.Join(dir, "bin.log"), data)
	// The console gets the same lines, each tagged: the last is bytes
	// 11..255 of the block and the invalid UTF-8.
	last := "bincon: " + string(data[3*256+11:])
	poll(t, 5*time.Second, "the invalid line on the console", func() bool {
		return strings.Contains(g.out.String(), last)
	})
	if _, err := g.status(); err != nil {
		t.Fatal(err)
	}
}

// I4: vinit's console is a pipe nobody reads. A service floods it: the
// service is not blocked, vinit answers, lines are dropped and counted
// (reported once the console drains), and a halt is still prompt.
func TestServicesStuckConsole(t *testing.T) {
	t.Parallel()
	flood := shCmd(`yes 0123456789012345678901234567890123456789 | head -n 200000`) + "type = \"oneshot\"\nready = { timeout = \"20s\" }\n"
	t.Run("drains", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		svcFile(t, dir, "flood", flood)
		g, r := startGuestPiped(t, dir, nil)
		g.waitState("flood", services.StateDone, 20*time.Second)
		if _, err := g.status(); err != nil {
			t.Fatal(err)
		}
		var seen syncBuf
		go func() { _, _ = io.Copy(&seen, r) }()
		// vinit writes the count before its next line; make one.
		if out, err := g.client("start", "flood"); err != nil {
			t.Fatalf("start: %v %s", err, out)
		}
		poll(t, 10*time.Second, "the dropped lines to be reported", func() bool {
			return strings.Contains(seen.String(), " lines dropped")
		})
		took := timed(func() {
			if out, err := g.client("halt"); err != nil {
				t.Fatalf("halt: %v %s", err, out)
			}
			g.wait(10 * time.Second)
		})
		if took > 3*time.Second {
			t.Fatalf("halt took %v", took)
		}
	})
	t.Run("halt-while-stuck", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		svcFile(t, dir, "flood", flood)
		g, _ := startGuestPiped(t, dir, nil)
		g.waitState("flood", services.StateDone, 20*time.Second)
		took := timed(func() {
			if out, err := g.client("halt"); err != nil {
				t.Fatalf("halt: %v %s", err, out)
			}
			g.wait(10 * time.Second)
		})
		t.Logf("halt with a stuck console took %v", took)
		if took > 3*time.Second {
			t.Fatalf("halt with a stuck console took %v", took)
		}
	})
}

// I5: environment, env files, user, working directory, umask, limits and
// no_new_privs as the service sees them.
func TestServicesEnvironmentAndIdentity(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	envFile := filepath.Join(dir, "env1")
	if err := os.WriteFile(envFile, []byte("# defaults\nFOO=from-file\nexport BAZ=\"quoted value\"\n\nQUX=file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "env.out")
	svcFile(t, dir, "who", shCmd(`echo "FOO=$FOO BAZ=$BAZ QUX=$QUX"
echo "USER=$USER HOME=$HOME SERVICE=$VINIT_SERVICE"
echo "monitor=${VINIT_MONITOR_FD-unset} notify=${NOTIFY_SOCKET-unset} listen=${LISTEN_FDS-unset}"
echo "umask=$(umask) pwd=$(pwd) id=$(id -u):$(id -g):$(id -G)"
echo "nofile=$(ulimit -n):$(ulimit -Hn)"
grep NoNewPrivs /proc/self/status`)+fmt.Sprintf(`type = "oneshot"
user = "nobody"
workdir = %q
umask = "027"
rlimits = { nofile = [512, 1024] }
no_new_privs = true
env = { FOO = "from-env" }
env_file = [%q, "-%s/missing"]
stdout = %q
`, work, envFile, dir, out))
	svcFile(t, dir, "plain", shCmd(`echo "umask=$(umask) pwd=$(pwd) id=$(id -u)"; grep NoNewPrivs /proc/self/status`)+
		fmt.Sprintf("type = \"oneshot\"\nstdout = %q\n", filepath.Join(dir, "plain.out")))
	svcFile(t, dir, "needsenv", fmt.Sprintf("command = \"true\"\nenv_file = [\"%s/missing\"]\n", dir))
	g := startGuest(t, dir, guestOpts{})
	g.waitReady()
	if st := g.svc("who"); st.State != services.StateDone {
		t.Fatalf("who: %+v\n%s", st, g.out.String())
	}
	want := "FOO=from-env BAZ=quoted value QUX=file\n" +
		"USER=nobody HOME=/nonexistent SERVICE=who\n" +
		"monitor=unset notify=unset listen=unset\n" +
		"umask=0027 pwd=" + work + " id=65534:65534:65534\n" +
		"nofile=512:1024\n" +
		"NoNewPrivs:\t1\n"
	waitFile(t, out, []byte(want))
	waitFile(t, filepath.Join(dir, "plain.out"), []byte("umask=0022 pwd=/ id=0\nNoNewPrivs:\t0\n"))
	st := g.svc("needsenv")
	if st.State != services.StateFailed || !strings.Contains(st.Reason, "env_file") || !strings.Contains(st.Reason, "no such file") {
		t.Fatalf("needsenv: %+v, want failed naming the missing env_file", st)
	}
}

// I8: a start that fails is reported in the status with the reason, and
// does not stop the others.
func TestServicesFailedStartReported(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	svcFile(t, dir, "noprog", "command = \"/nonexistent/prog\"\n")
	svcFile(t, dir, "notinpath", "command = \"no-such-program-here\"\n")
	svcFile(t, dir, "noworkdir", "command = \"sleep 1000\"\nworkdir = \"/nonexistent\"\n")
	svcFile(t, dir, "noprog-wrapped", "command = \"/nonexistent/prog\"\numask = \"077\"\nrestart = \"never\"\n")
	svcFile(t, dir, "fine", "command = \"sleep 1000\"\n")
	svcFile(t, dir, "nologdir", "command = \"sleep 1000\"\nstdout = \"/nonexistent/dir/log\"\n")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	svcFile(t, dir, "portbusy", fmt.Sprintf("command = \"sleep 1000\"\nlisten = [\"tcp:%s\"]\n", busy.Addr()))
	g := startGuest(t, dir, guestOpts{})
	g.waitReady()
	for n, want := range map[string]string{
		"nologdir":       "start: open log /nonexistent/dir/log: open /nonexistent/dir/log: no such file or directory",
		"portbusy":       "start: listen tcp:" + busy.Addr().String() + ": listen tcp " + busy.Addr().String() + ": bind: address already in use",
		"noprog":         "start: exec /nonexistent/prog: no such file or directory",
		"notinpath":      "no-such-program-here: not found in PATH",
		"noworkdir":      "start: workdir: stat /nonexistent: no such file or directory",
		"noprog-wrapped": "ended: exit status 127",
	} {
		st := g.waitSvc(n, 5*time.Second, "to fail", func(st services.Status) bool { return st.State == services.StateFailed })
		if !strings.Contains(st.Reason, want) {
			t.Errorf("%s: reason %q, want it to contain %q", n, st.Reason, want)
		}
	}
	if st := g.svc("fine"); st.State != services.StateRunning {
		t.Fatalf("fine: %+v", st)
	}
	poll(t, 5*time.Second, "the failure in vinit's log", func() bool {
		return strings.Contains(g.out.String(), `service "noprog": failed: start: exec /nonexistent/prog`)
	})
}

// Limits above vinit's hard limit can be given to a service that runs as
// another user: they must be set before the user is changed.
func TestServicesRaisedLimitForUser(t *testing.T) {
	t.Parallel()
	// The exec trampoline applies the limits first and switches user
	// last; the other order fails with EPERM (exit 126). Raising a hard
	// limit needs CAP_SYS_RESOURCE, which some sandboxes take from root.
	if st, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(st), "\n") {
			if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
				if caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64); err == nil && caps&(1<<unix.CAP_SYS_RESOURCE) == 0 {
					t.Skip("root has no CAP_SYS_RESOURCE here, so no process can raise a hard limit")
				}
			}
		}
	}

	dir := t.TempDir()
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	want := lim.Max + 1000
	svcFile(t, dir, "raised", shCmd(`echo "$(ulimit -n):$(ulimit -Hn)"`)+fmt.Sprintf(`type = "oneshot"
user = "nobody"
rlimits = { nofile = %d }
stdout = %q
`, want, filepath.Join(dir, "out")))
	g := startGuest(t, dir, guestOpts{})
	g.waitReady()
	if st := g.svc("raised"); st.State != services.StateDone {
		out, _ := g.client("log", "raised")
		t.Fatalf("raised: %+v\n%s", st, out)
	}
	waitFile(t, filepath.Join(dir, "out"), []byte(fmt.Sprintf("%d:%d\n", want, want)))
}
