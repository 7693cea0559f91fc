package pid1

// exec and enter (DESIGN §4.7): the host's monitor asks, on the monitor
// channel, for a process to run inside the guest. vinit starts it as its own
// child, so it is in every namespace, the cgroup and the capability bounding
// set of the guest without anyone calling setns, and reaps it like any
// other child. Its end is reported as {"event":"exit","id":N,"status":S}.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/vserver-go/vserver/internal/control"
	"github.com/vserver-go/vserver/internal/services"
	"golang.org/x/sys/unix"
)

// maxExecs bounds the exec'd processes vinit tracks at once.
const maxExecs = 256

// execProc is one running exec'd process, by the id of its request.
type execProc struct {
	pid int // leader of its own process group (and session, with a tty)
}

// monitorExec serves an exec or signal request from the monitor channel.
// It takes ownership of fds.
func (sv *supervisor) monitorExec(req control.Request, fds []*os.File, m *monitorChan) {
	sv.l.Post(func() {
		switch req.Op {
		case "exec":
			sv.startExec(req, fds, m)
		default:
			control.CloseFiles(fds)
			sv.signalExec(req, m)
		}
	})
}

// startExec starts the process of an exec request and replies, with the
// pty's master when it asked for a terminal. On the loop.
func (sv *supervisor) startExec(req control.Request, fds []*os.File, m *monitorChan) {
	fail := func(status int, err error) {
		data, _ := json.Marshal(control.ExecFailed{Status: status})
		m.send(control.Marshal(control.Reply{ID: req.ID, Error: err.Error(), Data: data}))
	}
	e := req.Exec
	stdio, err := control.CheckFDs(fds, e.FDs())
	if err != nil {
		fail(1, fmt.Errorf("exec: %w", err))
		return
	}
	defer control.CloseFiles(stdio) // the child has its own copies
	switch {
	case sv.state == "stopping":
		fail(1, errors.New("exec: the guest is shutting down"))
		return
	case req.ID == 0 || m.execs[req.ID] != nil:
		fail(1, fmt.Errorf("exec: request id %d is in use", req.ID))
		return
	case len(m.execs) >= maxExecs:
		fail(1, fmt.Errorf("exec: %d exec'd processes are running already", maxExecs))
		return
	}
	cmd, status, err := execCommand(e, services.SystemLookup("/"), "/")
	if err != nil {
		fail(status, err)
		return
	}
	var master *os.File
	if e.TTY {
		var slave *os.File
		master, slave, err = openGuestPTY(e.Rows, e.Cols)
		if err != nil {
			fail(1, fmt.Errorf("exec: %w", err))
			return
		}
		defer slave.Close()
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr.Setsid = true
		cmd.SysProcAttr.Setctty = true
		cmd.SysProcAttr.Ctty = 0
	} else {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio[0], stdio[1], stdio[2]
		cmd.SysProcAttr.Setpgid = true
	}
	id := req.ID
	err = sv.l.Spawn(cmd, func(ws unix.WaitStatus) {
		delete(m.execs, id)
		m.send(control.Marshal(control.ExitEvent(id, statusCode(ws))))
	})
	if err != nil {
		if master != nil {
			master.Close()
		}
		fail(execStatus(err), fmt.Errorf("exec %s: %w", cmd.Args[0], unwrapPathError(err)))
		return
	}
	m.execs[id] = &execProc{pid: cmd.Process.Pid}
	if sv.opts.Verbose {
		sv.log.Printf("exec %d: %s started as pid %d", id, cmd.Path, cmd.Process.Pid)
	}
	data, _ := json.Marshal(control.ExecStarted{PID: cmd.Process.Pid})
	rep := control.Marshal(control.Reply{ID: id, OK: true, Data: data})
	if master != nil {
		m.sendFDs(rep, master) // closed once sent: the client's copy is the only one
		return
	}
	m.send(rep)
}

// signalExec sends a signal to the process group of a running exec'd
// process. On the loop.
func (sv *supervisor) signalExec(req control.Request, m *monitorChan) {
	rep := control.Reply{ID: req.ID, OK: true}
	p := m.execs[req.Target]
	if p == nil {
		rep = control.Reply{ID: req.ID, Error: fmt.Sprintf("signal: no exec'd process %d", req.Target)}
	} else if err := unix.Kill(-p.pid, unix.Signal(req.Signal)); err != nil && !errors.Is(err, unix.ESRCH) {
		rep = control.Reply{ID: req.ID, Error: fmt.Sprintf("signal: %s to process group %d: %v", SignalName(unix.Signal(req.Signal)), p.pid, err)}
	}
	m.send(control.Marshal(rep))
}

