package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// benchEnv is the environment every init (and what it runs) gets: the same
// for all, and nothing of the driver's.
var benchEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}

// nsInit is an init running as PID 1 of a fresh PID namespace: the driver
// clones the stage with CLONE_NEWPID|CLONE_NEWNS, the stage mounts /proc and
// executes the init, so the init keeps the host pid the driver knows.
type nsInit struct {
	cmd    *exec.Cmd
	Pid    int // host pid
	stderr *os.File
	done   chan struct{}
	err    error // from cmd.Wait, valid after done
}

// startInit starts argv (an init's command line) as PID 1 of a new PID
// namespace with the given stdin and stdout (nil: /dev/null).
func startInit(stage string, argv []string, stdin, stdout *os.File) (*nsInit, error) {
	return startInitEnv(stage, argv, nil, stdin, stdout)
}

// startInitEnv is startInit with variables added to benchEnv.
func startInitEnv(stage string, argv, env []string, stdin, stdout *os.File) (*nsInit, error) {
	errf, err := os.CreateTemp("", "bench-stderr-")
	if err != nil {
		return nil, fmt.Errorf("create stderr file: %w", err)
	}
	os.Remove(errf.Name())
	cmd := &exec.Cmd{
		Path:   stage,
		Args:   append([]string{stage}, argv...),
		Env:    append(append([]string{}, benchEnv...), env...),
		Dir:    "/",
		Stderr: errf,
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS,
			Pdeathsig:  syscall.SIGKILL, // never outlive the driver
		},
	}
	if stdin != nil {
		cmd.Stdin = stdin
	}
	if stdout != nil {
		cmd.Stdout = stdout
	}
	if err := cmd.Start(); err != nil {
		errf.Close()
		return nil, fmt.Errorf("start %s in a new PID namespace: %w", argv[0], err)
	}
	p := &nsInit{cmd: cmd, Pid: cmd.Process.Pid, stderr: errf, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Wait waits up to timeout for the init to end and returns its exit status
// (128+signal when killed). On timeout it kills the init and says so.
func (p *nsInit) Wait(timeout time.Duration) (int, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		p.cmd.Process.Kill()
		<-p.done
		return -1, fmt.Errorf("%s did not end within %v%s", p.cmd.Args[1], timeout, p.stderrTail())
	}
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok {
		return -1, fmt.Errorf("%s: no wait status", p.cmd.Args[1])
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

// Gone waits until the init's host pid has left /proc. The init has already
// been waited for; its namespace's other processes died before it could be
// (the kernel empties a PID namespace before its init becomes a zombie).
func (p *nsInit) Gone(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	path := "/proc/" + strconv.Itoa(p.Pid)
	for {
		if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still exists %v after the init was reaped", path, timeout)
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// Signal sends sig to the init's host pid.
func (p *nsInit) Signal(sig syscall.Signal) error {
	if err := unix.Kill(p.Pid, sig); err != nil {
		return fmt.Errorf("kill %d %v: %w", p.Pid, sig, err)
	}
	return nil
}

// Close kills the init if it still runs, waits for it and releases its
// stderr file. Safe to call more than once.
func (p *nsInit) Close() {
	select {
	case <-p.done:
	default:
		p.cmd.Process.Kill()
		<-p.done
	}
	p.stderr.Close()
}

// stderrTail is the end of the init's stderr, for error messages.
func (p *nsInit) stderrTail() string {
	b := make([]byte, 2048)
	n, _ := p.stderr.ReadAt(b, 0)
	s := strings.TrimSpace(string(b[:n]))
	if s == "" {
		return ""
	}
	return ": stderr: " + s
}

// shutdownDone is the duration vinit logged as "shutdown done in D" on its
// stderr.
func (p *nsInit) shutdownDone() (time.Duration, error) {
	b := make([]byte, 1<<20)
	n, _ := p.stderr.ReadAt(b, 0)
	s := string(b[:n])
	i := strings.LastIndex(s, "shutdown done in ")
	if i < 0 {
		return 0, fmt.Errorf("vinit logged no \"shutdown done in\"%s", p.stderrTail())
	}
	f := strings.Fields(s[i+len("shutdown done in "):])
	if len(f) == 0 {
		return 0, errors.New("vinit's \"shutdown done in\" has no duration")
	}
	return time.ParseDuration(f[0])
}

// children lists the host pids of the process's children, over all its
// threads (a child hangs off the thread that forked it).
func children(pid int) ([]int, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	if err != nil || len(tasks) == 0 {
		return nil, fmt.Errorf("list threads of %d: process gone", pid)
	}
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // thread ended
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// procStat returns the comm and state letter of a process.
func procStat(pid int) (comm string, state byte, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, err
	}
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open || end+2 >= len(b) {
		return "", 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return string(b[open+1 : end]), b[end+2], nil
}

// waitIdle polls until the init has exactly one child, that child runs comm
// and sleeps, and the init sleeps too; it returns the child's host pid.
func waitIdle(p *nsInit, comm string, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-p.done:
			return 0, fmt.Errorf("%s ended before its child was idle%s", p.cmd.Args[1], p.stderrTail())
		default:
		}
		kids, err := children(p.Pid)
		if err == nil && len(kids) == 1 {
			c, st, err1 := procStat(kids[0])
			_, ist, err2 := procStat(p.Pid)
			if err1 == nil && err2 == nil && c == comm && st == 'S' && ist == 'S' {
				return kids[0], nil
			}
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s: child %q not idle within %v (children %v)", p.cmd.Args[1], comm, timeout, kids)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// memory reads the process's VmRSS (/proc/PID/status) and Pss
// (/proc/PID/smaps_rollup; NaN when the kernel lacks it), in bytes.
func memory(pid int) (rss, pss float64, err error) {
	rss, err = statusField(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:")
	if err != nil {
		return 0, 0, err
	}
	pss, err = statusField(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss:")
	if err != nil {
		pss = nan()
	}
	return rss, pss, nil
}

// statusField reads a "Key:   N kB" line.
func statusField(path, key string) (float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), key); ok {
			fs := strings.Fields(rest)
			if len(fs) == 2 && fs[1] == "kB" {
				v, err := strconv.ParseFloat(fs[0], 64)
				if err != nil {
					return 0, fmt.Errorf("parse %s %s: %w", path, key, err)
				}
				return v * 1024, nil
			}
		}
	}
	return 0, fmt.Errorf("%s: no %s line", path, key)
}

// cpuTime is the CPU time, in seconds, the process's threads have used
// (the first field of /proc/PID/task/TID/schedstat, in nanoseconds).
func cpuTime(pid int) (float64, error) {
	files, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(files) == 0 {
		return 0, fmt.Errorf("read CPU time of %d: no schedstat (process gone?)", pid)
	}
	var ns float64
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // thread ended
		}
		fs := strings.Fields(string(b))
		if len(fs) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fs[0], 64)
		if err != nil {
			return 0, fmt.Errorf("parse %s: %w", f, err)
		}
		ns += v
	}
	return ns / 1e9, nil
}
