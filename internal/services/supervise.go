package services

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Host is what the supervisor needs from PID 1's event loop. The
// supervisor's methods are only ever called on that loop, and it calls Host
// back only from there (Post excepted: any goroutine may post).
type Host interface {
	// Spawn starts cmd; onExit runs on the loop once it has been reaped.
	Spawn(cmd *exec.Cmd, onExit func(unix.WaitStatus)) error
	// Adopt watches a pid we did not start (a forking daemon).
	Adopt(pid int, onExit func(unix.WaitStatus))
	// Forget stops watching pid.
	Forget(pid int)
	// After runs f on the loop after d unless stopped first.
	After(d time.Duration, f func()) (stop func())
	// Post runs f on the loop soon; safe from any goroutine.
	Post(f func())
	// Log writes a tagged line to the console without blocking.
	Log(tag, line string)
}

// State is where a service is in its life.
type State string

// The states of a service.
const (
	StateStopped  State = "stopped"  // not running, not wanted (or ended successfully)
	StateWaiting  State = "waiting"  // wanted, waiting for what it is after
	StateStarting State = "starting" // running, not ready yet
	StateRunning  State = "running"  // ready
	StateDone     State = "done"     // a oneshot that finished successfully
	StateStopping State = "stopping" // stop signal sent, waiting for it to end
	StateBackoff  State = "backoff"  // ended; restarting after a delay
	StateFailed   State = "failed"   // will not run until started again (see Reason)
)

// Supervisor runs the services of one configuration.
type Supervisor struct {
	host    Host
	runDir  string // notify sockets live in runDir/notify
	units   map[string]*unit
	baseEnv []string

	stopping  bool // shutting down: nothing starts or restarts any more
	mainEnded func(status int)
	settled   []func() // waiting for every wanted service to be up or failed
	rnd       *rand.Rand

	snap   []*proc   // processes below vinit, shared by the stops of one moment
	snapAt time.Time // when snap was taken
}

// NewSupervisor prepares cfg's services without starting any. mainEnded is
// called when the main service has ended for good, with its exit status.
func NewSupervisor(host Host, cfg *Config, runDir string, mainEnded func(status int)) *Supervisor {
	sv := &Supervisor{host: host, runDir: runDir, units: map[string]*unit{}, mainEnded: mainEnded,
		rnd: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid())))}
	for _, kv := range os.Environ() {
		// Ours, not theirs: the host's notify socket, the monitor channel.
		if strings.HasPrefix(kv, "NOTIFY_SOCKET=") || strings.HasPrefix(kv, "VINIT_") || strings.HasPrefix(kv, "LISTEN_") {
			continue
		}
		sv.baseEnv = append(sv.baseEnv, kv)
	}
	if cfg.Global.Main != "" {
		if s := cfg.Services[cfg.Global.Main]; s != nil {
			s.Main = true
		}
	}
	for name, spec := range cfg.Services {
		sv.units[name] = &unit{sv: sv, spec: spec, state: StateStopped}
	}
	for name, err := range cfg.Failed {
		if _, ok := sv.units[name]; !ok {
			sv.units[name] = &unit{sv: sv, spec: &Spec{Name: name, Enabled: true}, state: StateFailed,
				loadErr: err, reason: err.Error()}
		}
	}
	return sv
}

// StartAll starts every enabled service, each as soon as what it is after
// is ready; settled runs once every wanted service is up, done or failed.
func (sv *Supervisor) StartAll(settled func()) {
	for _, u := range sv.sorted() {
		if u.spec.Enabled && u.loadErr == nil {
			u.want = true
		}
	}
	sv.settled = append(sv.settled, settled)
	sv.kick()
}

// kick (re)considers every wanted service that is not running: the single
// place where dependencies are evaluated, after any state change.
func (sv *Supervisor) kick() {
	for changed := true; changed; {
		changed = false
		for _, u := range sv.sorted() {
			if u.want && (u.state == StateStopped || u.state == StateWaiting) && !sv.stopping {
				before := u.state
				u.tryStart()
				changed = changed || u.state != before
			}
			if u.want && u.state != StateFailed && u.state != StateStopping && sv.requiredFailed(u) != "" {
				u.dependencyFailed(sv.requiredFailed(u))
				changed = true
			} else if d := sv.requiredEnded(u); d != "" && (u.state == StateStarting || u.state == StateRunning) {
				u.want = false
				u.log("stopping: required service %q has stopped", d)
				u.stop(time.Time{}, func() {})
				changed = true
			}
		}
	}
	if len(sv.settled) > 0 && sv.isSettled() {
		fs := sv.settled
		sv.settled = nil
		for _, f := range fs {
			f()
		}
	}
}

func (sv *Supervisor) isSettled() bool {
	for _, u := range sv.units {
		if u.want && (u.state == StateWaiting || u.state == StateStarting || u.state == StateStopped) {
			return false
		}
	}
	return true
}

