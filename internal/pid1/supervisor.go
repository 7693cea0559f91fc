package pid1

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/vserver-go/vserver/internal/control"
	"github.com/vserver-go/vserver/internal/hooks"
	"github.com/vserver-go/vserver/internal/memtrim"
	"github.com/vserver-go/vserver/internal/services"
	"golang.org/x/sys/unix"
)

// SupervisorOptions configure supervisor mode (vinit with no command).
// Options not named in Set come from CONFIG/vinit.toml when it has them.
type SupervisorOptions struct {
	Set             map[string]bool // options given on the command line: "control", "reboot-socket", ...
	ConfigDir       string          // /etc/vinit
	ControlSocket   string          // "" = none
	RebootSocket    string          // the 2003 /dev/reboot protocol; "" = none
	ShutdownTimeout time.Duration   // the one budget for the whole shutdown
	HookTimeout     time.Duration   // per hook
	PrestartFatal   bool            // a failing pre-start hook fails the boot
	Verbose         bool
}

// Shutdown actions.
const (
	actHalt     = "halt"
	actPoweroff = "poweroff"
	actReboot   = "reboot"
)

type supervisor struct {
	l    *loop
	opts SupervisorOptions
	log  *console
	st   *startState

	started      time.Time
	stopStarted  time.Time
	deadline     time.Time // of the shutdown under way
	state        string    // booting, running, stopping
	action       string    // the shutdown being carried out
	bootFailed   bool
	escalate     chan struct{} // closed on a second shutdown request
	escalated    bool
	notifySocket string
	monitor      *monitorChan
	terminal     bool // console is a terminal: Ctrl-C means stop

	svc       *services.Supervisor
	stopCh    chan struct{} // closed when the shutdown begins
	mainExit  *int          // the main service ended for good with this status
	reloading bool
}

// RunSupervisor runs vinit as an init with hooks, control sockets and an
// orderly shutdown. It returns the exit status when there is nothing else to
// do (a container without CAP_SYS_BOOT, or vinit not PID 1).
func RunSupervisor(sigs *Signals, opts SupervisorOptions) int {
	st := prepare(true)
	cfg := services.LoadDir(opts.ConfigDir, services.SystemLookup("/"))
	opts.applyGlobal(cfg.Global)
	log := newConsole(os.Stderr, cfg.Global.ConsoleBuffer, true)
	defer log.Flush(100 * time.Millisecond)
	for _, err := range cfg.Errors {
		log.Printf("%v", err)
	}
	l := newLoop(sigs, log)
	sv := &supervisor{l: l, opts: opts, log: log, st: st, started: time.Now(), state: "booting",
		escalate: make(chan struct{}), stopCh: make(chan struct{}), terminal: consoleIsTerminal()}
	runDir := "/run/vinit"
	if opts.ControlSocket != "" {
		runDir = filepath.Dir(opts.ControlSocket)
	}
	sv.svc = services.NewSupervisor(l, cfg, runDir, sv.mainEnded)
	l.afterReap = sv.svc.Reaped
	if sv.opts.ShutdownTimeout <= 0 {
		sv.opts.ShutdownTimeout = 10 * time.Second
	}
	if sv.opts.HookTimeout <= 0 {
		sv.opts.HookTimeout = 30 * time.Second
	}
	if l.pid1 {
		setName("vinit")
		if err := mountIfMissing("/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			log.Printf("%v", err)
		}
		if err := mountIfMissing("/run", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=755"); err != nil {
			log.Printf("%v", err)
		}
	} else if err := setSubreaper(); err != nil {
		log.Printf("warning: %v: orphans will not be reaped by vinit", err)
	}
	// NOTIFY_SOCKET is ours (the host's systemd or launcher), not our children's.
	sv.notifySocket = os.Getenv("NOTIFY_SOCKET")
	os.Unsetenv("NOTIFY_SOCKET")
	os.Unsetenv("VINIT_MONITOR_FD")
	if st.monitor != nil {
		sv.monitor = newMonitorChan(st.monitor, sv)
	}
	if opts.ControlSocket != "" {
		if err := serveControl(opts.ControlSocket, sv); err != nil {
			log.Printf("control socket: %v", err)
		}
	}
	if opts.RebootSocket != "" {
		if err := serveReboot(opts.RebootSocket, sv); err != nil {
			log.Printf("reboot socket: %v", err)
		}
	}
	l.onSignal = sv.onSignal
	go sv.boot()
	return l.run()
}

