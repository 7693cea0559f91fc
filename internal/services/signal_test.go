package services

import (
	"syscall"
	"testing"
)

func TestParseSignal(t *testing.T) {
	good := map[string]syscall.Signal{
		"TERM": syscall.SIGTERM, "SIGTERM": syscall.SIGTERM, "sigterm": syscall.SIGTERM, " 15 ": syscall.SIGTERM,
		"KILL": syscall.SIGKILL, "SIGHUP": syscall.SIGHUP, "USR2": syscall.SIGUSR2, "SIGPWR": syscall.SIGPWR,
		"IOT": syscall.SIGABRT, "SIGPOLL": syscall.SIGIO, "CLD": syscall.SIGCHLD,
		"SIGRTMIN": 34, "SIGRTMIN+3": 37, "RTMIN+30": 64, "SIGRTMAX": 64, "SIGRTMAX-2": 62, "64": 64, "1": 1,
	}
	for in, want := range good {
		if got, err := parseSignal(in); err != nil || got != want {
			t.Errorf("parseSignal(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":            `empty signal name`,
		"SIG":         `empty signal name`,
		"SIGFOO":      `unknown signal "SIGFOO"`,
		"0":           `signal number 0 is out of range (want 1 to 64)`,
		"65":          `signal number 65 is out of range (want 1 to 64)`,
		"-1":          `signal number -1 is out of range (want 1 to 64)`,
		"SIGRTMIN+31": `unknown signal "SIGRTMIN+31" (SIGRTMIN offset must be 0 to 30)`,
		"SIGRTMIN-1":  `unknown signal "SIGRTMIN-1"`,
		"SIGRTMAX+1":  `unknown signal "SIGRTMAX+1"`,
		"RTMIN+x":     `unknown signal "RTMIN+x" (SIGRTMIN offset must be 0 to 30)`,
	}
	for in, want := range bad {
		if _, err := parseSignal(in); err == nil || err.Error() != want {
			t.Errorf("parseSignal(%q) error = %v; want %q", in, err, want)
		}
	}
}

func TestSignalName(t *testing.T) {
	for sig, want := range map[syscall.Signal]string{syscall.SIGTERM: "SIGTERM", 37: "SIGRTMIN+3", syscall.SIGHUP: "SIGHUP"} {
		if got := signalName(sig); got != want {
			t.Errorf("signalName(%d) = %q, want %q", sig, got, want)
		}
		if back, err := parseSignal(signalName(sig)); err != nil || back != sig {
			t.Errorf("round trip of %d: %d, %v", sig, back, err)
		}
	}
}
