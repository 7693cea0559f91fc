package services

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// startReadiness arms what tells us the service is ready, right after it
// was started. On the loop.
func (u *unit) startReadiness(gen int) {
	r := u.spec.Ready
	if r.Timeout > 0 {
		u.startTimer = u.sv.host.After(r.Timeout, func() {
			u.startTimer = nil
			if gen == u.gen && u.state == StateStarting {
				what := "ready"
				if u.spec.Type == TypeOneshot {
					what = "done"
				}
				if u.spec.Type == TypeForking && u.forkParent == 0 && u.pid == 0 {
					u.failed(fmt.Sprintf("forking: no running daemon named in %s within %v", u.spec.PIDFile, r.Timeout))
					return
				}
				u.failed(fmt.Sprintf("not %s within %v", what, r.Timeout))
			}
		})
	}
	switch {
	case u.spec.Type == TypeOneshot, u.spec.Type == TypeForking:
		// Ready when it exits 0 / when the daemon is known (forked).
	default:
		u.checkReady(gen)
	}
}

// checkReady starts the configured check; without one the service is
// ready now (simple) or when it says so (notify).
func (u *unit) checkReady(gen int) {
	r := u.spec.Ready
	switch {
	case u.spec.Type == TypeNotify || r.Kind == ReadyNotify:
		// notified() sees READY=1.
	case r.Kind == ReadyFD:
		// readFD, started with the process, sees the newline.
	case r.Kind == ReadyStarted:
		u.becameReady()
	case r.Kind == ReadyCommand:
		u.pollCommand(gen)
	default:
		done := make(chan struct{})
		u.readyDone = done
		go u.poll(gen, done)
	}
}

// poll tries the tcp, unix or file check every interval until it succeeds
// or the check is cancelled. Runs in its own goroutine; reports by Post.
func (u *unit) poll(gen int, done <-chan struct{}) {
	r := u.spec.Ready
	interval := r.Interval
	if interval <= 0 {
		interval = 50 * time.Millisecond
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if readyCheck(r) {
			u.sv.host.Post(func() {
				if gen == u.gen {
					u.becameReady()
				}
			})
			return
		}
		select {
		case <-done:
			return
		case <-t.C:
		}
	}
}

func readyCheck(r Ready) bool {
	switch r.Kind {
	case ReadyTCP, ReadyUnix:
		network := "tcp"
		if r.Kind == ReadyUnix {
			network = "unix"
		}
		c, err := net.DialTimeout(network, r.Addr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	case ReadyFile:
		_, err := os.Stat(r.Addr)
		return err == nil
	}
	return false
}

// pollCommand runs the ready command every interval until it exits 0.
// The command is a process of ours: the loop starts and reaps it.
func (u *unit) pollCommand(gen int) {
	r := u.spec.Ready
	interval := r.Interval
	if interval <= 0 {
		interval = 50 * time.Millisecond
	}
	var try func()
	try = func() {
		u.readyStop = nil
		if gen != u.gen || u.state != StateStarting {
			return
		}
		cmd := exec.Command(r.Command[0], r.Command[1:]...)
		if env, err := u.environ(); err == nil {
			cmd.Env = env
		}
		cmd.Dir = "/"
		// The check runs as the service does.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: u.credential()}
		err := u.sv.host.Spawn(cmd, func(ws unix.WaitStatus) {
			if gen != u.gen || u.state != StateStarting {
				return
			}
			if ws.Exited() && ws.ExitStatus() == 0 {
				u.becameReady()
				return
			}
			u.readyStop = u.sv.host.After(interval, try)
		})
		if err != nil {
			u.log("ready command: %v", err)
			u.readyStop = u.sv.host.After(interval, try)
		}
	}
	try()
}

// readFD waits for the s6-style readiness newline on the pipe the service
// got as fd N. EOF before a newline (the service closed it, or died) means
// not ready. Runs in its own goroutine.
func (u *unit) readFD(r *os.File, gen int) {
	br := bufio.NewReader(r)
	for {
		b, err := br.ReadByte()
		if err != nil {
			return
		}
		if b == '\n' {
			u.sv.host.Post(func() {
				if gen == u.gen {
					u.becameReady()
				}
			})
			return
		}
	}
}

// openListeners opens the listen sockets once; they stay open across
// restarts, so connections queue while the service restarts.
func (u *unit) openListeners() error {
	if len(u.listeners) == len(u.spec.Listen) {
		return nil
	}
	u.closeListeners()
	for _, l := range u.spec.Listen {
		f, err := listenFile(l)
		if err != nil {
			u.closeListeners()
			return fmt.Errorf("listen %s:%s: %w", l.Network, l.Address, err)
		}
		u.listeners = append(u.listeners, f)
	}
	return nil
}

func listenFile(l Listen) (*os.File, error) {
	switch l.Network {
	case "udp", "udp4", "udp6":
		pc, err := net.ListenPacket(l.Network, l.Address)
		if err != nil {
			return nil, err
		}
		defer pc.Close()
		return pc.(*net.UDPConn).File()
	case "unix":
		if l.Address != "" && l.Address[0] == '/' {
			os.Remove(l.Address)
		}
		ln, err := net.Listen("unix", l.Address)
		if err != nil {
			return nil, err
		}
		ul := ln.(*net.UnixListener)
		ul.SetUnlinkOnClose(false)
		defer ul.Close()
		return ul.File()
	default:
		ln, err := net.Listen(l.Network, l.Address)
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		return ln.(*net.TCPListener).File()
	}
}
