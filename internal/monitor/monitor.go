package monitor

import (
	"errors"
	"fmt"
	"github.com/vserver-go/vserver/internal/memtrim"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/vserver-go/vserver/internal/cgroup"
	"github.com/vserver-go/vserver/internal/control"
	"github.com/vserver-go/vserver/internal/guest"
	"github.com/vserver-go/vserver/internal/hooks"
	"github.com/vserver-go/vserver/internal/isolation"
)

// Signals between the host and vinit (DESIGN §3.3): SIGRTMIN+3 halts,
// SIGRTMIN+5 reboots (the C library's SIGRTMIN, 34, as systemd counts).
const (
	sigHalt   = syscall.Signal(34 + 3)
	sigReboot = syscall.Signal(34 + 5)
)

// Signals from the CLI to a monitor.
const (
	sigStop        = syscall.SIGTERM // orderly stop: pre-stop hooks, halt, timeout, kill
	sigRebootGuest = syscall.SIGUSR1 // ask vinit to reboot
	sigHaltGuest   = syscall.SIGUSR2 // ask vinit to halt
)

// ExitReboot is the exit status of `vserver NAME run` after the guest
// rebooted, for systemd's RestartForceExitStatus= (as systemd-nspawn).
const ExitReboot = 133

// How a boot of the guest ended.
const (
	EndHalt   = "halt"   // vinit halted (guest's own request or `vserver NAME halt`)
	EndReboot = "reboot" // vinit rebooted
	EndCrash  = "crash"  // vinit died otherwise
	EndStop   = "stop"   // the host stopped it (`vserver NAME stop`, SIGTERM to the monitor)
)

// Options tune a monitor; the zero value is the default.
type Options struct {
	Vinit        string        // host path of vinit; "" = VinitPath()
	ReadyTimeout time.Duration // wait for vinit's ready event; 0 = 30s
	Foreground   bool          // `run`: exit with ExitReboot on a guest reboot instead of rebooting in-process
	LogSize      int64         // rotate the log at this size; 0 = DefaultLogSize
	// Ready is called once, when the guest is first ready (err nil) or has
	// failed to start (err set).
	Ready func(err error)
}

// VinitPath is the host's vinit: $VSERVER_VINIT, else "vinit" next to the
// running executable.
func VinitPath() string {
	if p := os.Getenv("VSERVER_VINIT"); p != "" {
		return p
	}
	exe, err := os.Executable()
	if err != nil {
		return "/usr/local/sbin/vinit"
	}
	return filepath.Join(filepath.Dir(exe), "vinit")
}

// monitor is one guest's monitor process state. Only Run's goroutine
// touches it.
type monitor struct {
	cfg  *guest.Config
	dirs Dirs
	opt  Options
	log  *logFile

	master, slave *os.File
	sigs          chan os.Signal
	exec          *execServer // RUN/NAME.sock: exec and enter (exec.go)

	state   State
	reboots []time.Time
	readyFn func(error)

	// per boot
	group *cgroup.Group
	v1    *cgroup.V1
	net   *netState
}

