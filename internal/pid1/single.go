package pid1

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vserver-go/vserver/internal/launch"
	"github.com/vserver-go/vserver/internal/memtrim"
	"github.com/vserver-go/vserver/internal/services"
	"golang.org/x/sys/unix"
)

// SingleOptions configure single-command mode (vinit -- CMD), the drop-in
// for tini, dumb-init and catatonit.
type SingleOptions struct {
	Argv    []string
	Group   bool                        // forward signals to CMD's process group
	Rewrite map[unix.Signal]unix.Signal // forwarded signal → signal sent
	Remap   map[int]int                 // CMD's exit status → vinit's
	Grace   time.Duration               // for leftovers after CMD exits
	Verbose bool
	// ConfigDir holds service files to run beside CMD as sidecars; "" or a
	// directory without services/ means none.
	ConfigDir string
}

// RunSingle runs opts.Argv as the main process and returns vinit's exit
// status. sigs must come from CatchSignals, called first thing in main.
func RunSingle(sigs *Signals, opts SingleOptions) int {
	log := newConsole(os.Stderr, 256, false)
	defer log.Flush(time.Second)
	st := prepare(false)
	if opts.Grace == 0 {
		opts.Grace = 2 * time.Second
	}
	l := newLoop(sigs, log)
	if !l.pid1 {
		if err := setSubreaper(); err != nil {
			log.Printf("warning: %v: orphans will not be reaped by vinit", err)
		}
	}

	// Sidecars: services from the config dir run beside CMD, are stopped
	// in order when CMD ends, and never decide vinit's exit status.
	var sidecars *services.Supervisor
	if opts.ConfigDir != "" {
		if fi, err := os.Stat(filepath.Join(opts.ConfigDir, "services")); err == nil && fi.IsDir() {
			cfg := services.LoadDir(opts.ConfigDir, services.SystemLookup("/"))
			for _, err := range cfg.Errors {
				log.Printf("%v", err)
			}
			if len(cfg.Services) > 0 {
				runDir := filepath.Join(os.TempDir(), "vinit-"+strconv.Itoa(os.Getpid()))
				if l.pid1 {
					runDir = "/run/vinit"
				}
				sidecars = services.NewSupervisor(l, cfg, runDir, nil)
				l.afterReap = sidecars.Reaped
				sidecars.StartAll(func() {})
				defer os.RemoveAll(filepath.Join(runDir, "notify"))
			}
		}
	}

	cmd, err := mainCommand(opts.Argv, st)
	if err != nil {
		log.Printf("%v", err)
		return 127
	}
	// Before CMD starts, so RSS is low from the first moment CMD runs.
	memtrim.Startup()
	var mainStatus int
	mainPID := 0
	mainDone := false
	if err := l.spawn(cmd, func(ws unix.WaitStatus) {
		mainDone = true
		mainStatus = statusCode(ws)
		if opts.Verbose {
			log.Printf("main process %d ended: %s", mainPID, describe(ws))
		}
	}); err != nil {
		log.Printf("%v", execError(opts.Argv[0], err))
		return execStatus(err)
	}
	mainPID = cmd.Process.Pid
	st.closeListenFDs()

	// Until CMD is gone, forward signals. Afterwards, a signal means "hurry".
	hurry := make(chan struct{}, 1)
	l.onSignal = func(sig unix.Signal) {
		if mainDone {
			select {
			case hurry <- struct{}{}:
			default:
			}
			return
		}
		to := sig
		if r, ok := opts.Rewrite[sig]; ok {
			to = r
		}
		target := mainPID
		if opts.Group {
			target = -mainPID
		}
		if err := unix.Kill(target, to); err != nil && !errors.Is(err, unix.ESRCH) && opts.Verbose {
			log.Printf("forward %s to %d: %v", SignalName(to), target, err)
		}
	}
	// Serve until the main process is reaped.
	l.serve(func() bool { return mainDone }, time.Time{}, nil)
	// CMD is gone: sidecars stop in reverse order, then what is left gets
	// SIGTERM, a grace that ends as soon as nothing is left, then SIGKILL
	// (catatonit #4/#5: never hang).
	if sidecars != nil {
		l.stopSidecars(sidecars, time.Now().Add(opts.Grace), hurry)
	}
	l.finish(opts.Grace, hurry)
	if code, ok := opts.Remap[mainStatus]; ok {
		return code
	}
	return mainStatus
}

// stopSidecars stops the services and serves the loop until they are
// down, the deadline passes or hurry fires. Runs on the loop goroutine.
func (l *loop) stopSidecars(sv *services.Supervisor, deadline time.Time, hurry <-chan struct{}) {
	done := false
	sv.StopAll(deadline, func() { done = true })
	l.serve(func() bool { return done }, deadline, hurry)
}

// finish terminates everything left and reaps it, within grace (+1 s for
// SIGKILL to land).
func (l *loop) finish(grace time.Duration, hurry <-chan struct{}) {
	l.reap()
	if l.noChildren && (l.pid1 || len(descendants(os.Getpid())) == 0) {
		return
	}
	l.killAll(unix.SIGTERM)
	l.waitEmpty(time.Now().Add(grace), hurry)
	if l.noChildren {
		return
	}
	l.killAll(unix.SIGKILL)
	l.waitEmpty(time.Now().Add(time.Second), nil)
}

// waitEmpty serves the loop (reaping) until no child is left, the deadline
// passes or hurry fires. Runs on the loop goroutine.
func (l *loop) waitEmpty(deadline time.Time, hurry <-chan struct{}) {
	l.serve(func() bool { l.reap(); return l.noChildren }, deadline, hurry)
}

// mainCommand builds the exec.Cmd for CMD: its own process group (so -g and
// job control work), the terminal's foreground when we have one, the cwd
// we were started in, and the socket-activation fds.
func mainCommand(argv []string, st *startState) (*exec.Cmd, error) {
	if len(argv) == 0 {
		return nil, errors.New("no command given")
	}
	cmd := &exec.Cmd{Path: argv[0], Args: argv, Env: os.Environ(), Dir: st.cwd,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if isTerminal(0) && inForeground(0) {
		cmd.SysProcAttr.Foreground = true
		cmd.SysProcAttr.Ctty = 0
	}
	if len(st.listen) > 0 {
		// LISTEN_PID must name CMD, which exists only after the fork: the
		// trampoline sets it in the child and then executes CMD.
		cmd.ExtraFiles = st.listen
		return launch.Wrap(cmd, launch.Settings{ListenPID: true})
	}
	if !strings.Contains(argv[0], "/") {
		p, err := lookPath(argv[0])
		if err != nil {
			return nil, err
		}
		cmd.Path = p
	}
	return cmd, nil
}

func lookPath(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil && errors.Is(err, exec.ErrDot) {
		return p, nil
	}
	if err != nil {
		return "", fmt.Errorf("exec %s: not found in PATH", name)
	}
	return p, nil
}

// execError phrases a failed start like a shell would.
func execError(path string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("exec %s: %w", path, pe.Err)
	}
	return fmt.Errorf("exec %s: %w", path, err)
}

// execStatus maps a failed exec to a shell's status: 127 not found, 126 not
// executable.
func execStatus(err error) int {
	if errors.Is(err, unix.ENOENT) || errors.Is(err, exec.ErrNotFound) {
		return 127
	}
	return 126
}

// statusCode maps a wait status to an exit status: the code, or 128+signal.
func statusCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

func describe(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + SignalName(ws.Signal())
	}
	return "exit status " + strconv.Itoa(ws.ExitStatus())
}
