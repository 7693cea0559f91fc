package hooks

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func writeHook(t *testing.T, dir, name, body string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), mode); err != nil {
		t.Fatal(err)
	}
}

type lines struct {
	mu sync.Mutex
	l  []string
}

func (l *lines) add(s string) { l.mu.Lock(); l.l = append(l.l, s); l.mu.Unlock() }
func (l *lines) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.l...)
}

func TestOrderEnvAndSkips(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(t.TempDir(), "order")
	for _, n := range []string{"20-b", "10-a", "30-c"} {
		writeHook(t, dir, n, `echo "$0 $VINIT_PHASE $VINIT_REASON $(pwd)" >> `+out+`; echo hello from `+n, 0o755)
	}
	writeHook(t, dir, "15-not-executable", "echo bad >> "+out, 0o644)
	writeHook(t, dir, ".hidden", "echo bad >> "+out, 0o755)
	writeHook(t, dir, "25-backup~", "echo bad >> "+out, 0o755)
	hs, err := FromDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var log lines
	err = Run(DirectStarter, hs, Spec{Phase: "pre-start", Reason: "boot",
		Env: []string{"VINIT_PHASE=pre-start", "VINIT_REASON=boot"}, Timeout: 5 * time.Second, Log: log.add})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(out)
	want := strings.Join([]string{
		dir + "/10-a pre-start boot /",
		dir + "/20-b pre-start boot /",
		dir + "/30-c pre-start boot /", ""}, "\n")
	if string(data) != want {
		t.Fatalf("hooks ran as\n%s\nwant\n%s", data, want)
	}
	got := strings.Join(log.get(), "|")
	if got != "10-a: hello from 10-a|20-b: hello from 20-b|30-c: hello from 30-c" {
		t.Fatalf("log lines: %q", got)
	}
}

func TestFailureStopsTheRest(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(t.TempDir(), "ran")
	writeHook(t, dir, "1", "echo 1 >> "+out, 0o755)
	writeHook(t, dir, "2", "exit 3", 0o755)
	writeHook(t, dir, "3", "echo 3 >> "+out, 0o755)
	hs, _ := FromDir(dir)
	err := Run(DirectStarter, hs, Spec{Phase: "pre-stop"})
	if err == nil || !strings.Contains(err.Error(), `pre-stop hook "2": exit status 3`) {
		t.Fatalf("err = %v", err)
	}
	data, _ := os.ReadFile(out)
	if string(data) != "1\n" {
		t.Fatalf("ran: %q", data)
	}
}

func TestHangingHookKilledWithItsGroup(t *testing.T) {
	dir := t.TempDir()
	pidfile := filepath.Join(t.TempDir(), "bgpid")
	// The hook starts a background child that keeps the output pipe open and
	// then hangs: both must be gone after the timeout.
	writeHook(t, dir, "hang", "sleep 1000 & echo $! > "+pidfile+"; sleep 1000", 0o755)
	hs, _ := FromDir(dir)
	start := time.Now()
	err := Run(DirectStarter, hs, Spec{Phase: "post-start", Timeout: 300 * time.Millisecond})
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "killed after the 300ms timeout") {
		t.Fatalf("err = %v", err)
	}
	if took > 3*time.Second {
		t.Fatalf("Run took %v after a 300ms timeout", took)
	}
	data, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(string(data))
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil || strings.Contains(string(st), ") Z ") {
			break // gone, or a zombie waiting for the test's reaper
		}
		if time.Now().After(deadline) {
			t.Fatalf("background child %s of the hook survived", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMissingDirAndBadCommand(t *testing.T) {
	hs, err := FromDir(filepath.Join(t.TempDir(), "nope"))
	if err != nil || len(hs) != 0 {
		t.Fatalf("missing dir: %v %v", hs, err)
	}
	err = Run(DirectStarter, []Hook{{Name: "x", Argv: []string{"/nonexistent/hook"}}}, Spec{Phase: "pre-start"})
	if err == nil || !strings.Contains(err.Error(), `pre-start hook "x": start:`) {
		t.Fatalf("err = %v", err)
	}
}