// Run is the monitor: it boots the guest, waits for it to end and reboots
// it when it asks (rate-limited), until it halts, crashes or is stopped.
// The caller holds the guest's lock. It returns the process exit status.
func Run(cfg *guest.Config, d Dirs, opt Options) int {
	if opt.ReadyTimeout <= 0 {
		opt.ReadyTimeout = 30 * time.Second
	}
	if opt.Vinit == "" {
		opt.Vinit = VinitPath()
	}
	if opt.LogSize <= 0 {
		opt.LogSize = DefaultLogSize
	}
	readyFn := opt.Ready
	if readyFn == nil {
		readyFn = func(error) {}
	}
	if err := ensureDirs(d); err != nil {
		readyFn(err)
		return 1
	}
	l, err := openLog(d.LogPath(cfg.Name), opt.LogSize)
	if err != nil {
		readyFn(err)
		return 1
	}
	defer l.Close()
	m := &monitor{cfg: cfg, dirs: d, opt: opt, log: l, readyFn: readyFn}
	m.sigs = make(chan os.Signal, 8)
	signal.Notify(m.sigs, sigStop, syscall.SIGINT, syscall.SIGHUP, sigRebootGuest, sigHaltGuest)
	defer signal.Stop(m.sigs)

	m.master, m.slave, err = openPTY()
	if err != nil {
		m.fail(err)
		return 1
	}
	go copyConsole(m.master, l)
	defer func() {
		m.slave.Close()
		m.master.Close()
	}()

	start, _ := procStart(os.Getpid())
	now := time.Now()
	m.state = State{Name: cfg.Name, MonitorPID: os.Getpid(), MonitorStart: start, Context: cfg.Context,
		Cgroup: CgroupRel(cfg.Name), Since: now, NetMode: cfg.Net.Mode, Log: d.LogPath(cfg.Name)}
	for _, p := range cfg.Net.IPs {
		m.state.IPs = append(m.state.IPs, p.String())
	}
	if m.exec, err = m.serveExec(); err != nil {
		m.log.Printf("exec and enter will not work: %v", err)
	}
	defer m.exec.close()
	reason := "boot"
	for {
		m.state.Boots++
		var end string
		var early *endedBeforeReady
		proc, exited, ch, err := m.boot(reason)
		switch {
		case err == nil:
			m.ready()
			end = m.supervise(proc, exited, ch)
			m.log.Printf("guest ended: %s", end)
			m.state.Phase = PhaseStopping
			m.runHooks("post-stop", end)
			m.cleanup()
		case errors.As(err, &early) && early.end == EndReboot:
			// The guest's admin may reboot it at any moment, also
			// before it was ready: a reboot like any other (boot has
			// already cleaned up).
			end = EndReboot
			m.log.Printf("guest rebooted before it was ready")
			m.runHooks("post-stop", end)
		default:
			m.log.Printf("start failed: %v", err)
			m.fail(err)
			return 1
		}
		if end != EndReboot {
			_ = removeState(d, cfg.Name)
			if end == EndCrash {
				return 1
			}
			return 0
		}
		if !cfg.Reboot.Allow {
			m.log.Printf("reboots are not allowed ([reboot] allow = false): the guest stays down")
			_ = removeState(d, cfg.Name)
			m.fail(errors.New("the guest rebooted itself, and [reboot] allow = false"))
			return 0
		}
		if !m.rebootAllowed(time.Now()) {
			m.log.Printf("more than %d reboots within %v: the guest stays down", cfg.Reboot.Max, cfg.Reboot.Interval)
			_ = removeState(d, cfg.Name)
			m.fail(fmt.Errorf("the guest rebooted more than %d times within %v", cfg.Reboot.Max, cfg.Reboot.Interval))
			return 1
		}
		if opt.Foreground {
			_ = removeState(d, cfg.Name)
			return ExitReboot
		}
		m.state.Phase = PhaseRebooting
		_ = writeState(d, &m.state)
		reason = "reboot"
		m.log.Printf("rebooting the guest from scratch")
	}
}

// rebootAllowed records a reboot at now and checks the rate limit.
func (m *monitor) rebootAllowed(now time.Time) bool {
	keep := m.reboots[:0]
	for _, t := range m.reboots {
		if now.Sub(t) < m.cfg.Reboot.Interval {
			keep = append(keep, t)
		}
	}
	m.reboots = append(keep, now)
	return len(m.reboots) <= m.cfg.Reboot.Max
}

func (m *monitor) ready() {
	if m.readyFn != nil {
		m.readyFn(nil)
		m.readyFn = nil
	}
}

func (m *monitor) fail(err error) {
	if m.readyFn != nil {
		m.readyFn(err)
		m.readyFn = nil
	}
}

// hookList is the 2003 script NAME.sh (when executable) then the [hooks]
// commands of phase.
func (m *monitor) hookList(phase string) []hooks.Hook {
	var hs []hooks.Hook
	script := filepath.Join(m.dirs.Config, m.cfg.Name+".sh")
	if fi, err := os.Stat(script); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
		hs = append(hs, hooks.Hook{Name: m.cfg.Name + ".sh", Argv: []string{script, phase, m.cfg.Name}})
	}
	for i, argv := range m.cfg.Hooks.Commands[phase] {
		hs = append(hs, hooks.Hook{Name: fmt.Sprintf("%s[%d]", phase, i), Argv: argv})
	}
	return hs
}