// requiredFailed names a failed hard dependency of u, or "".
func (sv *Supervisor) requiredFailed(u *unit) string {
	for _, d := range u.spec.Requires {
		if dep := sv.units[d]; dep == nil || dep.state == StateFailed {
			return d
		}
	}
	return ""
}

// requiredEnded names a hard dependency of u that ended and is not
// coming back (stopped and not wanted), or "".
func (sv *Supervisor) requiredEnded(u *unit) string {
	for _, d := range u.spec.Requires {
		if dep := sv.units[d]; dep != nil && !dep.want && dep.state == StateStopped {
			return d
		}
	}
	return ""
}

func (sv *Supervisor) sorted() []*unit {
	out := make([]*unit, 0, len(sv.units))
	for _, u := range sv.units {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].spec.Name < out[j].spec.Name })
	return out
}

// StopAll stops every service in reverse dependency order: a service is
// stopped once nothing that is after it still runs. Each stop is bounded by
// its stop_timeout and by the deadline. done runs when all have stopped.
func (sv *Supervisor) StopAll(deadline time.Time, done func()) {
	sv.stopping = true
	for _, u := range sv.units {
		u.want = false
		u.cancelRestart()
		if u.state == StateWaiting || u.state == StateBackoff {
			u.state = StateStopped
		}
	}
	// Each active unit is asked once, also one already stopping (a "vinit
	// stop" in flight): its end must step the shutdown on too.
	asked := map[*unit]bool{}
	finished := false
	var step func()
	step = func() {
		running := 0
		for _, u := range sv.sorted() {
			if !u.active() {
				continue
			}
			running++
			if asked[u] || sv.hasActiveDependent(u) {
				continue
			}
			asked[u] = true
			u.stop(deadline, step)
		}
		if running == 0 && !finished {
			finished = true
			done()
		}
	}
	step()
}

// hasActiveDependent reports whether a running service is after u.
func (sv *Supervisor) hasActiveDependent(u *unit) bool {
	for _, o := range sv.units {
		if o != u && o.active() && contains(o.spec.After, u.spec.Name) {
			return true
		}
	}
	return false
}

// Status is one row of "vinit status".
type Status struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	State       State  `json:"state"`
	PID         int    `json:"pid,omitempty"`
	Uptime      string `json:"uptime,omitempty"`
	Restarts    int    `json:"restarts"`
	LastExit    string `json:"last_exit,omitempty"`
	Ready       string `json:"ready,omitempty"`
	Reason      string `json:"reason,omitempty"`
	NotifyState string `json:"status,omitempty"` // the service's own STATUS=
	Main        bool   `json:"main,omitempty"`
	Command     string `json:"command,omitempty"`
	File        string `json:"file,omitempty"`
}

// Statuses lists every service, by name.
func (sv *Supervisor) Statuses() []Status {
	var out []Status
	for _, u := range sv.sorted() {
		out = append(out, u.status())
	}
	return out
}

// Start starts a service by request, also one that failed (its start limit
// is reset) or is disabled.
func (sv *Supervisor) Start(name string) error {
	u, err := sv.unit(name)
	if err != nil {
		return err
	}
	if u.loadErr != nil {
		return fmt.Errorf("service %q cannot run: %v", name, u.loadErr)
	}
	if sv.stopping {
		return fmt.Errorf("start %s: vinit is shutting down", name)
	}
	u.want = true
	u.starts = nil
	if u.state == StateFailed || u.state == StateBackoff {
		u.cancelRestart()
		u.state = StateStopped
		u.reason = ""
	}
	sv.kick()
	return nil
}

// Stop stops a service by request; it stays down until started. What
// requires it is stopped first (requires: "stopped when they stop").
func (sv *Supervisor) Stop(name string, done func()) error {
	u, err := sv.unit(name)
	if err != nil {
		return err
	}
	sv.stopTree(u, new([]*unit), func() { sv.kick(); done() })
	return nil
}

// Restart stops a service (if running) and what requires it, and starts
// them all again.
func (sv *Supervisor) Restart(name string, done func()) error {
	u, err := sv.unit(name)
	if err != nil {
		return err
	}
	if u.loadErr != nil {
		return fmt.Errorf("service %q cannot run: %v", name, u.loadErr)
	}
	var deps []*unit
	sv.stopTree(u, &deps, func() {
		_ = sv.Start(name)
		for _, d := range deps {
			if sv.units[d.spec.Name] == d {
				_ = sv.Start(d.spec.Name)
			}
		}
		done()
	})
	return nil
}

// stopTree stops u once every service that requires it (transitively)
// has stopped; stopped collects those dependents.
func (sv *Supervisor) stopTree(u *unit, stopped *[]*unit, then func()) {
	u.want = false
	u.cancelRestart()
	if u.state == StateWaiting || u.state == StateBackoff {
		u.state = StateStopped
	}
	var deps []*unit
	for _, o := range sv.sorted() {
		if o != u && contains(o.spec.Requires, u.spec.Name) && (o.want || o.active()) {
			deps = append(deps, o)
		}
	}
	left := len(deps) + 1
	next := func() {
		if left--; left == 0 {
			u.stop(time.Time{}, then)
		}
	}
	for _, d := range deps {
		*stopped = append(*stopped, d)
		sv.stopTree(d, stopped, next)
	}
	next()
}

