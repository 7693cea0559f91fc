package conformance

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// runConfig describes one run of the init under test.
type runConfig struct {
	options
	cmd        []string   // the init's child command
	dir        string     // the init's working directory ("" = the test's)
	env        []string   // added to the init's environment
	extraFiles []*os.File // the init's fds 3, 4, … (PID-1 runs only)
	tty        bool       // the init's stdio is a new pty and its controlling terminal
	ignore     []int      // signals ignored by the init's parent before exec
	block      []int      // signals blocked by the init's parent before exec
	deadline   time.Duration
}

// result is how the init ended.
type result struct {
	code int            // exit status, -1 when killed
	sig  syscall.Signal // the killing signal, 0 when it exited
}

func (r result) String() string {
	if r.sig != 0 {
		return fmt.Sprintf("killed by signal %d (%v)", int(r.sig), r.sig)
	}
	return fmt.Sprintf("exit status %d", r.code)
}

// run is one init started in its own PID namespace.
type run struct {
	t       *testing.T
	cmd     *exec.Cmd
	nsPid   int // host pid of the namespace's PID 1
	initPid int // host pid of the init under test
	stdin   *os.File
	lines   chan string
	stderr  lockedBuffer
	errEOF  chan struct{} // closed when stderr reaches EOF
	pty     *os.File
	ptyOut  lockedBuffer

	done     chan result // the init's end, once
	res      *result
	timedOut atomic.Bool
	release  *os.File // stub runs: closing it lets the stub exit
}

// start starts the init under test with cfg. It skips the test when the init
// cannot do what cfg asks (the adapter says why) and fails it when the run
// exceeds its deadline; cleanup kills whatever is left.
func start(t *testing.T, cfg runConfig) *run {
	t.Helper()
	need(t)
	flags, err := initKind.argv(cfg.options)
	if err != nil {
		t.Skipf("%s: %v", initKind.kind, err)
	}
	if cfg.deadline == 0 {
		cfg.deadline = 20 * time.Second
	}
	argv := append(append([]string{initBin}, flags...), cfg.cmd...)
	spec := stageSpec{Argv: argv, Env: append(baseEnv(), cfg.env...), Ignore: cfg.ignore, Block: cfg.block}
	js, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	stage := stagePID1
	if cfg.notPID1 {
		stage = stageStub
	}
	r := &run{t: t, lines: make(chan string, 100000), done: make(chan result, 1)}
	r.cmd = exec.Command("/proc/self/exe")
	r.cmd.Args = []string{"conformance-" + stage}
	r.cmd.Dir = cfg.dir
	r.cmd.Env = append(baseEnv(), stageEnv+"="+stage, specEnv+"="+string(js))
	r.cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS,
		Setsid:     true,
		Pdeathsig:  syscall.SIGKILL,
	}
	var closeAfterStart []*os.File
	if cfg.tty {
		master, slave := openPTY(t)
		r.pty = master
		r.cmd.Stdin, r.cmd.Stdout, r.cmd.Stderr = slave, slave, slave
		r.cmd.SysProcAttr.Setctty = true
		r.cmd.SysProcAttr.Ctty = 0
		closeAfterStart = append(closeAfterStart, slave)
	} else {
		inR, inW := pipe(t)
		outR, outW := pipe(t)
		errR, errW := pipe(t)
		r.stdin = inW
		r.cmd.Stdin, r.cmd.Stdout, r.cmd.Stderr = inR, outW, errW
		closeAfterStart = append(closeAfterStart, inR, outW, errW)
		go r.readLines(outR)
		r.errEOF = make(chan struct{})
		go func() { r.stderr.ReadFrom(errR); errR.Close(); close(r.errEOF) }()
	}
	var statusR *os.File
	if cfg.notPID1 {
		var statusW, releaseR *os.File
		statusR, statusW = pipe(t)
		releaseR, r.release = pipe(t)
		r.cmd.ExtraFiles = []*os.File{statusW, releaseR}
		closeAfterStart = append(closeAfterStart, statusW, releaseR)
	} else {
		r.cmd.ExtraFiles = cfg.extraFiles
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start the namespace for %s: %v", initBin, err)
	}
	for _, f := range closeAfterStart {
		f.Close()
	}
	r.nsPid = r.cmd.Process.Pid
	r.initPid = r.nsPid
	exited := make(chan struct{})
	go func() {
		err := r.cmd.Wait()
		if !cfg.notPID1 {
			r.done <- waitResult(r.cmd.ProcessState, err)
		}
		close(exited)
	}()
	if cfg.tty {
		go func() { r.ptyOut.ReadFrom(r.pty) }()
	}
	if cfg.notPID1 {
		go r.readStatus(statusR)
	}
	timer := time.AfterFunc(cfg.deadline, func() {
		r.timedOut.Store(true)
		r.kill()
	})
	t.Cleanup(func() {
		timer.Stop()
		r.kill()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("namespace PID 1 (%d) still there 10s after SIGKILL", r.nsPid)
		}
		if r.release != nil {
			r.release.Close()
		}
		if r.stdin != nil {
			r.stdin.Close()
		}
		if r.pty != nil {
			r.pty.Close()
		}
		if r.timedOut.Load() {
			t.Errorf("deadline of %v exceeded: the namespace was killed", cfg.deadline)
		}
		if t.Failed() {
			t.Logf("command: %q", argv)
			if s := r.stderr.String(); s != "" {
				t.Logf("stderr:\n%s", s)
			}
			if s := r.ptyOut.String(); s != "" {
				t.Logf("terminal output:\n%q", s)
			}
		}
	})
	if cfg.notPID1 {
		r.initPid = r.waitInit(15*time.Second, exited)
	}
	return r
}

