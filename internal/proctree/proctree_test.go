package proctree

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestDescendantsAndStat(t *testing.T) {
	// sh starts a sleep: both are below us, the sleep below sh.
	cmd := exec.Command("/bin/sh", "-c", "sleep 30 & wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sh := cmd.Process.Pid
	deadline := time.Now().Add(5 * time.Second)
	for {
		var got []Proc
		for _, p := range Descendants(os.Getpid()) {
			if p.PID == sh || p.PPID == sh {
				got = append(got, p)
			}
		}
		if len(got) == 2 {
			if got[0].PID != sh || got[1].PPID != sh || got[1].PGID != got[0].PGID {
				t.Fatalf("tree: %+v", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("did not see sh and its sleep below us: %+v", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
	p, ok := Stat(sh)
	if !ok || p.PPID != os.Getpid() || p.State == "" {
		t.Fatalf("Stat(sh) = %+v, %v", p, ok)
	}
	if _, ok := Stat(1 << 30); ok {
		t.Fatal("Stat of a pid that cannot exist succeeded")
	}
}
