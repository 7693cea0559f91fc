package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/vserver-go/vserver/internal/guestroot"
)

// The launcher section (issue #4): `vserver start`/`stop` of the busybox
// guest against systemd-nspawn running the same root with the same vinit
// as its init, and unshare(1) + chroot as the floor; then 50 guests with
// start-all and stop-all.

// guestCount is the number of guests of the start-all/stop-all runs.
const guestCount = 50

// bigGuestRounds caps the rounds of the 50-guest runs (some 15 s each).
const bigGuestRounds = 3

// ipv4rootGuestIP is the address of the ipv4root contender: loopback, so
// no traffic leaves the host, and outside 127.64.0.0/10, the range of the
// guests' own loopback addresses.
const ipv4rootGuestIP = "127.10.0.2"

// idleService keeps every guest's vinit supervising one process.
var idleService = guestroot.Service{Name: "idle", TOML: "command = \"/bin/sleep 2147483647\"\n"}

// launcherEnv is the scratch setup of the launcher section.
type launcherEnv struct {
	e       *Env
	vserver string // the vserver binary
	vinit   string // the host's vinit (VSERVER_VINIT)
	dir     string // config/, run/, log/, roots
	prefix  string // of guest names, unique to this driver
	// nroot is the root nspawn and unshare run: the same guestroot with
	// a copy of vinit at /sbin/vinit (vserver executes the host's copy
	// and needs none) and /dev/null (unshare gives no /dev; nspawn mounts
	// its own over it).
	nroot string
}

func (l *launcherEnv) env() []string {
	return append(append([]string{}, benchEnv...),
		"VSERVER_CONFIG_DIR="+filepath.Join(l.dir, "config"),
		"VSERVER_RUN_DIR="+filepath.Join(l.dir, "run"),
		"VSERVER_LOG_DIR="+filepath.Join(l.dir, "log"),
		"VSERVER_VINIT="+l.vinit)
}

// vs runs `vserver ARGS...` and returns its combined output.
func (l *launcherEnv) vs(timeout time.Duration, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(l.e.Ctx, l.vserver, args...)
	cmd.Env = l.env()
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("vserver %s: %w", strings.Join(args, " "), err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return out.Bytes(), fmt.Errorf("vserver %s: %w: %s", strings.Join(args, " "), err, lastLines(out.String(), 6))
		}
		return out.Bytes(), nil
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		return out.Bytes(), fmt.Errorf("vserver %s: still running after %v: %s", strings.Join(args, " "), timeout, lastLines(out.String(), 6))
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}

// writeGuest writes config/NAME.toml.
func (l *launcherEnv) writeGuest(name, root, net string, onboot bool) error {
	c := fmt.Sprintf("root = %q\nonboot = %v\n\n[net]\n%s\n", root, onboot, net)
	if err := os.WriteFile(filepath.Join(l.dir, "config", name+".toml"), []byte(c), 0o644); err != nil {
		return fmt.Errorf("write guest config: %w", err)
	}
	return nil
}

// guestState is what the driver reads of RUN/NAME.state.
type guestState struct {
	Phase      string `json:"phase"`
	MonitorPID int    `json:"monitor_pid"`
	InitPID    int    `json:"init_pid"`
}

func (l *launcherEnv) state(name string) (*guestState, error) {
	b, err := os.ReadFile(filepath.Join(l.dir, "run", name+".state"))
	if err != nil {
		return nil, err
	}
	var s guestState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parse state of %s: %w", name, err)
	}
	return &s, nil
}