func waitResult(ps *os.ProcessState, err error) result {
	if ps == nil {
		return result{code: -2}
	}
	ws := ps.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return result{code: -1, sig: ws.Signal()}
	}
	return result{code: ws.ExitStatus()}
}

func (r *run) readStatus(f *os.File) {
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return // the stub was killed
	}
	var res result
	var sig int
	fmt.Sscanf(line, "%d %d", &res.code, &sig)
	res.sig = syscall.Signal(sig)
	r.done <- res
}

func (r *run) readLines(f *os.File) {
	defer close(r.lines)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		r.lines <- sc.Text()
	}
}

// baseEnv is the test's environment without the suite's own variables.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "CONFORMANCE_") || strings.HasPrefix(kv, "LISTEN_") || strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// kill ends the whole namespace: SIGKILL to its PID 1 takes every process in
// it along.
func (r *run) kill() {
	if r.cmd.Process != nil {
		syscall.Kill(r.nsPid, syscall.SIGKILL)
	}
}

// signal sends sig to the init under test.
func (r *run) signal(sig syscall.Signal) {
	r.t.Helper()
	if r.initPid <= 0 {
		r.t.Fatalf("send signal %d: the init's pid is unknown (it ended before it was seen)", sig)
	}
	if err := syscall.Kill(r.initPid, sig); err != nil {
		r.t.Fatalf("send signal %d to the init (pid %d): %v", sig, r.initPid, err)
	}
}

// wait waits for the init to end.
func (r *run) wait(timeout time.Duration) result {
	r.t.Helper()
	if r.res != nil {
		return *r.res
	}
	select {
	case res := <-r.done:
		r.res = &res
		return res
	case <-time.After(timeout):
		r.t.Fatalf("the init did not exit within %v", timeout)
	}
	return result{}
}

// expectExit waits for the init to exit with status code.
func (r *run) expectExit(code int, timeout time.Duration) {
	r.t.Helper()
	if got := r.wait(timeout); got.sig != 0 || got.code != code {
		r.t.Errorf("init: %v, want exit status %d", got, code)
	}
}

// exited reports whether the init has ended, without waiting.
func (r *run) exited() bool {
	if r.res != nil {
		return true
	}
	select {
	case res := <-r.done:
		r.res = &res
		return true
	default:
		return false
	}
}

// stderrText returns the init's stderr once every writer has closed it (or
// at the timeout).
func (r *run) stderrText(timeout time.Duration) string {
	select {
	case <-r.errEOF:
	case <-time.After(timeout):
	}
	return r.stderr.String()
}

// nextLine returns the next line of the init's stdout.
func (r *run) nextLine(timeout time.Duration) (string, bool) {
	select {
	case l, ok := <-r.lines:
		return l, ok
	case <-time.After(timeout):
		return "", false
	}
}

// waitLine reads stdout until a line for which match is true and returns it;
// it fails the test at the timeout or EOF.
func (r *run) waitLine(what string, timeout time.Duration, match func(string) bool) string {
	r.t.Helper()
	deadline := time.After(timeout)
	var seen []string
	for {
		select {
		case l, ok := <-r.lines:
			if !ok {
				r.t.Fatalf("stdout ended before %s; lines: %q", what, seen)
			}
			if match(l) {
				return l
			}
			seen = append(seen, l)
		case <-deadline:
			r.t.Fatalf("no %s within %v; lines: %q", what, timeout, seen)
		}
	}
}

func (r *run) expectLine(want string, timeout time.Duration) {
	r.t.Helper()
	r.waitLine(fmt.Sprintf("line %q", want), timeout, func(l string) bool { return l == want })
}

