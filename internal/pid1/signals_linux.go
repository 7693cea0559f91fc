package pid1

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// sigRTMIN is the first real-time signal as userspace numbers them (glibc
// reserves 32 and 33). "SIGRTMIN+3" from docker, systemd and kill(1) is 37.
const sigRTMIN = 34

// Signals vinit acts on in supervisor mode (DESIGN §3.3).
var (
	sigHaltSystemd     = unix.Signal(sigRTMIN + 3)
	sigPoweroffSystemd = unix.Signal(sigRTMIN + 4)
	sigRebootSystemd   = unix.Signal(sigRTMIN + 5)
)

// Signals is what CatchSignals sets up: SIGCHLD on its own channel (one
// pending notification is enough: the reaper loops until none is left), all
// other signals in order on another.
type Signals struct {
	Child  chan os.Signal
	Others chan os.Signal
}

// CatchSignals installs a handler for every catchable signal. It must be the
// first thing vinit does: a Go program without a handler dies of SIGTERM and
// SIGPIPE, and PID 1 silently drops signals it has no handler for. SIGURG is
// left to the Go runtime (goroutine preemption); 32 and 33 are the C
// library's and never sent to an init.
func CatchSignals() *Signals {
	s := &Signals{Child: make(chan os.Signal, 1), Others: make(chan os.Signal, 128)}
	signal.Notify(s.Child, unix.SIGCHLD)
	var all []os.Signal
	for n := 1; n <= 64; n++ {
		sig := unix.Signal(n)
		switch sig {
		case unix.SIGKILL, unix.SIGSTOP, unix.SIGCHLD, unix.SIGURG, 32, 33:
			continue
		}
		all = append(all, sig)
	}
	signal.Notify(s.Others, all...)
	return s
}

// ParseSignal reads "TERM", "SIGTERM", "term", "15", "RTMIN+3" or "SIGRTMIN+3".
func ParseSignal(s string) (unix.Signal, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	if n, err := strconv.Atoi(t); err == nil {
		if n < 1 || n > 64 {
			return 0, fmt.Errorf("signal %q out of range 1-64", s)
		}
		return unix.Signal(n), nil
	}
	t = strings.TrimPrefix(t, "SIG")
	if rest, ok := strings.CutPrefix(t, "RTMIN"); ok {
		off := 0
		if rest != "" {
			n, err := strconv.Atoi(strings.TrimPrefix(rest, "+"))
			if err != nil || !strings.HasPrefix(rest, "+") || n < 0 || sigRTMIN+n > 64 {
				return 0, fmt.Errorf("unknown signal %q", s)
			}
			off = n
		}
		return unix.Signal(sigRTMIN + off), nil
	}
	if sig := unix.SignalNum("SIG" + t); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

// SignalName is the conventional name: "SIGTERM", "SIGRTMIN+3".
func SignalName(sig unix.Signal) string {
	if sig >= sigRTMIN && sig <= 64 {
		if sig == sigRTMIN {
			return "SIGRTMIN"
		}
		return fmt.Sprintf("SIGRTMIN+%d", int(sig)-sigRTMIN)
	}
	if n := unix.SignalName(sig); n != "" {
		return n
	}
	return "signal " + strconv.Itoa(int(sig))
}
