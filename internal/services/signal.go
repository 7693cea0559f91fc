package services

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// The real-time signals user programs get on Linux: glibc keeps 32 and 33
// for itself, so SIGRTMIN is 34 as kill(1) and systemd count it.
const (
	sigRTMin = 34
	sigRTMax = 64
)

// parseSignal reads "TERM", "SIGTERM", "sigterm", "15", "SIGRTMIN+3",
// "RTMAX-1".
func parseSignal(s string) (syscall.Signal, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	if n, err := strconv.Atoi(t); err == nil {
		if n < 1 || n > sigRTMax {
			return 0, fmt.Errorf("signal number %d is out of range (want 1 to %d)", n, sigRTMax)
		}
		return syscall.Signal(n), nil
	}
	t = strings.TrimPrefix(t, "SIG")
	for _, rt := range []struct {
		prefix string
		base   int
		sign   int
	}{{"RTMIN", sigRTMin, 1}, {"RTMAX", sigRTMax, -1}} {
		if !strings.HasPrefix(t, rt.prefix) {
			continue
		}
		rest := t[len(rt.prefix):]
		off := 0
		if rest != "" {
			if (rt.sign > 0 && rest[0] != '+') || (rt.sign < 0 && rest[0] != '-') {
				return 0, fmt.Errorf("unknown signal %q", s)
			}
			n, err := strconv.Atoi(rest[1:])
			if err != nil || n < 0 || n > sigRTMax-sigRTMin {
				return 0, fmt.Errorf("unknown signal %q (SIG%s offset must be 0 to %d)", s, rt.prefix, sigRTMax-sigRTMin)
			}
			off = n * rt.sign
		}
		return syscall.Signal(rt.base + off), nil
	}
	if t == "" {
		return 0, fmt.Errorf("empty signal name")
	}
	if sig := unix.SignalNum("SIG" + t); sig != 0 {
		return sig, nil
	}
	switch t { // names kill(1) knows that the table does not
	case "IOT":
		return syscall.SIGABRT, nil
	case "POLL":
		return syscall.SIGIO, nil
	case "CLD":
		return syscall.SIGCHLD, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

// signalName is the conventional name of sig for messages and docs.
func signalName(sig syscall.Signal) string {
	if sig >= sigRTMin && sig <= sigRTMax {
		return fmt.Sprintf("SIGRTMIN+%d", int(sig)-sigRTMin)
	}
	if n := unix.SignalName(sig); n != "" {
		return n
	}
	return strconv.Itoa(int(sig))
}
