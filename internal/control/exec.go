package control

import (
	"errors"
	"fmt"
	"strings"
)

// Exec is what an "exec" request runs inside the guest (docs/control.md).
// Without TTY the request carries three fds (SCM_RIGHTS): the process's
// stdin, stdout and stderr. With TTY it carries none: vinit opens a pty in
// the guest and returns its master with the reply.
type Exec struct {
	Argv []string `json:"argv,omitempty"` // with TTY and no argv: the user's login shell
	User string   `json:"user,omitempty"` // a name or uid from the guest's /etc/passwd; "" = root
	Cwd  string   `json:"cwd,omitempty"`  // absolute; "" = the user's home, else "/"
	Env  []string `json:"env,omitempty"`  // K=V, added to (and overriding) the base environment
	TTY  bool     `json:"tty,omitempty"`
	Rows uint16   `json:"rows,omitempty"` // the pty's first window size
	Cols uint16   `json:"cols,omitempty"`
}

// Limits of an exec request; a request over them is refused whole.
const (
	MaxArgs     = 4096     // argv entries
	MaxEnv      = 1024     // env entries
	MaxExecSize = 48 << 10 // bytes of argv, env, user and cwd together (a line is at most MaxLine)
	MaxSignal   = 64       // the highest signal number Linux has
)

// ExecStarted is the data of a successful exec reply.
type ExecStarted struct {
	PID int `json:"pid"` // in the guest's PID namespace
}

// ExecFailed is the data of a failed exec reply: the status a shell would
// give (127 command not found, 126 not executable, 1 anything else).
type ExecFailed struct {
	Status int `json:"status"`
}

// ExitEvent reports the end of exec request id's process.
func ExitEvent(id uint64, status int) Event {
	return Event{Event: "exit", ID: id, Status: &status}
}

// FDs is how many fds come with an exec request.
func (e *Exec) FDs() int {
	if e.TTY {
		return 0
	}
	return 3
}

// Validate checks an exec request strictly: sizes, no NUL bytes, K=V
// environment entries, a plausible user name and an absolute cwd.
func (e *Exec) Validate() error {
	if len(e.Argv) == 0 && !e.TTY {
		return errors.New("exec: no command")
	}
	if len(e.Argv) > MaxArgs {
		return fmt.Errorf("exec: more than %d arguments", MaxArgs)
	}
	if len(e.Env) > MaxEnv {
		return fmt.Errorf("exec: more than %d environment entries", MaxEnv)
	}
	size := len(e.User) + len(e.Cwd)
	for i, a := range e.Argv {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("exec: argument %d contains a NUL byte", i)
		}
		size += len(a) + 1
	}
	if len(e.Argv) > 0 && e.Argv[0] == "" {
		return errors.New("exec: empty command name")
	}
	for _, kv := range e.Env {
		if !ValidEnv(kv) {
			return fmt.Errorf("exec: bad environment entry %q (want NAME=VALUE)", truncate(kv, 40))
		}
		size += len(kv) + 1
	}
	if size > MaxExecSize {
		return fmt.Errorf("exec: command and environment larger than %d bytes", MaxExecSize)
	}
	if e.User != "" && !ValidUser(e.User) {
		return fmt.Errorf("exec: bad user name %q", truncate(e.User, 40))
	}
	if e.Cwd != "" && (e.Cwd[0] != '/' || strings.IndexByte(e.Cwd, 0) >= 0 || len(e.Cwd) > 4096) {
		return fmt.Errorf("exec: working directory %q is not an absolute path", truncate(e.Cwd, 40))
	}
	return nil
}

// ValidEnv reports whether kv is NAME=VALUE with NAME a portable variable
// name ([A-Za-z_][A-Za-z0-9_]*) and no NUL byte anywhere.
func ValidEnv(kv string) bool {
	k, _, ok := strings.Cut(kv, "=")
	if !ok || k == "" || strings.IndexByte(kv, 0) >= 0 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// ValidUser reports whether s can be a user name or a uid: 1-32 bytes of
// letters, digits, '_', '.', '-', not starting with '-' or '.', optionally
// ending in '$' (Samba machine accounts), as useradd accepts.
func ValidUser(s string) bool {
	if len(s) == 0 || len(s) > 32 || s[0] == '-' || s[0] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '$' && i == len(s)-1 && i > 0 {
			continue
		}
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// checkExecFields validates the exec and signal fields of a parsed request:
// only those operations may have them, and they must have theirs.
func checkExecFields(r *Request) error {
	switch r.Op {
	case "exec":
		if r.Exec == nil {
			return errors.New("exec: no command")
		}
		if r.Target != 0 || r.Signal != 0 {
			return errors.New("exec: takes no target or signal")
		}
		return r.Exec.Validate()
	case "signal":
		if r.Exec != nil {
			return errors.New("signal: takes no command")
		}
		if r.Target == 0 {
			return errors.New("signal: a target (the exec request's id) is required")
		}
		if r.Signal < 1 || r.Signal > MaxSignal {
			return fmt.Errorf("signal: bad signal number %d", r.Signal)
		}
		return nil
	}
	if r.Exec != nil || r.Target != 0 || r.Signal != 0 {
		return fmt.Errorf("%s: takes no command, target or signal", r.Op)
	}
	return nil
}

// ParseExitEvent checks an "exit" event from vinit, which the monitor does
// not trust: an id and a status of 0-255.
func ParseExitEvent(ev *Event) (id uint64, status int, err error) {
	if ev.Event != "exit" || ev.ID == 0 || ev.Status == nil || *ev.Status < 0 || *ev.Status > 255 {
		return 0, 0, errors.New("bad exit event from vinit")
	}
	return ev.ID, *ev.Status, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
