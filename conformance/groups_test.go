package conformance

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// D1: the child catches USR1 and waits for a sleep that has USR1 at its
// default action. With group signalling USR1 to the init kills the sleep too,
// the child ends and the init exits; without it only the child sees USR1 and
// everything keeps running.
func TestD1GroupSignal(t *testing.T) {
	for _, mode := range []signalMode{modeGroup, modeChild} {
		name := map[signalMode]string{modeGroup: "group", modeChild: "child-only"}[mode]
		t.Run(name, func(t *testing.T) {
			r := start(t, runConfig{options: options{mode: mode}, cmd: []string{helper("sigecho"), "-stdin", "sleep", "1000"}})
			r.expectLine("ready", 10*time.Second)
			var sleeper proc
			waitFor(t, 10*time.Second, "the child and its sleep", func() bool {
				for _, p := range r.procs() {
					if p.comm == "sleep" {
						sleeper = p
						return true
					}
				}
				return false
			})
			r.signal(syscall.SIGUSR1)
			if mode == modeGroup {
				r.expectExit(0, 10*time.Second)
				return
			}
			r.expectLine("10", 5*time.Second)
			// The child has the signal; the sleep would have had it in the
			// same kill(2). Give a wrongly signalled sleep time to die.
			deadline := time.Now().Add(300 * time.Millisecond)
			for time.Now().Before(deadline) {
				if p, ok := readProc(sleeper.pid); !ok || p.state == 'Z' {
					t.Fatalf("the sleep died of a USR1 meant for the child only")
				}
				if r.exited() {
					t.Fatalf("the init exited: %v", r.wait(0))
				}
				time.Sleep(10 * time.Millisecond)
			}
			r.stdin.Close()
			r.expectExit(0, 10*time.Second)
		})
	}
}

// D2: a shell with two pipelines (one in the background); TERM to the init.
// Group mode: nothing survives. Child-only mode: the shell dies and the four
// pipeline processes survive the init — unless the init terminates what is
// left when its child exits (vinit's --grace), then none. The init runs as a
// plain child here, so that survivors outlive it and can be counted.
func TestD2Survivors(t *testing.T) {
	for _, mode := range []signalMode{modeGroup, modeChild} {
		name := map[signalMode]string{modeGroup: "group", modeChild: "child-only"}[mode]
		t.Run(name, func(t *testing.T) {
			r := start(t, runConfig{
				options: options{mode: mode, notPID1: true},
				cmd:     []string{"/bin/sh", "-c", "sleep 100 | cat & sleep 100 | cat >&2"},
			})
			waitFor(t, 10*time.Second, "the shell and its four pipeline processes", func() bool {
				return len(descendants(r.initPid)) == 5
			}, func() string { return fmt.Sprintf("init %d, namespace %v", r.initPid, r.procs()) })
			r.signal(syscall.SIGTERM)
			r.expectExit(143, 10*time.Second)
			want := 0
			if mode == modeChild && !initKind.cleansUp {
				want = 4
			}
			// Signalled processes may still be on their way out: wait until
			// exactly the expected ones are left, asleep (not dying).
			alive := func() []proc {
				var left []proc
				for _, p := range r.procs() {
					if p.state != 'Z' {
						left = append(left, p)
					}
				}
				return left
			}
			waitFor(t, 3*time.Second, fmt.Sprintf("%d survivors", want), func() bool {
				left := alive()
				for _, p := range left {
					if p.state != 'S' {
						return false
					}
				}
				return len(left) == want
			}, func() string { return fmt.Sprintf("left: %v", alive()) })
		})
	}
}

// D3: group mode; the main child exits 0 while a background process of its
// own still runs: that process receives SIGTERM when the init exits. The init
// runs as a plain child so the process outlives it and can report.
func TestD3TermOnExit(t *testing.T) {
	r := start(t, runConfig{
		options: options{mode: modeGroup, notPID1: true},
		cmd:     []string{"/bin/sh", "-c", helper("sigecho") + " -exit-on 15 & read x"},
	})
	r.expectLine("ready", 10*time.Second)
	r.stdin.Write([]byte("\n"))
	r.expectExit(0, 10*time.Second)
	if l, ok := r.nextLine(2 * time.Second); l != "15" {
		t.Errorf("the left-over process got %q (ok=%v), want SIGTERM (15)", l, ok)
	}
}
