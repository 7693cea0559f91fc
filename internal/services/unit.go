package services

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kballard/go-shellquote"
	"github.com/vserver-go/vserver/internal/launch"
	"golang.org/x/sys/unix"
)

// markerEnv is set in every service's environment. Processes that leave
// the service's process group (setsid, double fork) keep it, so a stop can
// still find them among vinit's descendants without cgroup privileges.
const markerEnv = "VINIT_SERVICE"

// unit is one service's runtime state. Only the loop touches it.
type unit struct {
	sv      *Supervisor
	spec    *Spec
	loadErr error

	state  State
	reason string // why failed / stopped
	want   bool   // should run

	gen        int // bumped at each start: async events of old starts are dropped
	pid        int // main process
	pgid       int
	forkParent int
	startedAt  time.Time
	readyAt    time.Time
	restarts   int
	lastExit   string
	notifyStat string
	delay      time.Duration
	starts     []time.Time
	killed     bool // SIGKILL already sent during this stop

	readyStop, startTimer, restartTimer, stopTimer, watchdogTimer, pollTimer func()
	readyDone                                                                chan struct{} // closed to end a polling readiness checker
	readyPipe                                                                *os.File      // read end of the ready = { fd = N } pipe
	notify                                                                   *notifySocket
	listeners                                                                []*os.File
	files                                                                    map[string]*rotatingFile
	ring                                                                     logRing
	stopWaiters                                                              []func()
}

func (u *unit) active() bool {
	return u.state == StateStarting || u.state == StateRunning || u.state == StateStopping
}

func (u *unit) up() bool { return u.state == StateRunning || u.state == StateDone }

func (u *unit) log(format string, args ...any) {
	u.sv.host.Log("vinit", fmt.Sprintf("service %q: ", u.spec.Name)+fmt.Sprintf(format, args...))
}

// tryStart starts u if everything it is after is up (or not coming).
func (u *unit) tryStart() {
	for _, d := range u.spec.After {
		dep := u.sv.units[d]
		if dep == nil || dep == u {
			continue
		}
		if contains(u.spec.Requires, d) && !dep.want && dep.loadErr == nil && dep.state != StateFailed {
			dep.want = true // a hard dependency is pulled in
		}
		if dep.up() {
			continue
		}
		if dep.want && dep.state != StateFailed {
			u.state = StateWaiting
			return
		}
		if contains(u.spec.Requires, d) {
			return // kick reports the failed requirement
		}
	}
	u.start()
}

func (u *unit) dependencyFailed(dep string) {
	u.want = false
	why := fmt.Sprintf("required service %q failed", dep)
	if u.active() {
		u.stop(time.Time{}, func() { u.state, u.reason = StateFailed, why })
		return
	}
	u.cancelRestart()
	u.state, u.reason = StateFailed, why
	u.log("not started: %s", why)
}

// start executes the service. On the loop.
func (u *unit) start() {
	u.gen++
	u.killed = false
	u.notifyStat = ""
	if u.spec.Type == TypeForking {
		// A pidfile left from an earlier run must not be taken for the
		// new daemon's.
		_ = os.Remove(u.spec.PIDFile)
	}
	cmd, out, err := u.command()
	if err != nil {
		u.lastExit = "not started"
		u.failed(fmt.Sprintf("start: %v", err))
		return
	}
	gen, pid := u.gen, 0
	// The pid is captured at start: the reaper releases the os.Process
	// (which resets its Pid) before calling back.
	err = u.sv.host.Spawn(cmd, func(ws unix.WaitStatus) { u.mainExited(gen, pid, ws) })
	if err == nil {
		pid = cmd.Process.Pid
	}
	for _, f := range cmd.ExtraFiles {
		if f != nil && !u.isListener(f) {
			f.Close() // our copy of the readiness pipe's write end
		}
	}
	if err != nil {
		out.close()
		u.closeReadiness()
		u.lastExit = "not started"
		u.failed(fmt.Sprintf("start: %v", startError(u.spec.Command[0], cmd.Path, err)))
		return
	}
	out.started()
	u.starts = append(u.starts, time.Now())
	u.pid = cmd.Process.Pid
	u.pgid = u.pid
	u.startedAt = time.Now()
	u.state = StateStarting
	if u.spec.Type == TypeForking {
		u.forkParent = u.pid
	}
	u.startReadiness(gen)
}

