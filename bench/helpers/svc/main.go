// Command svc is the service of the supervisor benchmarks: the same tiny
// static program runs under vinit, s6 and runit. It signals readiness the
// supervisor's native way, then reports to the driver and waits to be
// killed.
//
//	svc [NAME]
//
// NAME defaults to the base name of the working directory (s6 and runit run
// a service's ./run in its service directory, without arguments).
//
// In order:
//  1. readiness: with $NOTIFY_SOCKET (vinit, type = "notify") it sends
//     READY=1 there; when the working directory has a notification-fd file
//     (s6) it writes a newline to that descriptor and closes it;
//  2. report: it sends "NAME START_NS READYING_NS" as one datagram to the
//     unix socket $BENCH_REPORT, the driver's clock: CLOCK_MONOTONIC when
//     main began and just before it signalled readiness (a supervisor can
//     only start what waits for this service after that moment);
//  3. with $BENCH_EXIT=N it exits with status N at once (a crashing
//     service); otherwise it pauses until a signal kills it (SIGTERM: the Go
//     runtime's default action, death by the signal).
//
// It imports only x/sys/unix (and syscall) so that its start-up is as short as a Go
// program's can be.
//
//	svc -spawn N
//
// is the floor of the driver's table: no supervisor, it starts N copies
// of itself (s000 … ) at once, then reaps children forever.
package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

func main() {
	start := monotonic()
	if len(os.Args) == 3 && os.Args[1] == "-spawn" {
		spawn(os.Args[2])
		return
	}
	name := ""
	if len(os.Args) > 1 {
		name = os.Args[1]
	} else if wd, err := os.Getwd(); err == nil {
		name = filepath.Base(wd)
	}
	readying := monotonic()
	if err := ready(); err != nil {
		fail("signal readiness", err)
	}
	if err := report(name, start, readying); err != nil {
		fail("report to $BENCH_REPORT", err)
	}
	if s := os.Getenv("BENCH_EXIT"); s != "" {
		code, _ := strconv.Atoi(s)
		os.Exit(code)
	}
	for {
		unix.Pause()
	}
}

func ready() error {
	if p := os.Getenv("NOTIFY_SOCKET"); p != "" {
		if err := sendDatagram(p, "READY=1"); err != nil {
			return err
		}
	}
	b, err := os.ReadFile("notification-fd")
	if err != nil {
		return nil // not under s6, or s6 without readiness
	}
	fd, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return err
	}
	if _, err := unix.Write(fd, []byte("\n")); err != nil {
		return err
	}
	return unix.Close(fd)
}

func report(name string, start, readying int64) error {
	p := os.Getenv("BENCH_REPORT")
	if p == "" {
		return nil
	}
	return sendDatagram(p, name+" "+strconv.FormatInt(start, 10)+" "+strconv.FormatInt(readying, 10))
}

func monotonic() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// spawn starts n copies of this program, as a supervisor would but without
// any bookkeeping, and reaps forever (it is PID 1 of its namespace).
func spawn(arg string) {
	n, err := strconv.Atoi(arg)
	if err != nil {
		fail("-spawn", err)
	}
	self, err := os.Executable()
	if err != nil {
		fail("-spawn", err)
	}
	attr := &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2}}
	for i := range n {
		name := strconv.Itoa(i)
		for len(name) < 3 {
			name = "0" + name
		}
		if _, err := syscall.ForkExec(self, []string{self, "s" + name}, attr); err != nil {
			fail("-spawn", err)
		}
	}
	for {
		var ws unix.WaitStatus
		if _, err := unix.Wait4(-1, &ws, 0, nil); err == unix.ECHILD {
			unix.Pause()
		}
	}
}

// sendDatagram sends msg to the unix datagram socket at path ("@name":
// abstract).
func sendDatagram(path, msg string) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if strings.HasPrefix(path, "@") {
		path = "\x00" + path[1:]
	}
	return unix.Sendto(fd, []byte(msg), 0, &unix.SockaddrUnix{Name: path})
}

func fail(what string, err error) {
	os.Stderr.WriteString("svc: " + what + ": " + err.Error() + "\n")
	os.Exit(111)
}
