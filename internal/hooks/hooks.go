// Package hooks runs hook programs: the pre-start, post-start, pre-stop and
// post-stop executables of vinit (/etc/vinit/hooks/PHASE.d/*) and the host
// hooks of vserver ([hooks] commands and the 2003 NAME.sh script).
//
// The contract (docs/hooks.md): hooks run one after another in the given
// (lexical) order, each in its own process group with the caller's
// environment plus Spec.Env, stdin from /dev/null, stdout and stderr line by
// line to Spec.Log. A hook that outlives Spec.Timeout is killed with its whole
// process group and counts as failed. Run stops at the first failure and
// returns it; the caller decides whether that failure is fatal.
package hooks

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Hook is one program to run.
type Hook struct {
	Name string   // for messages: the file name or "pre-start[0]"
	Argv []string // Argv[0] is a path, or a name looked up in PATH
}

// Spec says how to run one phase's hooks.
type Spec struct {
	Phase   string        // pre-start, post-start, pre-stop, post-stop
	Reason  string        // boot, halt, poweroff, reboot, ...
	Env     []string      // added to the environment (K=V)
	Timeout time.Duration // per hook; 0 means 30s
	Dir     string        // working directory; "" means /
	Log     func(line string)
}

// ExitStatus is how a started process ended.
type ExitStatus struct {
	Code   int // exit code, or -1 when killed by a signal
	Signal int // the signal that killed it, or 0
}

func (e ExitStatus) String() string {
	if e.Signal != 0 {
		return fmt.Sprintf("killed by signal %d", e.Signal)
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

// Starter starts a process and reports its end. vinit's implementation hands
// the process to its one reaper; DirectStarter waits for it itself.
type Starter interface {
	// Start starts cmd (already configured) and returns a channel that
	// receives its exit status once, when it has been reaped.
	Start(cmd *exec.Cmd) (<-chan ExitStatus, error)
}

// DirectStarter is the Starter for programs without a global reaper (vserver).
var DirectStarter Starter = directStarter{}

type directStarter struct{}

func (directStarter) Start(cmd *exec.Cmd) (<-chan ExitStatus, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ch := make(chan ExitStatus, 1)
	go func() {
		_ = cmd.Wait()
		ch <- statusOf(cmd.ProcessState)
	}()
	return ch, nil
}

// FromDir lists the hooks of dir: regular executable files (after following
// symlinks), in lexical order of their names. Names starting with "." and
// ending in "~", ".dpkg-old", ".dpkg-new", ".dpkg-dist" or ".disabled" are
// skipped, as run-parts does. A missing directory has no hooks.
func FromDir(dir string) ([]Hook, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("read hooks %s: %w", dir, err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if skipName(e.Name()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			continue
		}
		names = append(names, e.Name())
	}
	sort.Strings(names)
	hs := make([]Hook, len(names))
	for i, n := range names {
		hs[i] = Hook{Name: n, Argv: []string{filepath.Join(dir, n)}}
	}
	return hs, nil
}

func skipName(n string) bool {
	if strings.HasPrefix(n, ".") || strings.HasSuffix(n, "~") {
		return true
	}
	for _, suf := range []string{".dpkg-old", ".dpkg-new", ".dpkg-dist", ".disabled"} {
		if strings.HasSuffix(n, suf) {
			return true
		}
	}
	return false
}

// Run runs hs in order and returns the first failure.
func Run(st Starter, hs []Hook, spec Spec) error {
	for _, h := range hs {
		if err := runOne(st, h, spec); err != nil {
			return err
		}
	}
	return nil
}

func runOne(st Starter, h Hook, spec Spec) error {
	if len(h.Argv) == 0 {
		return fmt.Errorf("%s hook %q: empty command", spec.Phase, h.Name)
	}
	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	dir := spec.Dir
	if dir == "" {
		dir = "/"
	}
	cmd := exec.Command(h.Argv[0], h.Argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), spec.Env...)
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("%s hook %q: %w", spec.Phase, h.Name, err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = newProcessGroup()
	done, err := st.Start(cmd)
	w.Close()
	if err != nil {
		r.Close()
		return fmt.Errorf("%s hook %q: start: %w", spec.Phase, h.Name, err)
	}
	pid := cmd.Process.Pid
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		copyLines(r, h.Name, spec.Log)
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var st2 ExitStatus
	timedOut := false
	select {
	case st2 = <-done:
	case <-timer.C:
		timedOut = true
		killGroup(pid)
		st2 = <-done
	}
	// The hook is gone, but a background child of it may still hold the
	// pipe: kill the rest of its group and stop reading shortly after.
	killGroup(pid)
	select {
	case <-copied:
	case <-time.After(200 * time.Millisecond):
	}
	r.Close()
	switch {
	case timedOut:
		return fmt.Errorf("%s hook %q: killed after the %v timeout", spec.Phase, h.Name, timeout)
	case st2.Code != 0 || st2.Signal != 0:
		return fmt.Errorf("%s hook %q: %s", spec.Phase, h.Name, st2)
	}
	return nil
}

// copyLines sends r's lines to log, tagged with the hook's name. Lines are
// capped at 4 KiB so a hook printing without newlines cannot grow memory.
func copyLines(r io.Reader, name string, log func(string)) {
	br := bufio.NewReaderSize(r, 4096)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 && log != nil {
			log(name + ": " + strings.TrimRight(string(line), "\n"))
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}