// onSignal applies DESIGN §3.3. Runs on the loop.
func (sv *supervisor) onSignal(sig unix.Signal) {
	switch sig {
	case unix.SIGTERM, unix.SIGPWR, sigHaltSystemd, unix.SIGUSR1:
		sv.requestShutdown(actHalt, "signal "+SignalName(sig))
	case sigPoweroffSystemd, unix.SIGUSR2:
		sv.requestShutdown(actPoweroff, "signal "+SignalName(sig))
	case unix.SIGINT:
		if sv.terminal {
			sv.requestShutdown(actHalt, "Ctrl-C on the console")
		} else {
			sv.requestShutdown(actReboot, "signal SIGINT")
		}
	case sigRebootSystemd:
		sv.requestShutdown(actReboot, "signal "+SignalName(sig))
	case unix.SIGHUP:
		sv.reload(nil)
	default:
		if sv.opts.Verbose {
			sv.log.Printf("ignoring %s", SignalName(sig))
		}
	}
}

// requestShutdown starts the shutdown, or escalates one in progress (a
// second request: skip waiting, kill what is left now). Runs on the loop.
func (sv *supervisor) requestShutdown(action, why string) {
	if sv.state == "stopping" {
		if !sv.escalated {
			sv.escalated = true
			close(sv.escalate)
			sv.log.Printf("%s during shutdown: killing what is left now", why)
		}
		return
	}
	sv.state = "stopping"
	close(sv.stopCh)
	sv.stopStarted = time.Now()
	sv.action = action
	sv.log.Printf("%s: %s", why, action)
	go sv.shutdown(action)
}

func (sv *supervisor) hookEnv(phase, reason string) hooks.Spec {
	return hooks.Spec{Phase: phase, Reason: reason, Timeout: sv.opts.HookTimeout,
		Env: []string{"VINIT_PHASE=" + phase, "VINIT_REASON=" + reason},
		Log: func(line string) { sv.log.Line(phase, line) }}
}

// runHooks runs the executables of CONFIG/hooks/PHASE.d within the timeout
// and the deadline (zero: none).
func (sv *supervisor) runHooks(phase, reason string, deadline time.Time) error {
	hs, err := hooks.FromDir(filepath.Join(sv.opts.ConfigDir, "hooks", phase+".d"))
	if err != nil || len(hs) == 0 {
		return err
	}
	spec := sv.hookEnv(phase, reason)
	if !deadline.IsZero() {
		if left := time.Until(deadline); left < spec.Timeout {
			spec.Timeout = max(left, 50*time.Millisecond)
		}
	}
	return hooks.Run(sv.l, hs, spec)
}

// boot is stage 2: pre-start hooks, services, post-start hooks, ready.
func (sv *supervisor) boot() {
	if err := sv.runHooks("pre-start", "boot", time.Time{}); err != nil {
		sv.log.Printf("boot: %v", err)
		if sv.opts.PrestartFatal {
			sv.l.do(func() {
				if sv.state != "stopping" {
					sv.bootFailed = true
					sv.requestShutdown(actHalt, "a pre-start hook failed")
				}
			})
			return
		}
	}
	if sv.stopping() {
		return
	}
	settled := make(chan struct{})
	sv.l.do(func() { sv.svc.StartAll(func() { close(settled) }) })
	select {
	case <-settled:
	case <-sv.stopCh:
		return
	}
	if err := sv.runHooks("post-start", "boot", time.Time{}); err != nil {
		sv.log.Printf("boot: %v", err)
	}
	sv.l.do(func() {
		if sv.state != "booting" {
			return
		}
		sv.state = "running"
		sv.sdNotify("READY=1")
		sv.sendEvent(control.Event{Event: "ready"})
		memtrim.Startup()
		if sv.opts.Verbose {
			sv.log.Printf("ready in %v", time.Since(sv.started).Round(time.Millisecond))
		}
	})
}

func (sv *supervisor) stopping() bool {
	var s bool
	sv.l.do(func() { s = sv.state == "stopping" })
	return s
}

// sdNotify tells whoever started us (systemd, a launcher) our state.
// Runs on the loop, where all processes are started, so putting
// NOTIFY_SOCKET back into the environment for a moment leaks it to no child.
func (sv *supervisor) sdNotify(state string) {
	if sv.notifySocket == "" {
		return
	}
	os.Setenv("NOTIFY_SOCKET", sv.notifySocket)
	if _, err := daemon.SdNotify(true, state); err != nil && sv.opts.Verbose {
		sv.log.Printf("sd_notify %s: %v", state, err)
	}
	os.Unsetenv("NOTIFY_SOCKET")
}

func (sv *supervisor) sendEvent(ev control.Event) {
	if sv.monitor != nil {
		sv.monitor.send(control.Marshal(ev))
	}
}