// startError phrases a failed start: "exec PROG: REASON" when executing
// the program failed, else the operation and file that did (opening
// /dev/null for stdin in a guest without one is not a missing program).
func startError(prog, path string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) && (pe.Path == path || pe.Path == prog || pe.Op == "fork/exec") {
		return fmt.Errorf("exec %s: %w", prog, pe.Err)
	}
	return err
}

func (u *unit) isListener(f *os.File) bool {
	for _, l := range u.listeners {
		if l == f {
			return true
		}
	}
	return false
}

// command builds the exec.Cmd of one start.
func (u *unit) command() (*exec.Cmd, *outputs, error) {
	s := u.spec
	env, err := u.environ()
	if err != nil {
		return nil, nil, err
	}
	path := s.Command[0]
	if !strings.Contains(path, "/") {
		p, err := lookPathIn(path, envValue(env, "PATH"))
		if err != nil {
			return nil, nil, err
		}
		path = p
	}
	cmd := &exec.Cmd{Path: path, Args: s.Argv(), Env: env, Dir: s.WorkDir}
	if cmd.Dir == "" {
		cmd.Dir = "/"
	}
	// The child's chdir failing is reported by exec as the program's
	// ENOENT ("exec sleep: no such file or directory"): say what is missing.
	if fi, err := os.Stat(cmd.Dir); err != nil {
		return nil, nil, fmt.Errorf("workdir: %w", err)
	} else if !fi.IsDir() {
		return nil, nil, fmt.Errorf("workdir %s: not a directory", cmd.Dir)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: u.credential()}
	settings := launch.Settings{NoNewPrivs: s.NoNewPrivs}
	if s.UmaskSet {
		m := int(s.Umask)
		settings.Umask = &m
	}
	if len(s.Rlimits) > 0 {
		settings.Rlimits = map[int][2]uint64{}
		for _, r := range s.Rlimits {
			settings.Rlimits[r.Resource] = [2]uint64{r.Cur, r.Max}
		}
	}
	// Socket activation: fds 3.. are the listeners, LISTEN_PID the child.
	if len(s.Listen) > 0 {
		if err := u.openListeners(); err != nil {
			return nil, nil, err
		}
		cmd.ExtraFiles = append(cmd.ExtraFiles, u.listeners...)
		names := make([]string, len(s.Listen))
		for i, l := range s.Listen {
			names[i] = l.Name
		}
		cmd.Env = append(cmd.Env, "LISTEN_FDS="+itoa(len(u.listeners)), "LISTEN_FDNAMES="+strings.Join(names, ":"))
		settings.ListenPID = true
	}
	if s.Ready.Kind == ReadyNotify || s.Type == TypeNotify || s.Watchdog > 0 {
		if u.notify == nil {
			n, err := openNotify(u.sv.notifyPath(s.Name), func(m notifyMsg) { u.sv.host.Post(func() { u.notified(m) }) })
			if err != nil {
				return nil, nil, fmt.Errorf("notify socket: %w", err)
			}
			u.notify = n
		}
		cmd.Env = append(cmd.Env, "NOTIFY_SOCKET="+u.notify.path)
		if s.Watchdog > 0 {
			cmd.Env = append(cmd.Env, "WATCHDOG_USEC="+strconv.FormatInt(s.Watchdog.Microseconds(), 10))
		}
	}
	if s.Ready.Kind == ReadyFD {
		first := 3 + len(cmd.ExtraFiles)
		if s.Ready.FD < first {
			return nil, nil, fmt.Errorf("ready fd %d is taken by a listen socket (use %d or more)", s.Ready.FD, first)
		}
		r, w, err := os.Pipe()
		if err != nil {
			return nil, nil, err
		}
		for len(cmd.ExtraFiles) < s.Ready.FD-3 {
			cmd.ExtraFiles = append(cmd.ExtraFiles, nil)
		}
		cmd.ExtraFiles = append(cmd.ExtraFiles, w)
		u.readyPipe = r
		go u.readFD(r, u.gen)
	}
	out, err := u.openOutputs()
	if err != nil {
		u.closeReadiness()
		return nil, nil, err
	}
	cmd.Stdout, cmd.Stderr = out.stdout, out.stderr
	if settings.Needed() {
		// The trampoline switches user itself, after the limits.
		if c := cmd.SysProcAttr.Credential; c != nil {
			settings.Cred = &launch.Cred{UID: int(c.Uid), GID: int(c.Gid), Groups: []int{}}
			for _, g := range c.Groups {
				settings.Cred.Groups = append(settings.Cred.Groups, int(g))
			}
			cmd.SysProcAttr.Credential = nil
		}
		if cmd, err = launch.Wrap(cmd, settings); err != nil {
			out.close()
			return nil, nil, err
		}
	}
	return cmd, out, nil
}