func (m *monitor) runHooks(phase, reason string) error {
	hs := m.hookList(phase)
	if len(hs) == 0 {
		return nil
	}
	err := hooks.Run(hooks.DirectStarter, hs, hooks.Spec{
		Phase:  phase,
		Reason: reason,
		Env: []string{"VSERVER_NAME=" + m.cfg.Name, "VSERVER_ROOT=" + m.cfg.Root,
			"VSERVER_PHASE=" + phase, "VSERVER_REASON=" + reason,
			"VSERVER_CONTEXT=" + strconv.FormatUint(uint64(m.cfg.Context), 10)},
		Timeout: m.cfg.Hooks.Timeout,
		Dir:     m.dirs.Config,
		Log:     func(line string) { m.log.Printf("hook %s", line) },
	})
	if err != nil {
		m.log.Printf("%v", err)
	}
	return err
}

// boot runs the start sequence once. On error everything it did is undone.
func (m *monitor) boot(reason string) (proc *os.Process, exited <-chan *os.ProcessState, events <-chan control.Event, err error) {
	cfg := m.cfg
	m.state.Phase = PhaseStarting
	m.state.InitPID = 0
	defer func() {
		if err != nil {
			m.cleanup()
			_ = removeState(m.dirs, cfg.Name)
		}
	}()
	if fi, err := os.Stat(cfg.Root); err != nil || !fi.IsDir() {
		return nil, nil, nil, fmt.Errorf("guest root %s is not a directory (create it, or set root in %s)", cfg.Root, guest.Path(m.dirs.Config, cfg.Name))
	}
	if err := writeState(m.dirs, &m.state); err != nil {
		return nil, nil, nil, err
	}
	m.group, err = cgroup.Create(CgroupRel(cfg.Name))
	if err != nil {
		return nil, nil, nil, err
	}
	m.v1, err = cgroup.Apply(m.group, CgroupRel(cfg.Name), cgroup.Limits{
		Pids: cfg.Limits.Processes, Memory: cfg.Limits.Memory,
		CPUPercent: cfg.Limits.CPUPercent, CPUWeight: cfg.Limits.CPUWeight})
	if err != nil {
		return nil, nil, nil, err
	}
	m.net, err = setupNet(cfg, m.group)
	if m.net != nil {
		m.state.Aliases, m.state.PinDir, m.state.Protections = m.net.aliases, m.net.pinDir, m.net.protections
		m.state.Veth = m.net.veth
		// On record before anything else can go wrong: a monitor killed
		// from here on leaves pins and interfaces that CleanStale finds.
		_ = writeState(m.dirs, &m.state)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	if err := m.runHooks("pre-start", reason); err != nil {
		return nil, nil, nil, err
	}

	spec, hostEnd, guestEnd, err := m.spec()
	if err != nil {
		return nil, nil, nil, err
	}
	defer guestEnd.Close()
	cgfd, err := m.group.OpenFD()
	if err != nil {
		hostEnd.Close()
		return nil, nil, nil, err
	}
	defer cgfd.Close()
	spec.CgroupFD = int(cgfd.Fd())
	spec.Prepare, spec.ScopeAbstractUnix = m.net.prepare, m.net.scopeAbstract

	proc, exited, err = m.spawn(spec)
	if err != nil {
		hostEnd.Close()
		return nil, nil, nil, err
	}
	m.state.InitPID = proc.Pid
	m.state.Booted = time.Now()
	_ = writeState(m.dirs, &m.state)
	m.log.Printf("guest started: vinit is pid %d on the host, context %d, boot %d", proc.Pid, cfg.Context, m.state.Boots)

	evs := make(chan control.Event, 16)
	vc, cerr := newVinitChan(hostEnd, evs, m.log)
	if cerr != nil {
		m.log.Printf("monitor channel: %v", cerr)
	}
	m.exec.setChannel(vc)
	timer := time.NewTimer(m.opt.ReadyTimeout)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-evs:
			if !ok {
				evs = nil
				continue
			}
			if ev.Event == "ready" {
				m.state.Phase = PhaseRunning
				_ = writeState(m.dirs, &m.state)
				m.log.Printf("guest is ready")
				if err := m.runHooks("post-start", reason); err != nil {
					m.log.Printf("post-start hooks failed; the guest keeps running")
				}
				// From here the monitor mostly waits: give back what
				// starting the guest needed (one monitor per guest).
				memtrim.Startup()
				return proc, exited, evs, nil
			}
		case ps := <-exited:
			return nil, nil, nil, &endedBeforeReady{end: classify(ps), how: describe(ps)}
		case <-timer.C:
			_ = m.group.Kill(time.Now().Add(5 * time.Second))
			ps := <-exited
			return nil, nil, nil, fmt.Errorf("vinit was not ready within %v (killed: %s)", m.opt.ReadyTimeout, describe(ps))
		case s := <-m.sigs:
			if s == sigStop || s == syscall.SIGINT {
				_ = m.group.Kill(time.Now().Add(5 * time.Second))
				<-exited
				return nil, nil, nil, errors.New("stopped while starting")
			}
		}
	}
}

