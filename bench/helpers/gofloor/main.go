// Command gofloor is the least a Go program must do to be a container
// init: catch every signal, start the command, forward signals to it, reap
// until it is gone, exit with its status. make bench runs it beside vinit
// to show what part of vinit's start and stop time the Go runtime costs.
package main

import (
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 64)
	var all []os.Signal
	for n := 1; n <= 64; n++ {
		switch s := syscall.Signal(n); s {
		case syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGURG, 32, 33:
		default:
			all = append(all, s)
		}
	}
	signal.Notify(sigs, all...)
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		os.Exit(2)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		os.Exit(127)
	}
	pid := cmd.Process.Pid
	for {
		s := <-sigs
		if s != syscall.SIGCHLD {
			_ = syscall.Kill(pid, s.(syscall.Signal))
			continue
		}
		for {
			var ws syscall.WaitStatus
			p, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if err != nil || p <= 0 {
				break
			}
			if p == pid {
				if ws.Signaled() {
					os.Exit(128 + int(ws.Signal()))
				}
				os.Exit(ws.ExitStatus())
			}
		}
	}
}
