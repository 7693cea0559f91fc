// Package launch starts programs with settings Go cannot apply between fork
// and exec: vinit re-executes itself as a short-lived trampoline that
// applies them in the new process and then executes the real command.
package launch

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// trampolineEnv carries Settings from vinit to its re-executed copy. Some
// settings need code between fork and exec: LISTEN_PID must be the child's
// own pid; umask, rlimits and no_new_privs must not change vinit itself.
const trampolineEnv = "_VINIT_EXEC"

// Settings are applied in the new process before the command runs.
type Settings struct {
	ListenPID  bool              `json:"listen_pid,omitempty"`
	Umask      *int              `json:"umask,omitempty"`
	Rlimits    map[int][2]uint64 `json:"rlimits,omitempty"`
	NoNewPrivs bool              `json:"nnp,omitempty"`
	// Cred, when set, is applied last, after the limits: raising a limit
	// above the current hard limit needs the privilege the switch drops.
	Cred *Cred `json:"cred,omitempty"`
}

// Cred is the user the command runs as.
type Cred struct {
	UID    int   `json:"uid"`
	GID    int   `json:"gid"`
	Groups []int `json:"groups"`
}

// Needed reports whether s needs the trampoline at all.
func (s Settings) Needed() bool {
	return s.ListenPID || s.Umask != nil || len(s.Rlimits) > 0 || s.NoNewPrivs
}

// Wrap rewrites cmd (Path, Args, Env set) to start through vinit's own
// binary, which applies s and then executes the command.
func Wrap(cmd *exec.Cmd, s Settings) (*exec.Cmd, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	cmd.Env = append(cmd.Env, trampolineEnv+"="+string(b))
	cmd.Path = "/proc/self/exe"
	return cmd, nil
}

// Trampoline runs when vinit was started as a trampoline: it applies the
// settings, executes the command, and never returns. Otherwise it returns
// false at once. Call it first in main.
func Trampoline() bool {
	raw, ok := os.LookupEnv(trampolineEnv)
	if !ok {
		return false
	}
	os.Unsetenv(trampolineEnv)
	var s Settings
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		fmt.Fprintf(os.Stderr, "vinit: exec helper: bad settings: %v\n", err)
		os.Exit(126)
	}
	if s.ListenPID {
		os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	}
	if s.Umask != nil {
		unix.Umask(*s.Umask)
	}
	for res, v := range s.Rlimits {
		if err := unix.Setrlimit(res, &unix.Rlimit{Cur: v[0], Max: v[1]}); err != nil {
			fmt.Fprintf(os.Stderr, "vinit: exec %s: setrlimit %d: %v\n", os.Args[0], res, err)
			os.Exit(126)
		}
	}
	if c := s.Cred; c != nil {
		// syscall's set*id apply to every thread of the process.
		groups := c.Groups
		if groups == nil {
			groups = []int{}
		}
		if err := syscall.Setgroups(groups); err != nil {
			fmt.Fprintf(os.Stderr, "vinit: exec %s: setgroups: %v\n", os.Args[0], err)
			os.Exit(126)
		}
		if err := syscall.Setresgid(c.GID, c.GID, c.GID); err != nil {
			fmt.Fprintf(os.Stderr, "vinit: exec %s: setgid %d: %v\n", os.Args[0], c.GID, err)
			os.Exit(126)
		}
		if err := syscall.Setresuid(c.UID, c.UID, c.UID); err != nil {
			fmt.Fprintf(os.Stderr, "vinit: exec %s: setuid %d: %v\n", os.Args[0], c.UID, err)
			os.Exit(126)
		}
	}
	if s.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			fmt.Fprintf(os.Stderr, "vinit: exec %s: no_new_privs: %v\n", os.Args[0], err)
			os.Exit(126)
		}
	}
	path, err := exec.LookPath(os.Args[0])
	if err != nil && !errors.Is(err, exec.ErrDot) {
		fmt.Fprintf(os.Stderr, "vinit: exec %s: not found\n", os.Args[0])
		os.Exit(127)
	}
	err = syscall.Exec(path, os.Args, os.Environ())
	fmt.Fprintf(os.Stderr, "vinit: exec %s: %v\n", path, err)
	if errors.Is(err, unix.ENOENT) {
		os.Exit(127)
	}
	os.Exit(126)
	return true
}