// shutdown is stage 4, bounded by one budget: pre-stop hooks, SIGTERM to
// everything, a grace that ends as soon as nothing is left, SIGKILL, reap,
// post-stop hooks, sync, then the final action.
func (sv *supervisor) shutdown(action string) {
	start := time.Now()
	budget := sv.opts.ShutdownTimeout
	deadline := start.Add(budget)
	sv.l.do(func() { sv.deadline = deadline })
	// Keep a slice of the budget for SIGKILL, reaping and post-stop hooks.
	reserve := min(max(budget/5, 200*time.Millisecond), budget/2)
	killAt := deadline.Add(-reserve)
	sv.l.do(func() {
		sv.sdNotify("STOPPING=1")
		sv.sendEvent(control.Event{Event: "stopping", Reason: action})
	})
	if !sv.hurried() {
		if err := sv.runHooks("pre-stop", action, killAt); err != nil {
			sv.log.Printf("shutdown: %v", err)
		}
	}
	stopped := make(chan struct{})
	sv.l.do(func() { sv.svc.StopAll(killAt, func() { close(stopped) }) })
	t := time.NewTimer(time.Until(killAt))
	select {
	case <-stopped:
	case <-sv.escalate:
	case <-t.C:
	}
	t.Stop()
	sv.l.do(func() { sv.l.killAll(unix.SIGTERM); sv.l.killAll(unix.SIGCONT) })
	if !sv.waitEmpty(killAt) {
		sv.l.do(func() { sv.l.killAll(unix.SIGKILL) })
		if !sv.waitEmpty(time.Now().Add(2 * time.Second)) {
			sv.log.Printf("shutdown: processes left after SIGKILL (stuck in the kernel?)")
		}
	}
	if err := sv.runHooks("post-stop", action, deadline); err != nil {
		sv.log.Printf("shutdown: %v", err)
	}
	sv.l.do(func() { sv.l.reap() })
	syncWithin(deadline)
	code := sv.final(action)
	sv.l.do(func() { sv.l.exit = &code })
}

// syncWithin flushes file systems, waiting no longer than the deadline in a
// container (sync can take seconds on a busy host, and ending a PID
// namespace needs no sync) but at least 5 s on a real machine, which is
// about to lose what is not written.
func syncWithin(deadline time.Time) {
	done := make(chan struct{})
	go func() { unix.Sync(); close(done) }()
	wait := time.Until(deadline)
	if inInitialPIDNS() {
		wait = max(wait, 5*time.Second)
	}
	select {
	case <-done:
	case <-time.After(max(wait, 10*time.Millisecond)):
	}
}

func (sv *supervisor) hurried() bool {
	select {
	case <-sv.escalate:
		return true
	default:
		return false
	}
}

// waitEmpty waits until no process is left, the deadline, or escalation.
func (sv *supervisor) waitEmpty(deadline time.Time) bool {
	empty := sv.l.whenEmpty()
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-empty:
		return true
	case <-sv.escalate:
		return false
	case <-t.C:
		return false
	}
}

// final ends vinit after a shutdown. In a container's PID namespace
// reboot(2) ends the namespace so the parent sees "killed by SIGHUP"
// (reboot) or "killed by SIGINT" (halt, poweroff). Without CAP_SYS_BOOT a
// halt exits 0 and a reboot re-executes vinit in place. In the initial PID
// namespace (a VM) it really reboots or powers off.
func (sv *supervisor) final(action string) int {
	sv.log.Printf("%s: shutdown done in %v", action, time.Since(sv.stopStarted).Round(time.Millisecond))
	sv.log.Flush(sv.flushWait())
	if sv.bootFailed {
		return 1
	}
	if sv.mainExit != nil {
		// Container mode: the main service's status is the answer, and
		// exiting ends the namespace just as well as reboot(2) would.
		return *sv.mainExit
	}
	if sv.l.pid1 {
		err := rebootSyscall(action, inInitialPIDNS())
		sv.log.Printf("%v; %s without it", err, action)
	}
	if action == actReboot {
		sv.reexec()
		return 1
	}
	return 0
}

// reexec restarts vinit in place (reboot without reboot(2)), handing the
// new image our environment and monitor channel back.
func (sv *supervisor) reexec() {
	if sv.notifySocket != "" {
		os.Setenv("NOTIFY_SOCKET", sv.notifySocket)
	}
	if sv.st.monitor != nil {
		clearCloexec(sv.st.monFD)
		os.Setenv("VINIT_MONITOR_FD", strconv.Itoa(sv.st.monFD))
	}
	sv.log.Printf("re-executing vinit")
	sv.log.Flush(sv.flushWait())
	err := syscall.Exec("/proc/self/exe", os.Args, os.Environ())
	sv.log.Printf("re-execute vinit: %v", err)
	sv.log.Flush(sv.flushWait())
}

// flushWait is how long the last words may wait for a slow console: up to
// 500 ms, never past the shutdown budget, at least 20 ms. A stuck console
// costs lines, not the budget.
func (sv *supervisor) flushWait() time.Duration {
	return max(min(time.Until(sv.deadline), 500*time.Millisecond), 20*time.Millisecond)
}