// account is what exec needs of a user from the guest's /etc/passwd.
type account struct {
	uid, gid int
	groups   []int
	name     string
	home     string
	shell    string
}

// lookupAccount resolves name ("" = root) in the guest's account files.
func lookupAccount(lk services.Lookup, root, name string) (account, error) {
	a := account{name: name}
	if name == "" {
		a.name = "root"
	}
	uid, gid, home, err := lk.User(a.name)
	if err != nil {
		if name != "" {
			return a, err
		}
		uid, gid, home = 0, 0, "/root" // a guest without /etc/passwd still has root
	}
	a.uid, a.gid, a.home = uid, gid, home
	a.groups = []int{gid}
	if ml, ok := lk.(services.MemberLookup); ok {
		if more, err := ml.Memberships(a.name); err == nil {
			for _, g := range more {
				if g != gid {
					a.groups = append(a.groups, g)
				}
			}
		}
	}
	a.shell = loginShell(filepath.Join(root, "etc/passwd"), a.name, uid)
	return a, nil
}

// loginShell reads the user's shell from passwd; /bin/sh when it has none.
func loginShell(passwd, name string, uid int) string {
	data, err := os.ReadFile(passwd)
	if err != nil {
		return "/bin/sh"
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 7 || (f[0] != name && f[2] != strconv.Itoa(uid)) {
			continue
		}
		if sh := strings.TrimSpace(f[6]); strings.HasPrefix(sh, "/") {
			return sh
		}
		break
	}
	return "/bin/sh"
}

// execCommand builds the command of an exec request: the user's
// credentials, groups, environment and working directory, the program
// found in PATH. Failures come with the status a shell would give.
func execCommand(e *control.Exec, lk services.Lookup, root string) (*exec.Cmd, int, error) {
	acct, err := lookupAccount(lk, root, e.User)
	if err != nil {
		return nil, 1, fmt.Errorf("exec: user %s: %w", e.User, err)
	}
	env := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + acct.home, "USER=" + acct.name, "LOGNAME=" + acct.name, "SHELL=" + acct.shell,
	}
	if e.TTY {
		env = append(env, "TERM=xterm")
	}
	env = mergeEnv(env, e.Env)
	argv := e.Argv
	if len(argv) == 0 { // a login shell
		argv = []string{"-" + filepath.Base(acct.shell)}
	}
	path := argv[0]
	if len(e.Argv) == 0 {
		path = acct.shell
	} else if !strings.Contains(path, "/") {
		if path, err = findInPath(path, envValue(env, "PATH")); err != nil {
			return nil, 127, err
		}
	}
	dir := e.Cwd
	if dir == "" {
		dir = "/"
		if fi, err := os.Stat(acct.home); err == nil && fi.IsDir() {
			dir = acct.home
		}
	} else if fi, err := os.Stat(dir); err != nil {
		return nil, 1, fmt.Errorf("exec: working directory: %w", unwrapPathError(err))
	} else if !fi.IsDir() {
		return nil, 1, fmt.Errorf("exec: working directory %s: not a directory", dir)
	}
	cred := &syscall.Credential{Uid: uint32(acct.uid), Gid: uint32(acct.gid)}
	for _, g := range acct.groups {
		cred.Groups = append(cred.Groups, uint32(g))
	}
	cmd := &exec.Cmd{Path: path, Args: argv, Env: env, Dir: dir,
		SysProcAttr: &syscall.SysProcAttr{Credential: cred}}
	return cmd, 0, nil
}

// mergeEnv adds extra to base; a name in extra replaces base's entry.
func mergeEnv(base, extra []string) []string {
	out := append([]string(nil), base...)
	for _, kv := range extra {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, old := range out {
			if strings.HasPrefix(old, k+"=") {
				out[i], replaced = kv, true
				break
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

func envValue(env []string, k string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, k+"="); ok {
			return v
		}
	}
	return ""
}

// findInPath finds an executable regular file named name in path.
func findInPath(name, path string) (string, error) {
	for _, dir := range strings.Split(path, ":") {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec %s: command not found", name)
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
