package ipv4root

import (
	"bufio"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vserver-go/vserver/internal/cgroup"
)

// Chbind runs argv confined to ips, the way 2003's chbind wrapped host
// daemons (v_sshd, v_httpd) so that their 0.0.0.0 does not take a port on
// every address: argv runs in a transient cgroup below the caller's own
// (so a systemd unit still tracks it) with the programs attached and the
// host's loopback shared (127.0.0.1 stays 127.0.0.1). Signals Chbind gets
// are passed on. It returns argv's exit code (128+n for signal n) once
// every process in the cgroup has exited, so a daemon that forks into the
// background stays confined and waited for; then it removes the cgroup.
func Chbind(ips []netip.Addr, argv []string) (exitCode int, err error) {
	if len(argv) == 0 {
		return 0, errors.New("chbind: no command")
	}
	v4, v6 := SplitIPs(ips)
	own, err := ownCgroup()
	if err != nil {
		return 0, fmt.Errorf("chbind: %w", err)
	}
	g, err := cgroup.Create(path.Join(own, fmt.Sprintf("vserver-chbind-%d", os.Getpid())))
	if err != nil {
		return 0, fmt.Errorf("chbind: %w", err)
	}
	defer func() {
		if kerr := g.Kill(time.Now().Add(5 * time.Second)); kerr != nil && err == nil {
			err = fmt.Errorf("chbind: %w", kerr)
		}
		if rerr := g.Remove(); rerr != nil && err == nil {
			err = fmt.Errorf("chbind: %w", rerr)
		}
	}()
	a, err := attach(g.Path(), "", Policy{IPv4: v4, IPv6: v6, Loopback: localhost4})
	if err != nil {
		return 0, fmt.Errorf("chbind: attach to %s: %w", g.Path(), err)
	}
	defer a.Close()
	fd, err := g.OpenFD()
	if err != nil {
		return 0, fmt.Errorf("chbind: %w", err)
	}
	defer fd.Close()

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH)
	defer signal.Stop(sigs)

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(fd.Fd())}
	if err := cmd.Start(); err != nil {
		return 127, fmt.Errorf("chbind: start %s: %w", argv[0], err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	for {
		select {
		case s := <-sigs:
			_ = cmd.Process.Signal(s)
			continue
		case werr := <-waited:
			exitCode = exitStatus(cmd.ProcessState, werr)
		}
		break
	}
	// Wait for what the command left running (a daemon's background
	// process), passing signals on to all of it.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		pids, err := g.Procs()
		if err != nil {
			return exitCode, fmt.Errorf("chbind: %w", err)
		}
		if len(pids) == 0 {
			return exitCode, nil
		}
		select {
		case s := <-sigs:
			for _, pid := range pids {
				_ = unix.Kill(pid, s.(syscall.Signal))
			}
		case <-tick.C:
		}
	}
}

func exitStatus(ps *os.ProcessState, err error) int {
	if ps == nil {
		return 127
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	if c := ps.ExitCode(); c >= 0 {
		return c
	}
	if err != nil {
		return 1
	}
	return 0
}

// ownCgroup is this process's cgroup2 path relative to the hierarchy's
// root ("0::/path" in /proc/self/cgroup).
func ownCgroup() (string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return "", fmt.Errorf("find own cgroup: %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "0::"); ok {
			return rest, nil
		}
	}
	if err := s.Err(); err != nil {
		return "", fmt.Errorf("find own cgroup: %w", err)
	}
	return "/", nil
}
