package pid1

import (
	"errors"
	"os"
	"os/exec"
	"time"

	"github.com/vserver-go/vserver/internal/hooks"
	"golang.org/x/sys/unix"
)

// loop is the one goroutine that owns PID-1 state: the process table, the
// reaper, and what to do on each signal. Other goroutines (stages, control
// connections, log readers) never touch that state; they send closures on
// calls, which the loop runs in order.
type loop struct {
	sigs  *Signals
	calls chan func()
	log   *console
	pid1  bool // PID 1 of our namespace: kill(-1) is ours to use

	procs        map[int]*child
	noChildren   bool
	emptyWaiters []chan struct{}
	orphans      uint64 // reaped processes nobody registered

	onSignal  func(unix.Signal) // mode-specific; runs on the loop
	afterReap func()            // runs on the loop after a reap that collected something
	exit      *int              // set to end the loop with that status
}

type child struct {
	proc   *os.Process // nil for adopted pids (a forking daemon's main process)
	onExit func(unix.WaitStatus)
}

func newLoop(sigs *Signals, log *console) *loop {
	return &loop{
		sigs:  sigs,
		calls: make(chan func(), 64),
		log:   log,
		pid1:  os.Getpid() == 1,
		procs: map[int]*child{},
	}
}

// run serves events until something sets l.exit.
func (l *loop) run() int {
	l.serve(func() bool { return l.exit != nil }, time.Time{}, nil)
	return *l.exit
}

// serve handles the loop's events (reaping, signals, posted calls) until
// done holds, the deadline passes (zero: none) or hurry fires. It reports
// whether done held. Every phase of vinit runs its events through here.
func (l *loop) serve(done func() bool, deadline time.Time, hurry <-chan struct{}) bool {
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		timeout = t.C
	}
	for !done() {
		select {
		case <-l.sigs.Child:
			l.reap()
		case s := <-l.sigs.Others:
			if sig, ok := s.(unix.Signal); ok && l.onSignal != nil {
				l.onSignal(sig)
			}
		case f := <-l.calls:
			f()
		case <-hurry:
			return false
		case <-timeout:
			return false
		}
	}
	return true
}

// do runs f on the loop and waits for it. Never call it from the loop.
func (l *loop) do(f func()) {
	done := make(chan struct{})
	l.calls <- func() { f(); close(done) }
	<-done
}

// reap collects every child that has exited: SIGCHLDs coalesce, so one
// notification may stand for many deaths (catatonit #4). Registered
// processes get their onExit; the rest are orphans that were reparented to
// us, and are only counted.
func (l *loop) reap() {
	reaped := 0
	defer func() {
		if reaped > 0 && l.afterReap != nil {
			l.afterReap()
		}
	}()
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ECHILD):
			l.noChildren = true
			for _, w := range l.emptyWaiters {
				close(w)
			}
			l.emptyWaiters = nil
			return
		case err != nil || pid <= 0:
			return
		}
		reaped++
		c, ok := l.procs[pid]
		if !ok {
			l.orphans++
			continue
		}
		delete(l.procs, pid)
		if c.proc != nil {
			_ = c.proc.Release()
		}
		if c.onExit != nil {
			c.onExit(ws)
		}
	}
}

// spawn starts cmd and registers it, on the loop, so the reaper can never
// see it exit before it is known.
func (l *loop) spawn(cmd *exec.Cmd, onExit func(unix.WaitStatus)) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	l.noChildren = false
	l.procs[cmd.Process.Pid] = &child{proc: cmd.Process, onExit: onExit}
	return nil
}

// Spawn starts cmd and calls onExit on the loop when it has been reaped.
// It must be called on the loop.
func (l *loop) Spawn(cmd *exec.Cmd, onExit func(unix.WaitStatus)) error {
	return l.spawn(cmd, onExit)
}

// Adopt watches pid, which is not (yet) our child: a daemon that forked
// away from the process we started, and that is reparented to us (we are
// PID 1 or a subreaper) once its parent is gone. If it is already gone, it
// was reaped as an orphan: onExit gets a zero status right away. Must be
// called on the loop.
func (l *loop) Adopt(pid int, onExit func(unix.WaitStatus)) {
	if err := unix.Kill(pid, 0); err != nil && errors.Is(err, unix.ESRCH) {
		onExit(0)
		return
	}
	l.procs[pid] = &child{onExit: onExit}
}

// Forget stops watching pid without signalling it.
func (l *loop) Forget(pid int) {
	if c, ok := l.procs[pid]; ok {
		if c.proc != nil {
			_ = c.proc.Release()
		}
		delete(l.procs, pid)
	}
}

// Post runs f on the loop soon. Safe from any goroutine, the loop included.
func (l *loop) Post(f func()) {
	select {
	case l.calls <- f:
	default:
		go func() { l.calls <- f }()
	}
}

// After runs f on the loop after d, unless the returned stop is called
// first (on the loop).
func (l *loop) After(d time.Duration, f func()) (stop func()) {
	stopped := false
	t := time.AfterFunc(d, func() {
		l.Post(func() {
			if !stopped {
				f()
			}
		})
	})
	return func() { stopped = true; t.Stop() }
}

// Start implements hooks.Starter for goroutines other than the loop.
func (l *loop) Start(cmd *exec.Cmd) (<-chan hooks.ExitStatus, error) {
	ch := make(chan hooks.ExitStatus, 1)
	var err error
	l.do(func() {
		err = l.spawn(cmd, func(ws unix.WaitStatus) { ch <- hooks.StatusFromWait(ws) })
	})
	return ch, err
}

// whenEmpty returns a channel closed once we have no children left.
func (l *loop) whenEmpty() <-chan struct{} {
	ch := make(chan struct{})
	l.do(func() {
		l.reap()
		if l.noChildren {
			close(ch)
			return
		}
		l.emptyWaiters = append(l.emptyWaiters, ch)
	})
	return ch
}

// killAll sends sig to every process we are responsible for: all of our PID
// namespace when we are its init, else our descendants.
func (l *loop) killAll(sig unix.Signal) {
	if l.pid1 {
		_ = unix.Kill(-1, sig)
		return
	}
	for _, p := range descendants(os.Getpid()) {
		_ = unix.Kill(p, sig)
	}
}

// Log writes a tagged line to the console without blocking (services.Host).
func (l *loop) Log(tag, line string) { l.log.Line(tag, line) }