// credential is the user and groups the service runs as; nil = vinit's.
func (u *unit) credential() *syscall.Credential {
	s := u.spec
	if s.UID < 0 && s.GID < 0 {
		return nil
	}
	cred := &syscall.Credential{Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())}
	if s.UID >= 0 {
		cred.Uid = uint32(s.UID)
	}
	if s.GID >= 0 {
		cred.Gid = uint32(s.GID)
	}
	for _, g := range s.Groups {
		cred.Groups = append(cred.Groups, uint32(g))
	}
	return cred
}

// environ is vinit's environment (minus its own variables), then the
// env_files, then env, then HOME/USER/LOGNAME for a user, and the marker.
func (u *unit) environ() ([]string, error) {
	s := u.spec
	env := append([]string(nil), u.sv.baseEnv...)
	set := func(k, v string) {
		for i, kv := range env {
			if strings.HasPrefix(kv, k+"=") {
				env[i] = k + "=" + v
				return
			}
		}
		env = append(env, k+"="+v)
	}
	if envValue(env, "PATH") == "" {
		set("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	if s.User != "" {
		set("USER", s.User)
		set("LOGNAME", s.User)
		if s.Home != "" {
			set("HOME", s.Home)
		}
	}
	for _, ef := range s.EnvFiles {
		kvs, err := readEnvFile(ef.Path)
		if err != nil {
			if ef.Optional && errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("env_file: %w", err)
		}
		for _, kv := range kvs {
			k, v, _ := strings.Cut(kv, "=")
			set(k, v)
		}
	}
	for k, v := range s.Env {
		set(k, v)
	}
	set(markerEnv, s.Name)
	return env, nil
}

// readEnvFile reads KEY=VALUE lines; blank lines and # comments are
// skipped; values may be quoted as in a shell.
func readEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("%s:%d: want KEY=VALUE", path, n)
		}
		if words, err := shellquote.Split(v); err == nil && len(words) == 1 {
			v = words[0]
		}
		out = append(out, k+"="+v)
	}
	return out, sc.Err()
}

func envValue(env []string, k string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], k+"="); ok {
			return v
		}
	}
	return ""
}

