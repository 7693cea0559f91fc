package monitor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vserver-go/vserver/internal/cgroup"
	"github.com/vserver-go/vserver/internal/guest"
)

// ErrRunning and ErrNotRunning are returned (wrapped) by the commands.
var (
	ErrRunning    = errors.New("already running")
	ErrNotRunning = errors.New("not running")
	// ErrHandedOff: the guest rebooted under `run` and its monitor exited
	// for the service manager to start it again, which it has not (yet).
	ErrHandedOff = errors.New("rebooted; its monitor exited with status 133 for the service manager to start it again, and no new monitor has appeared")
)

// Running reports whether name's monitor is alive (it holds the lock).
func Running(d Dirs, name string) bool {
	return isLocked(d.lockPath(name))
}

// CleanStale removes what a previous run of name left behind: its
// processes and cgroups, BPF pins, address aliases and state file. The
// caller holds the guest's lock. It reports what it found through logf.
func CleanStale(d Dirs, name string, logf func(format string, args ...any)) error {
	st, err := ReadState(d, name)
	if err != nil {
		logf("stale state of %s is unreadable (%v); removing it", name, err)
	}
	var errs []error
	rel := CgroupRel(name)
	deadline := time.Now().Add(10 * time.Second)
	if g, err := cgroup.Open(rel); err == nil {
		pids, _ := g.Procs()
		logf("cleaning up after a monitor of %s that did not exit cleanly: killing %d leftover processes", name, len(pids))
		if err := g.Kill(deadline); err != nil {
			errs = append(errs, err)
		}
		if err := removeGroup(g, deadline); err != nil {
			errs = append(errs, err)
		}
	}
	if v1 := cgroup.OpenV1(rel); len(v1.Dirs()) > 0 {
		if err := v1.Remove(deadline); err != nil {
			errs = append(errs, err)
		}
	}
	if st != nil {
		logf("removing stale state of %s (monitor pid %d, phase %s)", name, st.MonitorPID, st.Phase)
		ns := &netState{pinDir: st.PinDir, aliases: st.Aliases}
		if st.Veth != "" {
			ns.netnsName = name
		}
		if err := ns.teardown(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := removeState(d, name); err != nil {
		errs = append(errs, err)
	}
	// The dead monitor's exec socket: nobody serves it any more.
	if err := os.Remove(ExecSocket(d, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("clean up stale state of %s: %w", name, err)
	}
	return nil
}

// StartOptions are the CLI start's knobs.
type StartOptions struct {
	Exe     string        // the vserver binary to run the monitor; "" = this executable
	Vinit   string        // passed to the monitor
	Timeout time.Duration // how long to wait for ready; 0 = ready timeout + hooks + 10s
	Stderr  io.Writer     // notes (stale state cleaned) go here
}

// Start starts guest cfg with a detached monitor (a new session running
// `vserver NAME run --detached`) and returns when it is ready. On failure
// the error carries the tail of the guest's log.
func Start(cfg *guest.Config, d Dirs, opt StartOptions) error {
	if err := ensureDirs(d); err != nil {
		return err
	}
	lock, err := tryLock(d.lockPath(cfg.Name))
	if errors.Is(err, errLocked) {
		return fmt.Errorf("guest %s: %w", cfg.Name, ErrRunning)
	}
	if err != nil {
		return err
	}
	handedOver := false
	defer func() {
		if !handedOver {
			unlock(lock)
		}
	}()
	stderr := opt.Stderr
	if stderr == nil {
		stderr = os.Stderr
	}
	if err := CleanStale(d, cfg.Name, func(f string, a ...any) { fmt.Fprintf(stderr, "vserver: "+f+"\n", a...) }); err != nil {
		return err
	}
	exe := opt.Exe
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return fmt.Errorf("find own executable: %w", err)
		}
	}
	logf, err := os.OpenFile(d.LogPath(cfg.Name), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer logf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer devnull.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	cmd := exec.Command(exe, cfg.Name, "run", "--detached")
	cmd.Env = append(os.Environ(),
		"VSERVER_CONFIG_DIR="+abs(d.Config), "VSERVER_RUN_DIR="+abs(d.Run), "VSERVER_LOG_DIR="+abs(d.Log),
		"VSERVER_LOCK_FD=3", "VSERVER_READY_FD=4")
	if opt.Vinit != "" {
		cmd.Env = append(cmd.Env, "VSERVER_VINIT="+abs(opt.Vinit))
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, logf, logf
	cmd.ExtraFiles = []*os.File{lock, w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/"
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("start monitor of %s: %w", cfg.Name, err)
	}
	w.Close()
	lock.Close() // the monitor holds it now
	handedOver = true
	// Reap the monitor if it dies while we wait; when it lives on, we
	// exit first.
	exited := make(chan struct{})
	go func() { _, _ = cmd.Process.Wait(); close(exited) }()

	timeout := opt.Timeout
	if timeout <= 0 {
		timeout = 30*time.Second + 2*cfg.Hooks.Timeout + 10*time.Second
	}
	msg := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		msg <- strings.TrimSpace(line)
	}()
	var got string
	select {
	case got = <-msg:
	case <-time.After(timeout):
		got = "error: no answer from the monitor within " + timeout.String()
	}
	if got == "ready" {
		return nil
	}
	if got == "" {
		got = "error: the monitor exited before the guest was ready"
	}
	// The monitor has cleaned up and is exiting; let it finish, so the
	// guest is really stopped when we return.
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
	}
	return &StartError{Name: cfg.Name, Msg: strings.TrimPrefix(got, "error: "), LogTail: Tail(d.LogPath(cfg.Name), 20)}
}

// StartError is a failed start, with the end of the guest's log.
type StartError struct {
	Name    string
	Msg     string
	LogTail string
}

func (e *StartError) Error() string {
	s := fmt.Sprintf("start %s: %s", e.Name, e.Msg)
	if e.LogTail != "" {
		s += "\nlast lines of the guest's log:\n" + strings.TrimRight(e.LogTail, "\n")
	}
	return s
}

// RunDetached is the monitor started by Start: it inherits the lock
// (VSERVER_LOCK_FD) and reports readiness on VSERVER_READY_FD.
func RunDetached(cfg *guest.Config, d Dirs, opt Options) int {
	lockFD, err1 := strconv.Atoi(os.Getenv("VSERVER_LOCK_FD"))
	readyFD, err2 := strconv.Atoi(os.Getenv("VSERVER_READY_FD"))
	if err1 != nil || err2 != nil || lockFD < 3 || readyFD < 3 {
		fmt.Fprintln(os.Stderr, "vserver: run --detached is started by `vserver NAME start`")
		return 2
	}
	os.Unsetenv("VSERVER_LOCK_FD")
	os.Unsetenv("VSERVER_READY_FD")
	lock := os.NewFile(uintptr(lockFD), "lock")
	defer lock.Close()
	syscall.CloseOnExec(lockFD)
	syscall.CloseOnExec(readyFD)
	ready := os.NewFile(uintptr(readyFD), "ready")
	opt.Ready = func(err error) {
		if err != nil {
			fmt.Fprintf(ready, "error: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
		} else {
			fmt.Fprintln(ready, "ready")
		}
		ready.Close()
	}
	opt.Foreground = false
	return Run(cfg, d, opt)
}

// RunForeground is `vserver NAME run`: the monitor in the foreground (for a
// systemd unit), taking the lock itself. It exits ExitReboot after a guest
// reboot.
func RunForeground(cfg *guest.Config, d Dirs, opt Options, stderr io.Writer) int {
	if err := ensureDirs(d); err != nil {
		fmt.Fprintf(stderr, "vserver: %v\n", err)
		return 1
	}
	lock, err := tryLock(d.lockPath(cfg.Name))
	if errors.Is(err, errLocked) {
		fmt.Fprintf(stderr, "vserver: guest %s is already running\n", cfg.Name)
		return ExitRunning
	}
	if err != nil {
		fmt.Fprintf(stderr, "vserver: %v\n", err)
		return 1
	}
	defer lock.Close()
	if err := CleanStale(d, cfg.Name, func(f string, a ...any) { fmt.Fprintf(stderr, "vserver: "+f+"\n", a...) }); err != nil {
		fmt.Fprintf(stderr, "vserver: %v\n", err)
		return 1
	}
	user := opt.Ready
	opt.Ready = func(err error) {
		if err != nil {
			fmt.Fprintf(stderr, "vserver: %v\n%s", err, Tail(d.LogPath(cfg.Name), 20))
		}
		if user != nil {
			user(err)
		}
	}
	opt.Foreground = true
	return Run(cfg, d, opt)
}

// Exit statuses of the commands (docs/vserver.md).
const (
	ExitOK         = 0
	ExitFailed     = 1
	ExitUsage      = 2
	ExitNotRunning = 3
	ExitConfig     = 4
	ExitRunning    = 5
)

// request signals name's monitor and waits until cond holds.
func request(d Dirs, name string, sig syscall.Signal) (*State, error) {
	if !Running(d, name) {
		return nil, fmt.Errorf("guest %s: %w", name, ErrNotRunning)
	}
	st, err := ReadState(d, name)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, fmt.Errorf("guest %s: running but has no state file yet; try again", name)
	}
	return st, signalMonitor(st, sig)
}

// Stop stops name in order and waits for its monitor to exit, at most
// timeout.
func Stop(d Dirs, name string, timeout time.Duration) error {
	if _, err := request(d, name, sigStop); err != nil {
		return err
	}
	return waitUnlocked(d, name, timeout)
}

func waitUnlocked(d Dirs, name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for Running(d, name) {
		if time.Now().After(deadline) {
			return fmt.Errorf("guest %s: still running after %v (see vserver %s logs)", name, timeout, name)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// Halt asks name's vinit to halt (the guest's own shutdown, no pre-stop
// hooks) and waits for the monitor to exit.
func Halt(d Dirs, name string, timeout time.Duration) error {
	if _, err := request(d, name, sigHaltGuest); err != nil {
		return err
	}
	return waitUnlocked(d, name, timeout)
}

// Reboot asks name's vinit to reboot and waits until the guest is running
// again (boot count up, phase running), at most timeout. Under `run`
// (systemd) the monitor exits instead and systemd starts a new one.
func Reboot(d Dirs, name string, timeout time.Duration) error {
	st, err := request(d, name, sigRebootGuest)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	var goneSince time.Time
	for {
		now, err := ReadState(d, name)
		if err == nil && now != nil && (now.Boots > st.Boots || now.MonitorPID != st.MonitorPID) && now.Phase == PhaseRunning {
			return nil
		}
		// A foreground monitor (`run`) exits after the reboot and leaves
		// the restart to its service manager: give that a few seconds.
		if err == nil && now == nil && !Running(d, name) {
			if goneSince.IsZero() {
				goneSince = time.Now()
			} else if time.Since(goneSince) > 5*time.Second {
				return fmt.Errorf("guest %s: %w", name, ErrHandedOff)
			}
		} else {
			goneSince = time.Time{}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("guest %s: not back within %v after the reboot (see vserver %s logs)", name, timeout, name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Info is what status and list show of one guest.
type Info struct {
	Name    string
	Running bool
	State   *State // nil when not running
	Stats   cgroup.Stats
	Config  *guest.Config // nil when the file is missing or invalid
}

// Uptime is the time since this boot (zero when not running).
func (i Info) Uptime() time.Duration {
	if i.State == nil || i.State.Booted.IsZero() {
		return 0
	}
	return time.Since(i.State.Booted).Round(time.Second)
}

// Inspect collects name's Info.
func Inspect(d Dirs, name string) Info {
	info := Info{Name: name, Running: Running(d, name), Stats: cgroup.Stats{Memory: -1, CPU: -1}}
	info.Config, _ = guest.Load(d.Config, name)
	if !info.Running {
		return info
	}
	info.State, _ = ReadState(d, name)
	if g, err := cgroup.Open(CgroupRel(name)); err == nil {
		info.Stats = cgroup.ReadStats(g, cgroup.OpenV1(CgroupRel(name)))
	}
	return info
}

// List inspects every configured guest and every guest with run state.
func List(d Dirs) ([]Info, error) {
	names, err := guest.Names(d.Config)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, n := range names {
		seen[n] = true
	}
	for _, n := range stateNames(d) {
		if !seen[n] {
			names = append(names, n)
			seen[n] = true
		}
	}
	out := make([]Info, 0, len(names))
	for _, n := range names {
		out = append(out, Inspect(d, n))
	}
	return out, nil
}
