// Command svchelper is a test service for vinit's service tests, built by
// the tests with CGO_ENABLED=0. Subcommands:
//
//	activated             serve the sockets passed with LISTEN_FDS (go-systemd activation)
//	notify STEP...        as the main process: sleep:DUR, send:STATE (sd_notify), child:STATE (a child
//	                      sends), every:DUR:STATE (forever), exit; without exit it then sleeps forever
//	listen ADDR           accept connections on ADDR (host:port, or unix:/path) forever
//	sigwrap IGN BLK -- CMD ARGS
//	                      ignore the signals IGN and block BLK (comma-separated numbers), then exec CMD
package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: svchelper activated|notify|listen|sigwrap ...")
	}
	switch os.Args[1] {
	case "activated":
		activated()
	case "notify":
		notify(os.Args[2:])
	case "listen":
		network, addr := "tcp", os.Args[2]
		if p, ok := strings.CutPrefix(addr, "unix:"); ok {
			network, addr = "unix", p
		}
		ln, err := net.Listen(network, addr)
		if err != nil {
			fail("listen: %v", err)
		}
		for {
			c, err := ln.Accept()
			if err == nil {
				c.Close()
			}
		}
	case "sigwrap":
		sigwrap(os.Args[2:])
	default:
		fail("unknown subcommand %q", os.Args[1])
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "svchelper: "+format+"\n", args...)
	os.Exit(99)
}

// activated answers each connection on each passed socket with
// "pid=PID name=NAME\n". No sockets (LISTEN_PID not ours): exit 3.
func activated() {
	names := os.Getenv("LISTEN_FDNAMES")
	lns, err := activation.Listeners()
	if err != nil {
		fail("listeners: %v", err)
	}
	if len(lns) == 0 {
		fmt.Fprintf(os.Stderr, "svchelper: no sockets passed (LISTEN_PID=%s, mine %d)\n", os.Getenv("LISTEN_PID"), os.Getpid())
		os.Exit(3)
	}
	fmt.Printf("serving %d sockets named %s\n", len(lns), names)
	done := make(chan struct{})
	for i, ln := range lns {
		name := strings.Split(names, ":")[i]
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					close(done)
					return
				}
				fmt.Fprintf(c, "pid=%d name=%s\n", os.Getpid(), name)
				c.Close()
			}
		}()
	}
	<-done
}

func notify(steps []string) {
	for _, s := range steps {
		kind, arg, _ := strings.Cut(s, ":")
		switch kind {
		case "sleep":
			d, err := time.ParseDuration(arg)
			if err != nil {
				fail("%v", err)
			}
			time.Sleep(d)
		case "send":
			ok, err := daemon.SdNotify(false, strings.ReplaceAll(arg, `\n`, "\n"))
			if !ok || err != nil {
				fail("sd_notify %q: sent %v, %v", arg, ok, err)
			}
		case "child":
			cmd := exec.Command("/proc/self/exe", "notify", "send:"+arg, "exit")
			cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
			if err := cmd.Run(); err != nil {
				fail("child: %v", err)
			}
		case "every":
			// every:DUR:STATE sends STATE every DUR, forever.
			d, state, _ := strings.Cut(arg, ":")
			every, err := time.ParseDuration(d)
			if err != nil {
				fail("%v", err)
			}
			for {
				if _, err := daemon.SdNotify(false, state); err != nil {
					fail("sd_notify %q: %v", state, err)
				}
				time.Sleep(every)
			}
		case "exit":
			os.Exit(0)
		default:
			fail("unknown step %q", s)
		}
	}
	for {
		time.Sleep(time.Hour)
	}
}

func sigwrap(args []string) {
	if len(args) < 4 || args[2] != "--" {
		fail("usage: sigwrap IGN BLK -- CMD ARGS")
	}
	for _, n := range nums(args[0]) {
		signal.Ignore(syscall.Signal(n))
	}
	runtime.LockOSThread()
	var set unix.Sigset_t
	for _, n := range nums(args[1]) {
		set.Val[(n-1)/64] |= 1 << ((uint(n) - 1) % 64)
	}
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, nil); err != nil {
		fail("sigprocmask: %v", err)
	}
	err := syscall.Exec(args[3], args[3:], os.Environ())
	fail("exec %s: %v", args[3], err)
}

func nums(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			fail("bad signal number %q", f)
		}
		out = append(out, n)
	}
	return out
}