func lookPathIn(name, path string) (string, error) {
	for _, dir := range strings.Split(path, ":") {
		if dir == "" {
			continue
		}
		p := dir + "/" + name
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec %s: not found in PATH", name)
}

// mainExited handles the end of the process we started. On the loop.
func (u *unit) mainExited(gen, pid int, ws unix.WaitStatus) {
	if gen != u.gen {
		return
	}
	if u.spec.Type == TypeForking && pid == u.forkParent && u.state == StateStarting {
		u.forkParent = 0
		if ws.Exited() && ws.ExitStatus() == 0 {
			u.forked(gen)
			return
		}
	}
	if pid != u.pid {
		return
	}
	u.ended(ws)
}

// forked: the forking daemon's parent exited 0; its pidfile names the
// daemon, which we watch from now on. Many daemons write the pidfile from
// the daemon itself, after the parent has exited: until the file names a
// live process that is not another service's, look again every 20ms (the
// start timeout bounds the wait).
func (u *unit) forked(gen int) {
	u.pid = 0 // the parent is gone; a stop meanwhile must not wait for it
	pid, err := u.daemonPID()
	if err != nil {
		u.readyStop = u.sv.host.After(20*time.Millisecond, func() {
			u.readyStop = nil
			if gen == u.gen && u.state == StateStarting {
				u.forked(gen)
			}
		})
		return
	}
	u.pid = pid
	u.pgid = pgidOf(pid)
	u.sv.host.Adopt(pid, func(ws unix.WaitStatus) { u.mainExited(gen, pid, ws) })
	u.checkReady(gen)
}

// daemonPID reads the pidfile of a forking service and checks that it
// names a live process that could be the daemon.
func (u *unit) daemonPID() (int, error) {
	b, err := os.ReadFile(u.spec.PIDFile)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 || pid == os.Getpid() {
		return 0, fmt.Errorf("no valid pid in %s", u.spec.PIDFile)
	}
	if st := procState(pid); st == "" || st == "Z" {
		return 0, fmt.Errorf("pid %d from %s is not running", pid, u.spec.PIDFile)
	}
	if other := markerOf(pid); other != "" && other != u.spec.Name {
		return 0, fmt.Errorf("pid %d from %s is service %q's", pid, u.spec.PIDFile, other)
	}
	return pid, nil
}

func pgidOf(pid int) int {
	if g, err := unix.Getpgid(pid); err == nil {
		return g
	}
	return pid
}

// ended: the main process is gone. On the loop.
func (u *unit) ended(ws unix.WaitStatus) {
	u.pid = 0
	u.closeReadiness()
	u.cancel(&u.startTimer)
	u.cancel(&u.watchdogTimer)
	u.lastExit = describeStatus(ws)
	code := exitCode(ws)
	switch u.state {
	case StateStopping:
		u.finishStop()
		return
	case StateFailed:
		// Killed after failing (not ready in time): already judged.
		u.cancel(&u.stopTimer)
		u.killEscaped(unix.SIGKILL)
		return
	}
	// The watchdog's kill timer is this instance's: the next must not get it.
	u.cancel(&u.stopTimer)
	success := ws.Exited() && containsInt(u.spec.SuccessExit, ws.ExitStatus())
	if u.spec.Type == TypeOneshot && u.state == StateStarting && success {
		u.state = StateDone
		u.readyAt = time.Now()
		u.sv.kick()
		return
	}
	// An unexpected end: what the service left in its group goes too, so a
	// restart does not find a half of it still running.
	if u.pgid > 1 {
		_ = unix.Kill(-u.pgid, unix.SIGKILL)
	}
	u.killEscaped(unix.SIGKILL)
	restart := u.want && !u.sv.stopping && (u.spec.Restart == RestartAlways || (u.spec.Restart == RestartOnFailure && !success))
	if ws.Exited() && ws.ExitStatus() == 125 {
		restart = false
		u.reason = "exited 125: not restarted"
	}
	if restart {
		var limited bool
		u.starts, limited = startLimited(u.starts, time.Now(), u.spec.StartLimit)
		if limited {
			u.failed(fmt.Sprintf("start limit: %d starts within %v (last: %s)", u.spec.StartLimit.Burst, u.spec.StartLimit.Interval, u.lastExit))
			u.endedForGood(code)
			return
		}
		var wait time.Duration
		wait, u.delay = nextDelay(u.delay, u.spec.RestartDelay, u.spec.RestartMax, u.spec.RestartReset, time.Since(u.startedAt), u.sv.jitter())
		u.state = StateBackoff
		u.restarts++
		u.restartTimer = u.sv.host.After(wait, func() {
			u.restartTimer = nil
			if u.state == StateBackoff && u.want && !u.sv.stopping {
				u.state = StateStopped
				u.sv.kick()
			}
		})
		return
	}
	if success {
		u.state = StateStopped
		if u.reason == "" {
			u.reason = "ended: " + u.lastExit
		}
	} else if ws.Exited() && ws.ExitStatus() == 125 {
		u.failed("ended: exit status 125: not restarted")
	} else {
		u.failed("ended: " + u.lastExit)
	}
	u.want = false
	u.endedForGood(code)
}

func (u *unit) endedForGood(code int) {
	if u.spec.Main && u.sv.mainEnded != nil && !u.sv.stopping {
		u.sv.mainEnded(code)
	}
	u.sv.kick()
}

func (u *unit) failed(why string) {
	u.state, u.reason = StateFailed, why
	u.want = false
	u.log("failed: %s", why)
	if u.pid > 0 {
		// A readiness timeout: the process is still there.
		u.stopProcess(time.Time{})
	} else {
		// A forking daemon whose pidfile never named it may still run.
		u.killEscaped(unix.SIGKILL)
	}
	u.sv.kick()
}

func (u *unit) becameReady() {
	if u.state != StateStarting {
		return
	}
	u.closeReadiness()
	u.cancel(&u.startTimer)
	u.state = StateRunning
	u.readyAt = time.Now()
	if u.spec.Watchdog > 0 {
		u.armWatchdog()
	}
	u.sv.kick()
}

// notified handles an sd_notify datagram. On the loop.
func (u *unit) notified(m notifyMsg) {
	if !u.active() {
		return
	}
	if u.spec.NotifyAccess != NotifyAll && m.pid != u.pid {
		return // only the main process may speak for the service
	}
	if v, ok := m.fields["MAINPID"]; ok {
		if pid, err := strconv.Atoi(v); err == nil && pid > 1 && pid != u.pid {
			old, gen := u.pid, u.gen
			u.sv.host.Forget(old)
			u.pid = pid
			u.sv.host.Adopt(pid, func(ws unix.WaitStatus) { u.mainExited(gen, pid, ws) })
		}
	}
	if v, ok := m.fields["STATUS"]; ok {
		u.notifyStat = v
	}
	if m.fields["WATCHDOG"] == "1" && u.spec.Watchdog > 0 && u.state == StateRunning {
		u.armWatchdog()
	}
	if m.fields["READY"] == "1" && (u.spec.Type == TypeNotify || u.spec.Ready.Kind == ReadyNotify) {
		u.becameReady()
	}
}

func (u *unit) armWatchdog() {
	u.cancel(&u.watchdogTimer)
	gen := u.gen
	u.watchdogTimer = u.sv.host.After(u.spec.Watchdog, func() {
		u.watchdogTimer = nil
		if gen == u.gen && u.state == StateRunning && u.pid > 0 {
			u.log("watchdog: no WATCHDOG=1 within %v: killing it", u.spec.Watchdog)
			_ = unix.Kill(u.pid, unix.SIGABRT)
			u.stopTimer = u.sv.host.After(u.spec.StopTimeout, func() { u.killAll() })
		}
	})
}

// stop stops the service: its stop signal to its process group (and to
// processes that left the group but carry its marker), SIGKILL to all of
// them after stop_timeout (or at deadline, if earlier). then runs when it
// has stopped.
func (u *unit) stop(deadline time.Time, then func()) {
	u.cancelRestart()
	switch u.state {
	case StateStarting, StateRunning:
		u.stopWaiters = append(u.stopWaiters, then)
		u.state = StateStopping
		u.stopProcess(deadline)
		if u.pid == 0 {
			// A forking service between its parent's exit and the
			// pidfile: no main process will report its end.
			u.finishStop()
		}
	case StateStopping:
		u.stopWaiters = append(u.stopWaiters, then)
	default:
		if u.state == StateWaiting || u.state == StateBackoff {
			u.state = StateStopped
		}
		then()
	}
}

func (u *unit) stopProcess(deadline time.Time) {
	u.closeReadiness()
	u.cancel(&u.startTimer)
	u.cancel(&u.watchdogTimer)
	sig := unix.Signal(u.spec.StopSignal)
	if u.pgid > 1 {
		_ = unix.Kill(-u.pgid, sig)
		_ = unix.Kill(-u.pgid, unix.SIGCONT)
	}
	// The main process once: a second stop signal means "hurry" to many
	// programs, and a shell trap runs twice.
	if u.pid > 1 && (u.pgid <= 1 || pgidOf(u.pid) != u.pgid) {
		_ = unix.Kill(u.pid, sig)
	}
	u.killEscaped(sig)
	wait := u.spec.StopTimeout
	if !deadline.IsZero() {
		wait = min(wait, time.Until(deadline))
	}
	u.cancel(&u.stopTimer)
	u.stopTimer = u.sv.host.After(max(wait, 0), u.killAll)
}

func (u *unit) killAll() {
	u.stopTimer = nil
	u.killed = true
	if u.pgid > 1 {
		_ = unix.Kill(-u.pgid, unix.SIGKILL)
	}
	if u.pid > 1 {
		_ = unix.Kill(u.pid, unix.SIGKILL)
	}
	u.killEscaped(unix.SIGKILL)
	if u.pid == 0 {
		u.finishStop()
	}
}

// finishStop completes a stop once the main process is gone and nothing of
// the service is left (checked again shortly while something is).
func (u *unit) finishStop() {
	u.cancel(&u.pollTimer)
	if u.state != StateStopping {
		return
	}
	if left := u.leftovers(); len(left) > 0 && !u.killed {
		u.pollTimer = u.sv.host.After(20*time.Millisecond, u.finishStop)
		return
	} else if len(left) > 0 {
		for _, p := range left {
			_ = unix.Kill(p, unix.SIGKILL)
		}
	}
	u.cancel(&u.stopTimer)
	if u.reason == "" || u.state == StateStopping {
		u.reason = "stopped"
	}
	u.state = StateStopped
	if !u.want {
		u.closeListeners()
	}
	ws := u.stopWaiters
	u.stopWaiters = nil
	for _, f := range ws {
		f()
	}
	u.sv.kick()
}

// leftovers lists the live processes of the service: its process group and
// every descendant of vinit carrying its marker.
func (u *unit) leftovers() []int {
	var out []int
	others := u.sv.otherGroups(u)
	for _, p := range u.sv.processes() {
		switch {
		case p.state == "Z" || p.state == "":
		case u.pgid > 1 && p.pgid == u.pgid:
			out = append(out, p.pid)
		case others[p.pgid]:
			// Another running service's group: its, not ours.
		case p.service() == u.spec.Name:
			out = append(out, p.pid)
		}
	}
	return out
}

func (u *unit) killEscaped(sig unix.Signal) {
	others := u.sv.otherGroups(u)
	for _, p := range u.sv.processes() {
		if p.pgid != u.pgid && !others[p.pgid] && p.service() == u.spec.Name {
			_ = unix.Kill(p.pid, sig)
		}
	}
}

func (u *unit) cancel(stop *func()) {
	if *stop != nil {
		(*stop)()
		*stop = nil
	}
}

func (u *unit) cancelRestart() { u.cancel(&u.restartTimer) }

func (u *unit) closeReadiness() {
	u.cancel(&u.readyStop)
	if u.readyDone != nil {
		close(u.readyDone)
		u.readyDone = nil
	}
	if u.readyPipe != nil {
		u.readyPipe.Close()
		u.readyPipe = nil
	}
}

func (u *unit) closeListeners() {
	for _, f := range u.listeners {
		f.Close()
	}
	u.listeners = nil
}

// release frees what the unit holds between starts (before removal or a
// definition change).
func (u *unit) release() {
	u.closeListeners()
	if u.notify != nil {
		u.notify.close()
		u.notify = nil
	}
	for _, f := range u.files {
		f.close()
	}
	u.files = nil
}

func (u *unit) status() Status {
	st := Status{Name: u.spec.Name, Description: u.spec.Description, State: u.state, Restarts: u.restarts,
		LastExit: u.lastExit, Reason: u.reason, NotifyState: u.notifyStat, Main: u.spec.Main, File: u.spec.File}
	if len(u.spec.Command) > 0 {
		st.Command = shellquote.Join(u.spec.Command...)
	}
	if u.active() {
		st.PID = u.pid
		st.Uptime = time.Since(u.startedAt).Round(time.Second).String()
	}
	switch u.state {
	case StateRunning, StateDone:
		st.Ready = u.readyAt.Format(time.RFC3339)
		st.Reason = ""
	case StateStarting, StateStopping, StateWaiting:
		st.Reason = ""
	}
	return st
}

func describeStatus(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + signalName(ws.Signal())
	}
	return "exit status " + strconv.Itoa(ws.ExitStatus())
}

func exitCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
