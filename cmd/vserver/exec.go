package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/vserver-go/vserver/internal/control"
	"github.com/vserver-go/vserver/internal/monitor"
	"github.com/vserver-go/vserver/internal/tty"
)

// envFlags collects repeated --env K=V.
type envFlags []string

func (e *envFlags) String() string { return strings.Join(*e, " ") }
func (e *envFlags) Set(s string) error {
	if !control.ValidEnv(s) {
		return fmt.Errorf("bad --env %q (want NAME=VALUE)", s)
	}
	*e = append(*e, s)
	return nil
}

// forwarded are the signals the client passes on to the process.
var forwarded = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// lostStatus is exec's and enter's status when the guest went away under
// the process (as ssh's 255).
const lostStatus = 255

// exec is `vserver NAME exec [--user U] [--cwd D] [--env K=V]... -- CMD ARGS`.
func (c *cli) exec(name string, args []string) int {
	fs := flag.NewFlagSet("exec", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	user := fs.String("user", "", "")
	cwd := fs.String("cwd", "", "")
	var env envFlags
	fs.Var(&env, "env", "")
	if err := fs.Parse(args); err != nil {
		return c.usageErr("exec: %v", err)
	}
	if fs.NArg() == 0 {
		return c.usageErr("exec [--user U] [--cwd DIR] [--env K=V]... -- CMD [ARGS...]")
	}
	e := &control.Exec{Argv: fs.Args(), User: *user, Cwd: *cwd, Env: env}
	if err := e.Validate(); err != nil {
		return c.usageErr("%v", err)
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwarded...)
	defer signal.Stop(sigs)

	p, err := plumb()
	if err != nil {
		return c.fail(err)
	}
	s, err := monitor.StartExec(c.dirs, name, e, p.guest[:])
	p.closeGuestEnds()
	if err != nil {
		return c.execFailed(name, err)
	}
	defer s.Close()
	p.start()
	go forwardSignals(s, sigs)
	status, err := s.Wait()
	if err != nil {
		fmt.Fprintf(c.stderr, "vserver: %s: %v\n", name, err)
		return lostStatus
	}
	// Output still in the pipes is the process's last words; a background
	// child holding them open does not keep us waiting long.
	p.wait(2 * time.Second)
	return status
}

// execFailed reports a process that could not be started.
func (c *cli) execFailed(name string, err error) int {
	var ee *monitor.ExecError
	if errors.As(err, &ee) {
		fmt.Fprintf(c.stderr, "vserver: %s: %s\n", name, ee.Msg)
		return ee.Status
	}
	return c.fail(err)
}

func forwardSignals(s *monitor.ExecSession, sigs <-chan os.Signal) {
	for sig := range sigs {
		if n, ok := sig.(syscall.Signal); ok {
			_ = s.Signal(n)
		}
	}
}

// plumbing is exec's stdio: the client's own stdin/stdout/stderr when they
// are pipes, else fresh pipes the client relays. A terminal, a file or a
// socket of the host is never handed to the guest: a terminal could be
// typed into (TIOCSTI), a file reopened writable through /proc/self/fd, a
// directory used to climb out of the guest.
type plumbing struct {
	guest  [3]*os.File // what the process gets
	ours   [3]*os.File // our ends of the pipes we made (nil: passed through)
	copied chan struct{}
	outs   int
}

func plumb() (*plumbing, error) {
	p := &plumbing{copied: make(chan struct{}, 2)}
	for i, f := range []*os.File{os.Stdin, os.Stdout, os.Stderr} {
		if isPipe(f) {
			p.guest[i] = f
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			return nil, fmt.Errorf("create pipe: %w", err)
		}
		if i == 0 {
			p.guest[i], p.ours[i] = r, w
		} else {
			p.guest[i], p.ours[i] = w, r
		}
	}
	return p, nil
}

func isPipe(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeNamedPipe != 0
}

// closeGuestEnds drops our copies of the pipe ends the process has now.
func (p *plumbing) closeGuestEnds() {
	for i := range p.guest {
		if p.ours[i] != nil {
			p.guest[i].Close()
		}
	}
}

// start relays our stdio through the pipes we made.
func (p *plumbing) start() {
	if w := p.ours[0]; w != nil {
		go func() {
			_, _ = io.Copy(w, os.Stdin)
			w.Close() // the process sees EOF
		}()
	}
	for i, dst := range []*os.File{nil, os.Stdout, os.Stderr} {
		if r := p.ours[i]; i > 0 && r != nil {
			p.outs++
			go func() {
				_, _ = io.Copy(dst, r)
				p.copied <- struct{}{}
			}()
		}
	}
}

// wait waits for the output relays to reach EOF, at most d.
func (p *plumbing) wait(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for ; p.outs > 0; p.outs-- {
		select {
		case <-p.copied:
		case <-t.C:
			return
		}
	}
}

// enter is `vserver NAME enter [--user U]`: a login shell on a pty in the
// guest, relayed to our terminal in raw mode.
func (c *cli) enter(name string, args []string) int {
	fs := flag.NewFlagSet("enter", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	user := fs.String("user", "", "")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return c.usageErr("enter [--user U]")
	}
	in := int(os.Stdin.Fd())
	if !tty.IsTerminal(in) {
		fmt.Fprintf(c.stderr, "vserver: %s: enter needs a terminal on stdin (use vserver %s exec -- CMD)\n", name, name)
		return monitor.ExitUsage
	}
	e := &control.Exec{TTY: true, User: *user, Env: []string{"TERM=" + termName()}}
	if rows, cols, err := tty.Size(in); err == nil {
		e.Rows, e.Cols = rows, cols
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwarded...)
	defer signal.Stop(sigs)
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	defer signal.Stop(winch)

	s, err := monitor.StartExec(c.dirs, name, e, nil)
	if err != nil {
		return c.execFailed(name, err)
	}
	defer s.Close()
	restore, err := tty.MakeRaw(in)
	if err != nil {
		return c.fail(err)
	}
	defer func() { _ = restore() }()
	master := s.Master
	go func() { _, _ = io.Copy(master, os.Stdin) }()
	outDone := make(chan struct{})
	go func() {
		// Ends with EIO once every holder of the guest's side has closed it.
		_, _ = io.Copy(os.Stdout, master)
		close(outDone)
	}()
	go func() {
		for range winch {
			if rows, cols, err := tty.Size(in); err == nil {
				_ = tty.SetSize(int(master.Fd()), rows, cols)
			}
		}
	}()
	go forwardSignals(s, sigs)
	status, err := s.Wait()
	select {
	case <-outDone:
	case <-time.After(time.Second):
	}
	_ = restore()
	if err != nil {
		fmt.Fprintf(c.stderr, "\r\nvserver: %s: %v\n", name, err)
		return lostStatus
	}
	return status
}

// termName is the TERM the guest's shell gets: ours, if it is sane.
func termName() string {
	t := os.Getenv("TERM")
	if t == "" || !control.ValidEnv("TERM="+t) || len(t) > 64 || strings.ContainsAny(t, "/ ") {
		return "xterm"
	}
	return t
}