// handle answers one control request, now or (stop, restart) once done.
// Runs on the loop; reply may be called later, also on the loop.
func (sv *supervisor) handle(req control.Request, reply func(control.Reply)) {
	ok := func(data any) {
		rep := control.Reply{ID: req.ID, OK: true}
		if data != nil {
			rep.Data, _ = json.Marshal(data)
		}
		reply(rep)
	}
	fail := func(err error) { reply(control.Reply{ID: req.ID, Error: err.Error()}) }
	if sv.state == "stopping" {
		switch req.Op {
		case "start", "restart", "reload":
			fail(fmt.Errorf("%s: vinit is shutting down", req.Op))
			return
		}
	}
	switch req.Op {
	case "ping":
		ok(nil)
	case actReboot, actHalt, actPoweroff:
		sv.requestShutdown(req.Op, "request")
		ok(nil)
	case "status":
		if req.Name != "" {
			for _, st := range sv.svc.Statuses() {
				if st.Name == req.Name {
					ok(st)
					return
				}
			}
			fail(fmt.Errorf("status: no service %q", req.Name))
			return
		}
		ok(map[string]any{
			"state":          sv.state,
			"pid":            os.Getpid(),
			"uptime_seconds": int64(time.Since(sv.started).Seconds()),
			"orphans_reaped": sv.l.orphans,
			"children":       len(sv.l.procs),
			"services":       sv.svc.Statuses(),
		})
	case "start":
		if err := sv.svc.Start(req.Name); err != nil {
			fail(err)
			return
		}
		ok(nil)
	case "stop":
		if err := sv.svc.Stop(req.Name, func() { ok(nil) }); err != nil {
			fail(err)
		}
	case "restart":
		if err := sv.svc.Restart(req.Name, func() { ok(nil) }); err != nil {
			fail(err)
		}
	case "reload":
		if req.Name != "" {
			if err := sv.svc.Signal(req.Name); err != nil {
				fail(err)
				return
			}
			ok(nil)
			return
		}
		sv.reload(func(errs []string) {
			if len(errs) > 0 {
				reply(control.Reply{ID: req.ID, Error: strings.Join(errs, "\n")})
				return
			}
			ok(nil)
		})
	case "exec", "signal": // exec.go; they come with fds on the monitor channel only
		fail(fmt.Errorf("%s: only the host's monitor may ask for that", req.Op))
	case "log":
		lines, err := sv.svc.Log(req.Name)
		if err != nil {
			fail(err)
			return
		}
		ok(lines)
	default:
		fail(fmt.Errorf("unknown operation %q", req.Op))
	}
}

// reload re-reads the configuration (off the loop) and applies it (on the
// loop). done, if not nil, gets the problems found.
func (sv *supervisor) reload(done func(errs []string)) {
	if sv.reloading {
		if done != nil {
			done([]string{"a reload is already running"})
		}
		return
	}
	sv.reloading = true
	sv.log.Printf("reloading %s", sv.opts.ConfigDir)
	go func() {
		cfg := services.LoadDir(sv.opts.ConfigDir, services.SystemLookup("/"))
		sv.l.Post(func() {
			sv.reloading = false
			var msgs []string
			for _, err := range cfg.Errors {
				msgs = append(msgs, err.Error())
			}
			if sv.state != "stopping" {
				for _, err := range sv.svc.Reload(cfg) {
					msgs = append(msgs, err.Error())
				}
			}
			for _, m := range msgs {
				sv.log.Printf("reload: %s", m)
			}
			if done != nil {
				done(msgs)
			}
		})
	}()
}

// mainEnded: the main service ended for good; vinit halts and exits with
// its status. On the loop.
func (sv *supervisor) mainEnded(status int) {
	if sv.state == "stopping" {
		return
	}
	sv.mainExit = &status
	sv.requestShutdown(actHalt, fmt.Sprintf("main service ended (status %d)", status))
}

// applyGlobal takes vinit.toml's settings for what the command line did
// not set.
func (o *SupervisorOptions) applyGlobal(g services.Global) {
	if !o.Set["control"] {
		o.ControlSocket = g.ControlSocket
	}
	if !o.Set["reboot-socket"] {
		o.RebootSocket = g.RebootSocket
		if o.RebootSocket == "/dev/reboot" && !OwnsDev() {
			o.RebootSocket = ""
		}
	}
	if !o.Set["shutdown-timeout"] {
		o.ShutdownTimeout = g.ShutdownTimeout
	}
	if !o.Set["hook-timeout"] {
		o.HookTimeout = g.HookTimeout
	}
	o.PrestartFatal = g.PrestartFailure != "continue"
}