// waitPidGone polls until the process has exited: /proc/PID is gone or
// the process is a zombie. A detached monitor's parent is the host's PID 1
// once the CLI that started it has exited, and this machine's PID 1 reaps
// orphans only now and then (a zombie monitor has lingered for 1.8 s); when
// it does is not the launcher's doing.
func waitPidGone(pid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if _, st, err := procStat(pid); errors.Is(err, os.ErrNotExist) || err == nil && (st == 'Z' || st == 'X') {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pid %d still exists after %v", pid, timeout)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// vserverOnce starts and stops one guest and returns the start time (CLI
// exec → the CLI returned, i.e. vinit reported ready), the stop time (CLI
// exec → returned, and the monitor's and vinit's pids are gone) and the
// monitor's VmRSS and Pss while the guest runs.
func (l *launcherEnv) vserverOnce(name string) ([]float64, error) {
	t0 := time.Now()
	if _, err := l.vs(60*time.Second, name, "start"); err != nil {
		return nil, err
	}
	start := time.Since(t0)
	st, err := l.state(name)
	if err != nil {
		return nil, err
	}
	if st.Phase != "running" {
		return nil, fmt.Errorf("guest %s: phase %q after start, want running", name, st.Phase)
	}
	if err := settle(st.MonitorPID, 10*time.Second); err != nil {
		return nil, fmt.Errorf("guest %s: %w", name, err)
	}
	rss, pss, err := memory(st.MonitorPID)
	if err != nil {
		return nil, err
	}
	t1 := time.Now()
	if _, err := l.vs(60*time.Second, name, "stop"); err != nil {
		return nil, err
	}
	for _, pid := range []int{st.MonitorPID, st.InitPID} {
		if err := waitPidGone(pid, 10*time.Second); err != nil {
			return nil, fmt.Errorf("guest %s stopped: %w", name, err)
		}
	}
	stop := time.Since(t1)
	return []float64{start.Seconds(), stop.Seconds(), rss, pss}, nil
}

// nspawnOnce runs systemd-nspawn on the same root with vinit as its PID 1
// in its own network namespace (lo only, like mode "none"); ready is
// nspawn's READY=1 on the driver's socket, which with --notify-ready=yes
// it sends when vinit sent its own. Stop: SIGTERM to nspawn, which sends
// --kill-signal (SIGRTMIN+3, vinit's halt, what vserver sends) to vinit
// and exits when the container is gone.
func (l *launcherEnv) nspawnOnce(path string) ([]float64, error) {
	sock, err := listenDatagram(filepath.Join(l.dir, "nspawn-notify.sock"))
	if err != nil {
		return nil, err
	}
	defer sock.Close()
	args := []string{"--quiet", "-D", l.nroot, "--register=no", "--keep-unit", "--private-network",
		"--notify-ready=yes", "--kill-signal=SIGRTMIN+3", "/sbin/vinit"}
	return l.containerOnce(path, args, "NOTIFY_SOCKET="+sock.path, sock, func(p *os.Process) error {
		return p.Signal(syscall.SIGTERM)
	})
}

// unshareOnce is the floor: unshare(1) with the same namespaces as a
// vserver guest in mode "none" (PID, mount, UTS, IPC, network), chroot
// to the root, /proc mounted, vinit executed; no cgroup, no capability
// bounding, no pty, no monitor. Ready: vinit's READY=1 on a socket in the
// root. Stop: SIGRTMIN+3 to vinit (the halt vserver sends) and the time
// until unshare has exited.
func (l *launcherEnv) unshareOnce(path string) ([]float64, error) {
	sock, err := listenDatagram(filepath.Join(l.nroot, "notify.sock"))
	if err != nil {
		return nil, err
	}
	defer sock.Close()
	args := []string{"--pid", "--fork", "--mount", "--uts", "--ipc", "--net", "--root=" + l.nroot, "--mount-proc", "/sbin/vinit"}
	return l.containerOnce(path, args, "NOTIFY_SOCKET=/notify.sock", sock, func(p *os.Process) error {
		kids, err := children(p.Pid)
		if err != nil || len(kids) != 1 {
			return fmt.Errorf("unshare has children %v, want vinit alone (%v)", kids, err)
		}
		return syscall.Kill(kids[0], syscall.Signal(37)) // SIGRTMIN+3 as userspace counts it
	})
}

// containerOnce starts path with args, waits for READY=1 on sock, reads
// the launcher process's memory, calls stop and waits for the process to
// end.
func (l *launcherEnv) containerOnce(path string, args []string, notify string, sock *datagramSocket, stop func(*os.Process) error) ([]float64, error) {
	logf, err := os.CreateTemp(l.dir, "container-log-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(logf.Name())
	defer logf.Close()
	cmd := exec.Command(path, args...)
	cmd.Env = append(append([]string{}, benchEnv...), notify)
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	defer func() {
		select {
		case <-done:
		default:
			cmd.Process.Kill()
			<-done
		}
	}()
	tail := func() string {
		b, _ := os.ReadFile(logf.Name())
		return ": output: " + lastLines(string(b), 6)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		r, err := sock.next(deadline, done, l.e.Ctx.Done())
		if err != nil {
			return nil, fmt.Errorf("%s: waiting for READY=1: %w%s", filepath.Base(path), err, tail())
		}
		if strings.Contains("\n"+r.text+"\n", "\nREADY=1\n") {
			break
		}
	}
	start := time.Since(t0)
	if err := settle(cmd.Process.Pid, 10*time.Second); err != nil {
		return nil, err
	}
	rss, pss, err := memory(cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	t1 := time.Now()
	if err := stop(cmd.Process); err != nil {
		return nil, err
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		return nil, fmt.Errorf("%s did not end within 60s of the stop%s", filepath.Base(path), tail())
	}
	if err := waitPidGone(cmd.Process.Pid, 10*time.Second); err != nil {
		return nil, err
	}
	return []float64{start.Seconds(), time.Since(t1).Seconds(), rss, pss}, nil
}

const launcherMethod = `
The guest is the busybox root of internal/guestroot (static busybox, a few
files of /etc) with one vinit service, ` + "`/bin/sleep 2147483647`" + `. Contenders, in
interleaved rounds:

* *vserver (none)*: ` + "`vserver NAME start`" + ` / ` + "`vserver NAME stop`" + ` with
  ` + "`[net] mode = \"none\"`" + ` (own network namespace with lo only), the defaults
  otherwise (cgroup, capability bounding set, seccomp, pty console, log,
  state, monitor). Scratch VSERVER_CONFIG_DIR, VSERVER_RUN_DIR and
  VSERVER_LOG_DIR; VSERVER_VINIT is the built bin/vinit. Start: from the
  exec of the CLI until it returned with status 0 (it returns when vinit has
  reported ready). Stop: from the exec of the CLI until it returned and the
  monitor's and vinit's host pids are gone.
* *vserver (ipv4root)*: the same guest in ipv4root mode with
  ` + "`ips = [\"" + ipv4rootGuestIP + "\"]`" + ` (a loopback address outside 127.64.0.0/10; no
  ` + "`dev`" + `): the BPF programs are attached to the guest's cgroup at start and
  detached at stop; no network namespace.
* *systemd-nspawn*: ` + "`systemd-nspawn --quiet -D ROOT --register=no --keep-unit\n  --private-network --notify-ready=yes --kill-signal=SIGRTMIN+3 /sbin/vinit`" + `
  on a copy of the same root with bin/vinit copied to /sbin/vinit (the host
  has no systemd as PID 1: --register=no and --keep-unit keep nspawn from
  asking for machined and a scope unit). Start: from the exec until nspawn
  sent READY=1 to the driver's $NOTIFY_SOCKET, which --notify-ready=yes
  makes it do when vinit sent its own. Stop: SIGTERM to nspawn (which sends
  SIGRTMIN+3, vinit's halt, to the container) until nspawn has exited.
* *unshare (floor)*: ` + "`unshare --pid --fork --mount --uts --ipc --net --root=ROOT\n  --mount-proc /sbin/vinit`" + ` on that copy: the same namespaces as the
  vserver guest and nothing else (no cgroup, no capability bounding, no
  console, no monitor). Ready: vinit's READY=1 on a socket inside the root.
  Stop: SIGRTMIN+3 to vinit until unshare has exited.

The third table is the resident memory of what stays on the host per guest:
vserver's monitor (` + "`monitor_pid`" + ` of the state file), nspawn's process, unshare's
parent process; read once the guest runs and the process sleeps.
`

func launcherSection(e *Env) (*Result, error) {
	res := &Result{Method: launcherMethod}
	l, cleanup, err := newLauncherEnv(e)
	if err != nil {
		return nil, err
	}
	defer cleanup()

	vroot := filepath.Join(l.dir, "roots", "one")
	if err := guestroot.Build(vroot, guestroot.WithService(idleService)); err != nil {
		return nil, err
	}
	none, ip4 := l.prefix+"none", l.prefix+"ip4"
	if err := l.writeGuest(none, vroot, `mode = "none"`, false); err != nil {
		return nil, err
	}
	if err := l.writeGuest(ip4, vroot, fmt.Sprintf("mode = \"ipv4root\"\nips = [%q]", ipv4rootGuestIP), false); err != nil {
		return nil, err
	}
	who := []Init{{Name: "vserver (none)", Path: l.vserver}, {Name: "vserver (ipv4root)", Path: l.vserver}}
	for _, name := range []string{"systemd-nspawn", "unshare"} {
		in := Init{Name: name}
		if p, err := exec.LookPath(name); err != nil {
			in.Missing = "not available: " + err.Error()
		} else {
			in.Path = p
		}
		if name == "unshare" {
			in.Name = "unshare (floor)"
		}
		who = append(who, in)
	}
	sets, err := interleaveN(e, "guest start/stop", who, Plan{Rounds: e.Runs, Warmup: WarmupRound}, 4, func(in Init) ([]float64, error) {
		switch in.Name {
		case "vserver (none)":
			return l.vserverOnce(none)
		case "vserver (ipv4root)":
			return l.vserverOnce(ip4)
		case "systemd-nspawn":
			return l.nspawnOnce(in.Path)
		default:
			return l.unshareOnce(in.Path)
		}
	})
	start := Table{Title: "one guest: start → ready", Unit: Seconds, Baseline: "vserver (none)", Paired: true, Rows: sets[0]}
	stop := Table{Title: "one guest: stop → gone", Unit: Seconds, Baseline: "vserver (none)", Paired: true, Rows: sets[1]}
	rss := Table{Title: "one guest: VmRSS of the host-side process (vserver's monitor, nspawn, unshare)", Unit: Bytes, Baseline: "vserver (none)", Paired: true, Rows: sets[2]}
	pss := Table{Title: "one guest: Pss of the host-side process", Unit: Bytes, Baseline: "vserver (none)", Paired: true, Rows: sets[3]}
	res.Tables = append(res.Tables, start, stop, rss, pss)
	res.Checks = append(res.Checks,
		RatioCheck(&start, "guest start", "vserver (none)", "systemd-nspawn", 1.0),
		BelowCheck(&rss, "monitor RSS", "vserver (none)", 5<<20),
	)
	if err != nil {
		return res, err
	}

	t, err := l.fiftyGuests()
	res.Tables = append(res.Tables, t...)
	if len(t) == 4 {
		res.Checks = append(res.Checks,
			BelowCheck(&t[0], "50 guests started (start-all)", "vserver", 10),
			BelowCheck(&t[1], "50 guests stopped (stop-all)", "vserver", 5),
			BelowCheck(&t[2], "monitor RSS, 50 guests", "vserver", 5<<20),
		)
	}
	if len(t) == 4 {
		if r, p := t[2].Median("vserver"), t[3].Median("vserver"); !math.IsNaN(r) && !math.IsNaN(p) {
			size := ""
			if st, err := os.Stat(l.vserver); err == nil {
				size = fmt.Sprintf(" (the vserver binary is %s)", formatBytes(float64(st.Size())))
			}
			verdict := "met"
			if r >= 5<<20 {
				verdict = "missed"
			}
			res.Notes = append(res.Notes, fmt.Sprintf("On the monitor's memory: with 50 guests a monitor's VmRSS is %s and its Pss %s: the difference is pages the monitors share, mostly the static vserver binary's text and data that every monitor maps%s. The target (5 MiB) is checked on VmRSS (%s); what each further guest costs is nearer the Pss.", formatBytes(r), formatBytes(p), size, verdict))
		}
	}
	res.Notes = append(res.Notes, fmt.Sprintf("50 guests: %d configurations `g00`…`g49` with `onboot = true`, `[net] mode = \"none\"`, each with its own root built by internal/guestroot (same content as above); `vserver start-all` (default -j 6: at most six starts at once) from exec until it returned, then the driver checks every state file says running; memory of every monitor (the third and fourth tables pool the %d monitors of every round); then `vserver stop-all` until it returned and every monitor and vinit pid is gone. %d rounds (fewer than -runs: each takes some 15 s).", guestCount, guestCount, bigGuestRounds))
	return res, err
}

// newLauncherEnv finds the binaries and builds the scratch directories and
// the nspawn/unshare root.
func newLauncherEnv(e *Env) (*launcherEnv, func(), error) {
	var vinit string
	for _, in := range e.Inits {
		if in.Name == "vinit" {
			vinit = in.Path
		}
	}
	if vinit == "" {
		return nil, nil, errors.New("vinit is not among -inits")
	}
	vserver := os.Getenv("VSERVER_BIN")
	if vserver == "" {
		vserver = filepath.Join(filepath.Dir(vinit), "vserver")
	}
	if !fileExists(vserver) {
		return nil, nil, fmt.Errorf("%s: no vserver binary (run make build, or set VSERVER_BIN)", vserver)
	}
	dir, err := os.MkdirTemp(e.Tmp, "launcher-")
	if err != nil {
		return nil, nil, err
	}
	l := &launcherEnv{e: e, vserver: vserver, vinit: vinit, dir: dir, prefix: fmt.Sprintf("bench%d-", os.Getpid())}
	cleanup := func() {
		// Whatever a failed round left running.
		l.vs(2*time.Minute, "stop-all")
		os.RemoveAll(dir)
	}
	for _, d := range []string{"config", "run", "log", "roots"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			cleanup()
			return nil, nil, err
		}
	}
	l.nroot = filepath.Join(dir, "roots", "nspawn")
	if err := guestroot.Build(l.nroot, guestroot.WithService(idleService)); err != nil {
		cleanup()
		return nil, nil, err
	}
	sbin := filepath.Join(l.nroot, "sbin", "vinit")
	os.Remove(sbin)
	if err := copyExecutable(vinit, sbin); err != nil {
		cleanup()
		return nil, nil, err
	}
	if err := syscall.Mknod(filepath.Join(l.nroot, "dev", "null"), syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("mknod /dev/null in the nspawn root: %w", err)
	}
	return l, cleanup, nil
}

func copyExecutable(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// fiftyGuests runs start-all and stop-all on guestCount guests.
func (l *launcherEnv) fiftyGuests() ([]Table, error) {
	var names []string
	for i := range guestCount {
		name := fmt.Sprintf("%sg%02d", l.prefix, i)
		root := filepath.Join(l.dir, "roots", name)
		if err := guestroot.Build(root, guestroot.WithHostname(fmt.Sprintf("g%02d", i)), guestroot.WithService(idleService)); err != nil {
			return nil, err
		}
		if err := l.writeGuest(name, root, `mode = "none"`, true); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	defer func() {
		for _, n := range names {
			os.Remove(filepath.Join(l.dir, "config", n+".toml"))
		}
	}()
	startRow, stopRow := Row{Name: "vserver"}, Row{Name: "vserver"}
	rssRow, pssRow := Row{Name: "vserver"}, Row{Name: "vserver"}
	var firstErr error
	for r := 0; r < bigGuestRounds; r++ {
		if err := l.e.Ctx.Err(); err != nil {
			return nil, err
		}
		s, p, rss, pss, err := l.fiftyOnce(names)
		if err != nil {
			fmt.Fprintf(l.e.Log, "50 guests: round %d/%d: %v\n", r+1, bigGuestRounds, err)
			if firstErr == nil {
				firstErr = err
			}
			l.vs(2*time.Minute, "stop-all")
			continue
		}
		fmt.Fprintf(l.e.Log, "50 guests: round %d/%d start-all %.2fs stop-all %.2fs\n", r+1, bigGuestRounds, s, p)
		startRow.Samples = append(startRow.Samples, s)
		stopRow.Samples = append(stopRow.Samples, p)
		rssRow.Samples = append(rssRow.Samples, rss...)
		pssRow.Samples = append(pssRow.Samples, pss...)
	}
	if firstErr != nil {
		note := "failed: " + firstErr.Error()
		if len(startRow.Samples) > 0 {
			note = "some runs " + note
		}
		startRow.Note, stopRow.Note = note, note
	}
	return []Table{
		{Title: "50 guests: `vserver start-all` → returned, all running", Unit: Seconds, Rows: []Row{startRow}},
		{Title: "50 guests: `vserver stop-all` → returned, all gone", Unit: Seconds, Rows: []Row{stopRow}},
		{Title: "50 guests: VmRSS per monitor", Unit: Bytes, Rows: []Row{rssRow}},
		{Title: "50 guests: Pss per monitor", Unit: Bytes, Rows: []Row{pssRow}},
	}, firstErr
}

func (l *launcherEnv) fiftyOnce(names []string) (start, stop float64, rss, pss []float64, err error) {
	t0 := time.Now()
	if _, err := l.vs(3*time.Minute, "start-all"); err != nil {
		return 0, 0, nil, nil, err
	}
	start = time.Since(t0).Seconds()
	var pids []int
	for _, n := range names {
		st, err := l.state(n)
		if err != nil {
			return 0, 0, nil, nil, err
		}
		if st.Phase != "running" {
			return 0, 0, nil, nil, fmt.Errorf("guest %s: phase %q after start-all", n, st.Phase)
		}
		pids = append(pids, st.MonitorPID, st.InitPID)
	}
	for i := 0; i < len(pids); i += 2 {
		if err := settle(pids[i], 10*time.Second); err != nil {
			return 0, 0, nil, nil, err
		}
		r, p, err := memory(pids[i])
		if err != nil {
			return 0, 0, nil, nil, err
		}
		rss, pss = append(rss, r), append(pss, p)
	}
	t1 := time.Now()
	if _, err := l.vs(3*time.Minute, "stop-all"); err != nil {
		return 0, 0, nil, nil, err
	}
	for _, pid := range pids {
		if err := waitPidGone(pid, 30*time.Second); err != nil {
			return 0, 0, nil, nil, err
		}
	}
	return start, time.Since(t1).Seconds(), rss, pss, nil
}