// spec builds the isolation spec of one boot, with the monitor channel.
func (m *monitor) spec() (*isolation.Spec, *os.File, *os.File, error) {
	cfg := m.cfg
	caps := append(isolation.DefaultCaps(), cfg.Caps.Add...)
	var keep []string
	for _, c := range caps {
		drop := false
		for _, d := range cfg.Caps.Drop {
			drop = drop || d == c
		}
		if !drop {
			keep = append(keep, c)
		}
	}
	keep, err := isolation.ParseCaps(keep)
	if err != nil {
		return nil, nil, nil, err
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("create monitor channel: %w", err)
	}
	hostEnd := os.NewFile(uintptr(fds[0]), "monitor-channel")
	guestEnd := os.NewFile(uintptr(fds[1]), "vinit-channel")
	rl := map[string][2]uint64{}
	if cfg.Limits.NoFile > 0 {
		rl["nofile"] = [2]uint64{cfg.Limits.NoFile, cfg.Limits.NoFile}
	}
	var mounts []isolation.Mount
	for _, mt := range cfg.Mounts {
		mounts = append(mounts, isolation.Mount{Source: mt.Source, Target: mt.Target, ReadOnly: mt.ReadOnly})
	}
	spec := &isolation.Spec{
		Name:       cfg.Name,
		Root:       cfg.Root,
		Hostname:   cfg.Hostname,
		Domainname: cfg.Domainname,
		InitPath:   m.opt.Vinit,
		InitArgs:   []string{"vinit"},
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"TERM=linux", "container=vserver", "VINIT_MONITOR_FD=3"},
		NewNet:      cfg.Net.Mode == guest.NetNone || cfg.Net.Mode == guest.NetNetns,
		Caps:        keep,
		Rlimits:     rl,
		Nice:        cfg.Nice,
		Mounts:      mounts,
		ConsolePath: m.slave.Name(),
		Stdio:       [3]*os.File{m.slave, m.slave, m.slave},
		ExtraFiles:  []*os.File{guestEnd},
		Seccomp:     true,
		Pdeathsig:   syscall.SIGKILL,
	}
	return spec, hostEnd, guestEnd, nil
}

// spawn starts the guest from an OS thread that stays locked (and alive)
// until vinit has ended: the guest's PR_SET_PDEATHSIG follows that thread,
// so the guest dies with the monitor. On a hybrid host the thread first
// joins the guest's v1 groups, so vinit starts inside them.
func (m *monitor) spawn(spec *isolation.Spec) (*os.Process, <-chan *os.ProcessState, error) {
	type started struct {
		p   *os.Process
		err error
	}
	st := make(chan started, 1)
	exited := make(chan *os.ProcessState, 1)
	v1 := m.v1
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread ends with this goroutine, after vinit.
		var leave func() error
		if v1 != nil && len(v1.Dirs()) > 0 {
			var err error
			if leave, err = v1.EnterThread(); err != nil {
				st <- started{nil, err}
				return
			}
		}
		p, err := isolation.Start(spec)
		if leave != nil {
			if lerr := leave(); lerr != nil && err == nil {
				m.log.Printf("warning: %v", lerr)
			}
		}
		st <- started{p, err}
		if err != nil {
			return
		}
		ps, werr := p.Wait()
		if werr != nil {
			m.log.Printf("wait for vinit: %v", werr)
		}
		exited <- ps
	}()
	s := <-st
	return s.p, exited, s.err
}

