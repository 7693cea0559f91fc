package pid1

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// runSingle runs `vinit ARGS` as PID 1 of a new PID namespace and returns
// its output and wait status.
func runSingle(t *testing.T, args ...string) (string, syscall.WaitStatus) {
	t.Helper()
	needRoot(t)
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = append(os.Environ(), stageEnv+"="+strings.Join(append([]string{vinitBin(t)}, args...), "\x1f"))
	out := &syncBuf{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWPID | unix.CLONE_NEWNS}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("vinit %v still running after 20s:\n%s", args, out.String())
	}
	return out.String(), cmd.ProcessState.Sys().(syscall.WaitStatus)
}

// Service files beside a single command run as sidecars: started with it,
// stopped in order when it ends, never deciding the exit status.
func TestSingleCommandWithSidecars(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	if err := os.MkdirAll(filepath.Join(dir, "services"), 0o755); err != nil {
		t.Fatal(err)
	}
	side := `command = ["sh", "-c", "echo up >> ` + log + `; trap 'echo stopped >> ` + log + `; exit 0' TERM; while :; do sleep 0.05; done"]` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "services", "side.toml"), []byte(side), 0o644); err != nil {
		t.Fatal(err)
	}
	main := `while [ ! -s ` + log + ` ]; do sleep 0.01; done; exit 7`
	start := time.Now()
	out, ws := runSingle(t, "--config", dir, "--", "sh", "-c", main)
	if got := killedBy(ws); got != "exit status 7" {
		t.Fatalf("vinit ended with %s, want the command's exit status 7\n%s", got, out)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("took %v: the sidecar was not stopped promptly", took)
	}
	if got := strings.Join(readLines(t, log), ","); got != "up,stopped" {
		t.Fatalf("sidecar saw %q, want up,stopped", got)
	}
}

// A config dir without services changes nothing (the tini drop-in case).
func TestSingleCommandWithoutServices(t *testing.T) {
	out, ws := runSingle(t, "--config", t.TempDir(), "--", "sh", "-c", "exit 3")
	if got := killedBy(ws); got != "exit status 3" || out != "" {
		t.Fatalf("got %s, output %q", got, out)
	}
}
