package pid1

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vserver-go/vserver/internal/services"
	"golang.org/x/sys/unix"
)

// Helpers of the service tests: config files, status queries, pid
// mapping between the guest's PID namespace and ours, and a small helper
// program (testdata/svchelper) for what a shell cannot do.

// svcFile writes dir/cfg/services/NAME.toml.
func svcFile(t *testing.T, dir, name, body string) {
	t.Helper()
	d := filepath.Join(dir, "cfg", "services")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, name+".toml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// globalFile writes dir/cfg/vinit.toml.
func globalFile(t *testing.T, dir, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "cfg"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cfg", "vinit.toml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// shCmd is a command line running script with /bin/sh, as a TOML key.
func shCmd(script string) string {
	if strings.Contains(script, "'''") {
		panic("shCmd: script contains '''")
	}
	return "command = [\"/bin/sh\", \"-c\", '''" + script + "''']\n"
}

type vinitStatus struct {
	State    string            `json:"state"`
	Services []services.Status `json:"services"`
}

// status asks vinit for its status; an error if it does not answer.
func (g *guest) status() (vinitStatus, error) {
	var st vinitStatus
	out, err := g.client("status")
	if err != nil {
		return st, fmt.Errorf("vinit status: %v: %s", err, out)
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return st, fmt.Errorf("vinit status: %v: %s", err, out)
	}
	return st, nil
}

// svc returns one service's status (Name "" when vinit does not list it).
func (g *guest) svc(name string) services.Status {
	g.t.Helper()
	st, err := g.status()
	if err != nil {
		g.t.Fatal(err)
	}
	for _, s := range st.Services {
		if s.Name == name {
			return s
		}
	}
	return services.Status{}
}

// waitSvc polls until cond holds for the service's status, and returns it.
func (g *guest) waitSvc(name string, d time.Duration, what string, cond func(services.Status) bool) services.Status {
	g.t.Helper()
	var last services.Status
	var lastErr error
	deadline := time.Now().Add(d)
	for {
		st, err := g.status()
		lastErr = err
		if err == nil {
			last = services.Status{}
			for _, s := range st.Services {
				if s.Name == name {
					last = s
				}
			}
			if cond(last) {
				return last
			}
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("timed out after %v waiting for %s %s: last status %+v (%v)", d, name, what, last, lastErr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (g *guest) waitState(name string, state services.State, d time.Duration) services.Status {
	g.t.Helper()
	return g.waitSvc(name, d, "to be "+string(state), func(s services.Status) bool { return s.State == state })
}

// hostPID maps a pid of the guest's namespace to ours (0: no such process).
func (g *guest) hostPID(nspid int) int {
	for _, p := range append([]int{g.cmd.Process.Pid}, descendants(g.cmd.Process.Pid)...) {
		if ns := nsPIDs(p); ns[len(ns)-1] == nspid {
			return p
		}
	}
	return 0
}

// nsPIDs reads the NSpid line of /proc/PID/status ([-1] if unreadable).
func nsPIDs(pid int) []int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return []int{-1}
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "NSpid:"); ok {
			var out []int
			for _, f := range strings.Fields(rest) {
				n, _ := strconv.Atoi(f)
				out = append(out, n)
			}
			if len(out) > 0 {
				return out
			}
		}
	}
	return []int{-1}
}

// alive reports whether a host pid is a live (not zombie) process.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && !strings.HasPrefix(string(b[i+1:]), " Z") && !strings.HasPrefix(string(b[i+1:]), " X")
}

// procsWithCmdline lists the guest's live processes whose command line is
// exactly args (host pids).
func (g *guest) procsWithCmdline(args ...string) []int {
	want := strings.Join(args, "\x00") + "\x00"
	var out []int
	for _, p := range descendants(g.cmd.Process.Pid) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cmdline")
		if err == nil && string(b) == want && alive(p) {
			out = append(out, p)
		}
	}
	return out
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

var (
	helperOnce sync.Once
	helperPath string
	helperErr  error
)

// svcHelper builds testdata/svchelper (static, like vinit) once per run,
// into a file named for its source, so later runs reuse it and at most one
// copy is left in the temporary directory.
func svcHelper(t *testing.T) string {
	t.Helper()
	helperOnce.Do(func() {
		src, err := os.ReadFile("testdata/svchelper/main.go")
		if err != nil {
			helperErr = err
			return
		}
		sum := sha256.Sum256(append(src, runtime.Version()...))
		out := filepath.Join(os.TempDir(), "vinit-svchelper-"+hex.EncodeToString(sum[:8]))
		if fi, err := os.Stat(out); err == nil && fi.Mode().IsRegular() {
			helperPath = out
			return
		}
		tmp := fmt.Sprintf("%s.%d", out, os.Getpid())
		cmd := exec.Command("go", "build", "-o", tmp, "./testdata/svchelper")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			helperErr = fmt.Errorf("build svchelper: %v\n%s", err, b)
			return
		}
		if err := os.Rename(tmp, out); err != nil {
			helperErr = err
			return
		}
		helperPath = out
	})
	if helperErr != nil {
		t.Fatal(helperErr)
	}
	return helperPath
}

// startGuestPiped is startGuest with vinit's stdout and stderr on a pipe
// the test controls (nobody reads it unless the test does), and optionally
// a wrapper (argv before vinit's) that execs vinit as PID 1.
func startGuestPiped(t *testing.T, dir string, wrapper []string, args ...string) (*guest, *os.File) {
	t.Helper()
	needRoot(t)
	bin := vinitBin(t)
	g := &guest{t: t, out: &syncBuf{}, done: make(chan struct{}), dir: dir, control: filepath.Join(dir, "ctl.sock")}
	argv := append(append([]string(nil), wrapper...), bin, "--config", filepath.Join(dir, "cfg"), "--control", g.control, "--reboot-socket", "none")
	argv = append(argv, args...)
	g.cmd = exec.Command("/proc/self/exe")
	g.cmd.Env = append(os.Environ(), stageEnv+"="+strings.Join(argv, "\x1f"))
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
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	g.cmd.Stdout, g.cmd.Stderr = w, w
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWPID | unix.CLONE_NEWNS}
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = g.cmd.Wait()
		g.ws = g.cmd.ProcessState.Sys().(syscall.WaitStatus)
		close(g.done)
	}()
	t.Cleanup(func() {
		_ = g.cmd.Process.Signal(syscall.SIGKILL)
		<-g.done
		g.mon.Close()
		r.Close()
	})
	return g, r
}

// timed runs f and returns how long it took.
func timed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

// consoleLines returns the lines vinit wrote for tag ("NAME: msg"), with
// the timestamp cut off.
func consoleLines(out, tag string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		// "2006-01-02T15:04:05.000 tag: msg"
		if _, rest, ok := strings.Cut(l, " "); ok {
			if msg, ok := strings.CutPrefix(rest, tag+": "); ok {
				lines = append(lines, msg)
			}
		}
	}
	return lines
}
