package conformance

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The harness itself: the init is PID 1 of its namespace and its child sees
// only the namespace; in a not-PID-1 run the init is the stub's child.
func TestHarness(t *testing.T) {
	for _, notPID1 := range []bool{false, true} {
		t.Run(fmt.Sprintf("notPID1=%v", notPID1), func(t *testing.T) {
			r := start(t, runConfig{options: options{notPID1: notPID1}, cmd: []string{helper("probe"), "-wait"}})
			info := r.probeInfo(10 * time.Second)
			wantPPID := strconv.Itoa(nsPidOf(t, r.initPid))
			if !notPID1 && wantPPID != "1" {
				t.Errorf("the init is pid %s in its namespace, want 1", wantPPID)
			}
			if notPID1 && wantPPID == "1" {
				t.Errorf("the init is PID 1 in a not-PID-1 run")
			}
			if info["ppid"] != wantPPID {
				t.Errorf("the child's parent is pid %s in the namespace, want the init, %s", info["ppid"], wantPPID)
			}
			r.stdin.Close()
			r.expectExit(0, 10*time.Second)
		})
	}
}

// B1: every catchable signal sent to the init reaches the child exactly once
// and in order (KILL and STOP cannot be caught, CHLD is the init's own,
// TSTP/TTIN/TTOU are job control, E5, and PROF is left out because the Go
// runtime of the echo helper keeps every SIGPROF to its profiler).
func TestB1Forwarding(t *testing.T) {
	r := start(t, runConfig{cmd: []string{helper("sigecho"), "-stdin"}})
	r.expectLine("ready", 10*time.Second)
	var missing []string
	for s := 1; s <= 31; s++ {
		switch syscall.Signal(s) {
		case syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGCHLD, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGPROF:
			continue
		}
		if why, ok := initKind.notForwarded[syscall.Signal(s)]; ok {
			t.Logf("signal %d not sent: %s does not forward it: %s", s, initKind.kind, why)
			continue
		}
		r.signal(syscall.Signal(s))
		l, ok := r.nextLine(2 * time.Second)
		if !ok {
			missing = append(missing, fmt.Sprintf("%d(%s)", s, sigName(syscall.Signal(s))))
			continue
		}
		if l != strconv.Itoa(s) {
			t.Fatalf("sent signal %d, the child printed %q", s, l)
		}
	}
	if len(missing) > 0 {
		t.Errorf("signals not forwarded within 2s each: %s", strings.Join(missing, " "))
	}
	r.stdin.Close()
	r.expectExit(0, 10*time.Second)
	for l := range r.lines {
		t.Errorf("unexpected output after the last signal: %q", l)
	}
}

// B2: the child's shell has TERM/USR1/USR2 at their default action and waits
// for a sleep; the signal kills the shell and the init exits 128+signo.
func TestB2DefaultActionExit(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGUSR2} {
		t.Run(strings.TrimPrefix(sigName(sig), "SIG"), func(t *testing.T) {
			r := start(t, runConfig{cmd: []string{"/bin/sh", "-c", "trap - TERM USR1 USR2; sleep 100; :"}})
			waitFor(t, 10*time.Second, "the shell and its sleep", func() bool { return len(r.procs()) >= 2 })
			r.signal(sig)
			r.expectExit(128+int(sig), 5*time.Second)
		})
	}
}

// B3: a rewrite rule TERM→QUIT: the child receives QUIT, not TERM; other
// signals pass unchanged.
func TestB3Rewrite(t *testing.T) {
	r := start(t, runConfig{
		options: options{rewrite: [][2]int{{int(syscall.SIGTERM), int(syscall.SIGQUIT)}}},
		cmd:     []string{helper("sigecho"), "-stdin"},
	})
	r.expectLine("ready", 10*time.Second)
	r.signal(syscall.SIGTERM)
	if l, _ := r.nextLine(2 * time.Second); l != "3" {
		t.Errorf("after TERM to the init the child got %q, want 3 (QUIT)", l)
	}
	r.signal(syscall.SIGUSR1)
	if l, _ := r.nextLine(2 * time.Second); l != "10" {
		t.Errorf("after USR1 to the init the child got %q, want 10", l)
	}
	r.stdin.Close()
	r.expectExit(0, 10*time.Second)
}

// B7: the init's parent ignored TTOU/SEGV/INT and blocked TTIN/ILL/TERM; the
// child must still start with every signal at its default action and an
// empty mask (cat reports its own /proc status: it changes neither).
// Signals 32 and 33 are ignored too: the C library reserves them and the Go
// runtime never resets them, and environments that ignore 32 exist (a CI
// runner did), so an init must reset them itself.
func TestB7CleanSignalState(t *testing.T) {
	r := start(t, runConfig{
		cmd:    []string{"/bin/cat", "/proc/self/status"},
		ignore: []int{int(syscall.SIGTTOU), int(syscall.SIGSEGV), int(syscall.SIGINT), 32, 33},
		block:  []int{int(syscall.SIGTTIN), int(syscall.SIGILL), int(syscall.SIGTERM)},
	})
	got := map[string]string{}
	for {
		l, ok := r.nextLine(5 * time.Second)
		if !ok {
			break
		}
		if k, v, ok := strings.Cut(l, ":"); ok && (k == "SigIgn" || k == "SigBlk") {
			got[k] = strings.TrimSpace(v)
		}
	}
	r.expectExit(0, 10*time.Second)
	for _, k := range []string{"SigIgn", "SigBlk"} {
		v, ok := got[k]
		if !ok {
			t.Fatalf("no %s line in the child's /proc/self/status", k)
		}
		if n, err := strconv.ParseUint(v, 16, 64); err != nil || n != 0 {
			t.Errorf("child %s = %s (%s), want none", k, v, maskNames(n))
		}
	}
}

func maskNames(m uint64) string {
	var names []string
	for s := 1; s <= 64; s++ {
		if m&(1<<(s-1)) != 0 {
			names = append(names, sigName(syscall.Signal(s)))
		}
	}
	return strings.Join(names, ",")
}

// probeInfo reads the probe helper's "key value" lines up to "ready".
func (r *run) probeInfo(timeout time.Duration) map[string]string {
	r.t.Helper()
	info := map[string]string{}
	deadline := time.Now().Add(timeout)
	for {
		l, ok := r.nextLine(time.Until(deadline))
		if !ok {
			r.t.Fatalf("probe: no \"ready\" within %v; got %v", timeout, info)
		}
		if l == "ready" {
			return info
		}
		k, v, _ := strings.Cut(l, " ")
		if k == "fd" || k == "env" {
			info[k] += v + "\n"
		} else {
			info[k] = v
		}
	}
}