// supervise waits for the guest to end, acting on requests meanwhile.
func (m *monitor) supervise(proc *os.Process, exited <-chan *os.ProcessState, events <-chan control.Event) string {
	stopping := false
	var killTimer <-chan time.Time
	for {
		select {
		case ps := <-exited:
			end := classify(ps)
			m.log.Printf("vinit ended: %s", describe(ps))
			if stopping && end != EndReboot {
				return EndStop
			}
			return end
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if ev.Event == "stopping" {
				m.log.Printf("guest is shutting down (%s)", ev.Reason)
			}
		case s := <-m.sigs:
			switch s {
			case sigStop, syscall.SIGINT:
				if stopping {
					m.log.Printf("second stop request: killing the guest now")
					_ = m.group.Kill(time.Now().Add(5 * time.Second))
					continue
				}
				stopping = true
				m.state.Phase = PhaseStopping
				_ = writeState(m.dirs, &m.state)
				m.log.Printf("stopping the guest (timeout %v)", m.cfg.Stop.Timeout)
				m.runHooks("pre-stop", EndStop)
				_ = proc.Signal(sigHalt)
				killTimer = time.After(m.cfg.Stop.Timeout)
			case sigRebootGuest:
				m.log.Printf("asking the guest to reboot")
				_ = proc.Signal(sigReboot)
			case sigHaltGuest:
				m.log.Printf("asking the guest to halt")
				_ = proc.Signal(sigHalt)
			case syscall.SIGHUP:
				m.log.Printf("SIGHUP ignored (use vserver NAME reboot)")
			}
		case <-killTimer:
			killTimer = nil
			m.log.Printf("the guest did not stop within %v: killing every process", m.cfg.Stop.Timeout)
			if err := m.group.Kill(time.Now().Add(10 * time.Second)); err != nil {
				m.log.Printf("%v", err)
			}
		}
	}
}

// classify maps vinit's end to what the guest wanted (DESIGN §4.6).
// endedBeforeReady: vinit ended before it said it was ready.
type endedBeforeReady struct {
	end string // EndReboot, EndHalt, EndCrash
	how string
}

func (e *endedBeforeReady) Error() string { return "vinit ended before it was ready: " + e.how }

func classify(ps *os.ProcessState) string {
	if ps == nil {
		return EndCrash
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok {
		return EndCrash
	}
	switch {
	case ws.Signaled() && ws.Signal() == syscall.SIGHUP:
		return EndReboot
	case ws.Signaled() && ws.Signal() == syscall.SIGINT:
		return EndHalt
	case ws.Exited() && ws.ExitStatus() == 0:
		return EndHalt
	}
	return EndCrash
}

func describe(ps *os.ProcessState) string {
	if ps == nil {
		return "unknown status"
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "killed by " + ws.Signal().String()
	}
	return ps.String()
}

// cleanup removes every trace of the current boot: processes, cgroups,
// network programs and aliases. It is idempotent.
func (m *monitor) cleanup() {
	m.exec.setChannel(nil)
	deadline := time.Now().Add(10 * time.Second)
	if m.group != nil {
		if err := m.group.Kill(deadline); err != nil {
			m.log.Printf("cleanup: %v", err)
		}
	}
	if m.net != nil {
		if err := m.net.teardown(); err != nil {
			m.log.Printf("cleanup: %v", err)
		}
		m.net = nil
	}
	if m.v1 != nil {
		if err := m.v1.Remove(deadline); err != nil {
			m.log.Printf("cleanup: %v", err)
		}
		m.v1 = nil
	}
	if m.group != nil {
		if err := removeGroup(m.group, deadline); err != nil {
			m.log.Printf("cleanup: %v", err)
		}
		m.group = nil
	}
	m.state.Aliases, m.state.PinDir, m.state.Protections, m.state.Veth = nil, "", nil, ""
}

// removeGroup removes a (killed) group, retrying while the kernel still
// counts exiting tasks.
func removeGroup(g *cgroup.Group, deadline time.Time) error {
	for {
		err := g.Remove()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		if !errors.Is(err, syscall.EBUSY) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}
