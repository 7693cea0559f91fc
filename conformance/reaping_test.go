package conformance

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// orphanRun runs the orphans helper under the init and returns its last
// "reaped" line; the helper itself fails (exit 1) when the init leaves any
// of them unreaped for longer than its timeout.
func orphanRun(t *testing.T, o options, timeout time.Duration, args ...string) (*run, string) {
	t.Helper()
	r := start(t, runConfig{options: o, cmd: append([]string{helper("orphans")}, args...), deadline: timeout + 10*time.Second})
	r.expectLine("ready", 10*time.Second)
	var last string
	for {
		l, ok := r.nextLine(timeout)
		if !ok || l == "done" {
			return r, last
		}
		if strings.HasPrefix(l, "timeout:") {
			t.Errorf("orphans: %s", l)
			return r, last
		}
		if strings.HasPrefix(l, "reaped") {
			last = l
		}
	}
}

// C1: a grandchild leaves 100 processes behind that exit at staggered times;
// the child waits until it is alone again: the init reaped every one.
func TestC1ReapOrphans(t *testing.T) {
	r, last := orphanRun(t, options{}, 10*time.Second, "-n", "100", "-stagger", "500ms", "-timeout", "8s")
	r.expectExit(0, 10*time.Second)
	if z := zombies(r.procs()); len(z) > 0 {
		t.Errorf("zombies left: %v", z)
	}
	t.Log(last)
}

// C2: the same with the init not PID 1 but a plain child: it must make itself
// a subreaper, or the orphans go to the namespace's PID 1, which (the test's
// stub) never reaps them.
func TestC2ReapAsSubreaper(t *testing.T) {
	r, last := orphanRun(t, options{notPID1: true}, 10*time.Second, "-n", "100", "-stagger", "300ms", "-timeout", "8s")
	r.expectExit(0, 10*time.Second)
	if z := zombies(r.procs()); len(z) > 0 {
		t.Errorf("zombies left: %d, e.g. %v", len(z), z[0])
	}
	t.Log(last)
}

// C3: a background grandchild of a detached background child (bash -c
// "bash -c 'echo x' &" &): once it has run, no zombie remains while the main
// child lives.
func TestC3NoZombies(t *testing.T) {
	r := start(t, runConfig{cmd: []string{"/bin/sh", "-c", `(/bin/sh -c "/bin/sh -c 'echo x' &" &); exec sleep 100`}})
	r.expectLine("x", 5*time.Second)
	waitFor(t, 10*time.Second, "no zombies and only the main child left", func() bool {
		ps := r.procs()
		return len(ps) == 1 && len(zombies(ps)) == 0
	})
	r.signal(syscall.SIGTERM)
	r.expectExit(143, 10*time.Second)
}

// C4: SIGCHLD coalesces. 1000 rounds of three orphans dying in the same
// instant, all reaped each round, then the main child exits at the instant
// the last round's orphans die: the init must notice and exit (catatonit #4).
func TestC4CoalescedSIGCHLD(t *testing.T) {
	start := time.Now()
	r, _ := orphanRun(t, options{}, 30*time.Second, "-n", "3", "-rounds", "1000", "-quiet", "-exit-with-last", "-timeout", "5s")
	r.expectExit(0, 10*time.Second)
	t.Logf("1000 rounds in %v", time.Since(start).Round(time.Millisecond))
}

// C5: 10,000 orphans die in the same instant: all are reaped (the helper
// waits until it is alone, the test checks from outside that no zombie is
// left), and how long that took is logged.
func TestC5OrphanBurst(t *testing.T) {
	r, last := orphanRun(t, options{}, 30*time.Second, "-n", "10000", "-timeout", "25s", "-wait-end")
	if last == "" {
		t.Fatal("no \"reaped\" line from the orphans helper")
	}
	t.Log(last)
	if ps := r.procs(); len(ps) != 1 || len(zombies(ps)) != 0 {
		t.Errorf("after the burst the namespace has %d processes besides the init (%d zombies), want only the helper", len(ps), len(zombies(ps)))
	}
	r.stdin.Close()
	r.expectExit(0, 10*time.Second)
}

// C6: a child that runs its own children with os/exec and waits for each,
// while orphans die around it, always gets its children's statuses.
func TestC6OwnWaitIntact(t *testing.T) {
	r := start(t, runConfig{cmd: []string{helper("execwait"), "-n", "300"}, deadline: 40 * time.Second})
	l := r.waitLine("the execwait result", 30*time.Second, func(string) bool { return true })
	if !strings.HasPrefix(l, "ok ") {
		t.Errorf("execwait: %s", l)
	}
	t.Log(l)
	r.expectExit(0, 10*time.Second)
}

// C7: detached workers (setsid, parent gone) exit with assorted codes after
// assorted sleeps: afterwards no worker and no zombie is left and the init
// still runs its main child.
func TestC7DetachedWorkers(t *testing.T) {
	codes := []int{0, 1, 2, 7, 13, 42, 126, 127}
	var script strings.Builder
	for i := 0; i < 24; i++ {
		fmt.Fprintf(&script, "(setsid /bin/sh -c 'sleep 0.%d; exit %d' &)\n", 1+i%5, codes[i%len(codes)])
	}
	script.WriteString("echo spawned\nexec sleep 100\n")
	r := start(t, runConfig{cmd: []string{"/bin/sh", "-c", script.String()}})
	r.expectLine("spawned", 5*time.Second)
	waitFor(t, 10*time.Second, "every worker gone and reaped", func() bool {
		ps := r.procs()
		return len(ps) == 1 && ps[0].ppid == r.initPid && ps[0].state != 'Z'
	})
	if r.exited() {
		t.Fatalf("the init exited: %v", r.wait(0))
	}
	r.signal(syscall.SIGTERM)
	r.expectExit(143, 10*time.Second)
}

// C8: spurious SIGCHLDs to the init change nothing: the child keeps running
// and its exit status later arrives intact.
func TestC8SpuriousSIGCHLD(t *testing.T) {
	r := start(t, runConfig{cmd: []string{helper("sigecho"), "-stdin"}})
	r.expectLine("ready", 10*time.Second)
	child := r.initChildren()
	for i := 0; i < 100; i++ {
		r.signal(syscall.SIGCHLD)
	}
	// A marker signal that has to pass after all of them.
	r.signal(syscall.SIGUSR1)
	r.waitLine("the marker USR1", 5*time.Second, func(l string) bool { return l == "10" })
	if r.exited() {
		t.Fatalf("the init exited: %v", r.wait(0))
	}
	if now := r.initChildren(); len(child) != 1 || len(now) != 1 || now[0].pid != child[0].pid || now[0].state == 'Z' {
		t.Fatalf("the child changed: before %v, after %v", child, now)
	}
	fmt.Fprintln(r.stdin, "exit 7")
	r.expectExit(7, 10*time.Second)
}