// Signal sends a service's reload signal to its main process.
func (sv *Supervisor) Signal(name string) error {
	u, err := sv.unit(name)
	if err != nil {
		return err
	}
	if u.pid <= 0 {
		return fmt.Errorf("reload %s: not running", name)
	}
	if err := unix.Kill(u.pid, u.spec.ReloadSignal); err != nil {
		return fmt.Errorf("reload %s: signal %d: %w", name, u.pid, err)
	}
	return nil
}

// Log returns a service's recent output lines.
func (sv *Supervisor) Log(name string) ([]string, error) {
	u, err := sv.unit(name)
	if err != nil {
		return nil, err
	}
	return u.ring.recent(), nil
}

func (sv *Supervisor) unit(name string) (*unit, error) {
	u := sv.units[name]
	if u == nil {
		return nil, fmt.Errorf("no service %q", name)
	}
	return u, nil
}

// Reload applies a freshly loaded configuration: unchanged services keep
// running, changed ones restart with the new definition, new ones start,
// removed ones stop. A service whose file no longer loads keeps its old
// definition (the error is returned for the log).
func (sv *Supervisor) Reload(cfg *Config) []error {
	var errs []error
	if cfg.Global.Main != "" {
		if s := cfg.Services[cfg.Global.Main]; s != nil {
			s.Main = true
		}
	}
	for name, u := range sv.units {
		newSpec, ok := cfg.Services[name]
		if ferr, failed := cfg.Failed[name]; failed && !ok {
			if u.loadErr == nil {
				errs = append(errs, fmt.Errorf("service %q keeps its old definition: %v", name, ferr))
				continue
			}
			u.loadErr, u.reason = ferr, ferr.Error()
			continue
		}
		if !ok {
			// Removed.
			u.want = false
			u.cancelRestart()
			uu := u
			u.stop(time.Time{}, func() {
				if !uu.active() && sv.units[uu.spec.Name] == uu {
					uu.release()
					delete(sv.units, uu.spec.Name)
				}
			})
			continue
		}
		if u.loadErr != nil {
			// It did not load before and does now.
			u.loadErr, u.reason, u.spec = nil, "", newSpec
			u.state = StateStopped
			u.want = newSpec.Enabled
			continue
		}
		if u.spec.Equal(newSpec) {
			continue
		}
		wasWanted := u.want
		uu := u
		if uu.active() {
			uu.stop(time.Time{}, func() {
				uu.release()
				uu.spec = newSpec
				uu.want = wasWanted || newSpec.Enabled
				uu.starts, uu.delay = nil, 0
				sv.kick()
			})
		} else {
			uu.cancelRestart()
			uu.release()
			uu.spec, uu.state = newSpec, StateStopped
			uu.want = wasWanted || newSpec.Enabled
		}
	}
	for name, spec := range cfg.Services {
		if _, ok := sv.units[name]; !ok {
			sv.units[name] = &unit{sv: sv, spec: spec, state: StateStopped, want: spec.Enabled}
		}
	}
	for name, err := range cfg.Failed {
		if _, ok := sv.units[name]; !ok {
			sv.units[name] = &unit{sv: sv, spec: &Spec{Name: name, Enabled: true}, state: StateFailed, loadErr: err, reason: err.Error()}
		}
	}
	sv.kick()
	return errs
}

// processes lists the processes below vinit. One scan of /proc serves
// every call within 10ms: a shutdown stops all services at once, and a
// scan per service made stopping n services cost n² reads of /proc. A
// slightly old list is safe: "nothing of the service is left" cannot
// become false, and "something is left" is looked at again.
func (sv *Supervisor) processes() []*proc {
	if sv.snap == nil || time.Since(sv.snapAt) > 10*time.Millisecond {
		sv.snap, sv.snapAt = descendantsOfSelf(), time.Now()
	}
	return sv.snap
}

// Reaped tells the supervisor that processes were reaped: a stop that
// waits for the last processes of its service looks again now instead of
// at its next poll (a halt of 200 services waited 20 ms for each poll).
func (sv *Supervisor) Reaped() {
	sv.snap = nil
	for _, u := range sv.units {
		if u.state == StateStopping && u.pollTimer != nil {
			u.finishStop()
		}
	}
}

// otherGroups are the process groups of the running services other than
// u: their members belong to those services, whatever they carry.
func (sv *Supervisor) otherGroups(u *unit) map[int]bool {
	m := map[int]bool{}
	for _, o := range sv.units {
		if o != u && o.active() && o.pgid > 1 {
			m[o.pgid] = true
		}
	}
	return m
}

func (sv *Supervisor) notifyPath(name string) string {
	return filepath.Join(sv.runDir, "notify", name)
}

// jitter is in [0,1).
func (sv *Supervisor) jitter() float64 { return sv.rnd.Float64() }

func itoa(i int) string { return strconv.Itoa(i) }
