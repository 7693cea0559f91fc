package conformance

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A1: the init exits with its child's exit status, each status in a run of
// its own (a loop inside one run would test the shell, not the init).
func TestA1ExitStatus(t *testing.T) {
	need(t)
	codes := []int{0, 1, 2, 3, 42, 125, 126, 127, 128, 254, 255}
	if os.Getenv("CONFORMANCE_FULL") == "1" && !testing.Short() {
		codes = codes[:0]
		for n := 0; n <= 255; n++ {
			codes = append(codes, n)
		}
	}
	for _, n := range codes {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			r := start(t, runConfig{cmd: []string{"/bin/sh", "-c", "exit " + strconv.Itoa(n)}})
			r.expectExit(n, 10*time.Second)
		})
	}
}

// A2: a child killed by a signal makes the init exit 128+signo. The child
// kills itself (selfkill), not through a shell, whose behaviour varies.
func TestA2KilledBySignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGKILL} {
		t.Run(strings.TrimPrefix(sigName(sig), "SIG"), func(t *testing.T) {
			r := start(t, runConfig{cmd: []string{helper("selfkill"), strconv.Itoa(int(sig))}})
			r.expectExit(128+int(sig), 10*time.Second)
		})
	}
}

// A3: an exit-code remap rule 143→0 turns a child killed by SIGTERM into
// exit 0 and leaves other codes alone.
func TestA3Remap(t *testing.T) {
	remap := options{remap: [][2]int{{143, 0}}}
	t.Run("143to0", func(t *testing.T) {
		r := start(t, runConfig{options: remap, cmd: []string{helper("selfkill"), "TERM"}})
		r.expectExit(0, 10*time.Second)
	})
	t.Run("others-unchanged", func(t *testing.T) {
		r := start(t, runConfig{options: remap, cmd: []string{"/bin/sh", "-c", "exit 3"}})
		r.expectExit(3, 10*time.Second)
	})
}

// A4: a command that cannot be executed: 127 when it does not exist, 126
// when it is not executable, like a shell, with a message naming the path.
func TestA4BadExec(t *testing.T) {
	need(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	notExec := filepath.Join(dir, "not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\nexit 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		path string
		code int
	}{
		{"not-found", filepath.Join(dir, "does-not-exist"), 127},
		{"not-executable", notExec, 126},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := start(t, runConfig{cmd: []string{c.path}})
			r.expectExit(c.code, 10*time.Second)
			if msg := r.stderrText(5 * time.Second); !strings.Contains(msg, c.path) {
				t.Errorf("stderr does not name %s: %q", c.path, msg)
			}
		})
	}
}

// A5: exit status 127 of a real child is reported promptly (catatonit #5
// hung on exactly this), also when an orphan dies in the same instant.
func TestA5Exit127(t *testing.T) {
	for _, c := range []struct{ name, script string }{
		{"plain", "exit 127"},
		{"with-orphan", "/bin/sh -c 'exec sleep 0.01' & exit 127"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := start(t, runConfig{cmd: []string{"/bin/sh", "-c", c.script}, deadline: 10 * time.Second})
			r.expectExit(127, 8*time.Second)
		})
	}
}

func sigName(s syscall.Signal) string {
	if n := unixSignalName(s); n != "" {
		return n
	}
	return "SIG" + strconv.Itoa(int(s))
}