// waitOutput waits until the terminal output contains s.
func (r *run) waitOutput(s string, timeout time.Duration) {
	r.t.Helper()
	waitFor(r.t, timeout, fmt.Sprintf("terminal output %q", s), func() bool {
		return strings.Contains(r.ptyOut.String(), s)
	})
}

// waitInit waits until the stub's child runs the init binary and returns it.
func (r *run) waitInit(timeout time.Duration, stubExited <-chan struct{}) int {
	r.t.Helper()
	var pid int
	waitFor(r.t, timeout, "the stub's child to exec the init", func() bool {
		select {
		case <-stubExited:
			r.t.Fatalf("the stub exited before its child ran the init")
		default:
		}
		if r.exited() {
			return true // too fast to be seen; pid stays 0
		}
		for _, p := range descendants(r.nsPid) {
			if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", p.pid)); p.ppid == r.nsPid && exe == initBin {
				pid = p.pid
				return true
			}
		}
		return false
	}, func() string { return fmt.Sprint(r.procs()) })
	return pid
}

// procs returns the namespace's processes other than its PID 1, seen from the
// host: every process in a PID namespace descends from its PID 1.
func (r *run) procs() []proc {
	return descendants(r.nsPid)
}

// initChildren returns the init's children.
func (r *run) initChildren() []proc {
	var out []proc
	for _, p := range r.procs() {
		if p.ppid == r.initPid {
			out = append(out, p)
		}
	}
	return out
}

// waitFor polls cond until it is true and fails the test at the timeout,
// with what the optional describe functions say about the state then.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool, describe ...func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			var state []string
			for _, d := range describe {
				state = append(state, d())
			}
			t.Fatalf("timed out after %v waiting for %s %s", timeout, what, strings.Join(state, "; "))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// proc is one line of /proc/PID/stat, the fields the suite uses.
type proc struct {
	pid, ppid, pgrp, session int
	state                    byte
	comm                     string
}

func (p proc) String() string {
	return fmt.Sprintf("%d(%s %c ppid=%d pgrp=%d)", p.pid, p.comm, p.state, p.ppid, p.pgrp)
}

func readProc(pid int) (proc, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return proc{}, false
	}
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return proc{}, false
	}
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 4 {
		return proc{}, false
	}
	p := proc{pid: pid, comm: string(b[open+1 : end]), state: f[0][0]}
	p.ppid, _ = strconv.Atoi(f[1])
	p.pgrp, _ = strconv.Atoi(f[2])
	p.session, _ = strconv.Atoi(f[3])
	return p, true
}

// descendants returns every process below root. It follows the kernel's
// per-thread children lists, so it reads only the tree's own processes
// however many others the host runs.
func descendants(root int) []proc {
	var out []proc
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		for _, task := range tasks {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, task.Name()))
			for _, f := range strings.Fields(string(b)) {
				c, err := strconv.Atoi(f)
				if err != nil {
					continue
				}
				if p, ok := readProc(c); ok && p.ppid == pid {
					out = append(out, p)
					queue = append(queue, c)
				}
			}
		}
	}
	return out
}

func zombies(ps []proc) []proc {
	var z []proc
	for _, p := range ps {
		if p.state == 'Z' {
			z = append(z, p)
		}
	}
	return z
}

func pipe(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	return r, w
}

// openPTY opens a new pseudo-terminal pair with echo off, so what the test
// reads from the master is only what the programs wrote.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open /dev/ptmx: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Fatalf("open pty slave: %v", err)
	}
	tio, err := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS)
	if err == nil {
		tio.Lflag &^= unix.ECHO
		err = unix.IoctlSetTermios(int(s.Fd()), unix.TCSETS, tio)
	}
	if err != nil {
		t.Fatalf("turn off echo on the pty: %v", err)
	}
	return m, s
}

// lockedBuffer collects output written by one goroutine and read by another.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) ReadFrom(f *os.File) {
	p := make([]byte, 4096)
	for {
		n, err := f.Read(p)
		if n > 0 {
			b.mu.Lock()
			b.buf.Write(p[:n])
			b.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func unixSignalName(s syscall.Signal) string { return unix.SignalName(s) }

// nsPidOf returns the pid that hostPid has in its own (innermost) namespace.
func nsPidOf(t *testing.T, hostPid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", hostPid))
	if err != nil {
		t.Fatalf("read the status of pid %d: %v", hostPid, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "NSpid:"); ok {
			f := strings.Fields(rest)
			n, _ := strconv.Atoi(f[len(f)-1])
			return n
		}
	}
	t.Fatalf("no NSpid line in the status of pid %d", hostPid)
	return 0
}
