package isolation

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vserver-go/vserver/internal/cgroup"
)

func TestMain(m *testing.M) {
	if Reexec() {
		return
	}
	if os.Getenv(probeEnv) == "1" {
		os.Exit(probe())
	}
	os.Exit(m.Run())
}

const guestTimeout = 20 * time.Second

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates namespaces, mounts and cgroups")
	}
}

// busyboxApplets are linked into the test guest's /bin.
var busyboxApplets = []string{"sh", "ls", "cat", "echo", "ps", "mount", "umount", "mknod", "hostname",
	"sleep", "grep", "mkdir", "touch", "test", "[", "stat", "readlink", "id", "wc", "usleep", "dd"}

// makeRoot builds a minimal guest root with static busybox and returns it.
func makeRoot(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "guest")
	for _, d := range []string{"bin", "etc", "tmp", "mnt", "root"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skipf("needs static busybox (Debian busybox-static): %v", err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range busyboxApplets {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// testCgroup creates a cgroup for one test and returns its open fd; the
// cleanup kills whatever is left in it and removes it.
func testCgroup(t *testing.T) (*cgroup.Group, *os.File) {
	t.Helper()
	if _, err := cgroup.Unified(); err != nil {
		t.Skipf("needs cgroup2: %v", err)
	}
	name := strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
	g, err := cgroup.Create(fmt.Sprintf("vserver-test/isolation-%d-%s", os.Getpid(), name))
	if err != nil {
		t.Fatal(err)
	}
	f, err := g.OpenFD()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		if err := g.Kill(time.Now().Add(5 * time.Second)); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if err := g.Remove(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return g, f
}

// testBinary returns this test binary, which must be static to run as
// the probe inside a guest root without a dynamic loader.
func testBinary(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Skip("the test binary is dynamically linked; run with CGO_ENABLED=0 so it can be the probe")
		}
	}
	return exe
}

// guestRun is one finished guest.
type guestRun struct {
	Stdout, Stderr string
	State          *os.ProcessState
}

// runGuest starts spec (stdout and stderr captured; a cgroup created when
// spec.CgroupFD is 0), waits until the guest's PID 1 has exited, and
// returns what it wrote. The guest is killed at the deadline or when the
// test ends.
func runGuest(t *testing.T, spec *Spec) (*guestRun, error) {
	t.Helper()
	g, err := startGuest(t, spec)
	if err != nil {
		return nil, err
	}
	r, err := g.wait()
	if err != nil {
		t.Fatal(err)
	}
	return r, nil
}

// runningGuest is a started guest whose output is being collected.
type runningGuest struct {
	proc       *os.Process
	outR, errR *os.File
}

// startGuest starts spec with stdout and stderr on pipes; it must run on the
// test's goroutine. The guest is killed when the test ends.
func startGuest(t *testing.T, spec *Spec) (*runningGuest, error) {
	t.Helper()
	if spec.CgroupFD == 0 {
		_, f := testCgroup(t)
		spec.CgroupFD = int(f.Fd())
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { outR.Close(); errR.Close() })
	spec.Stdio = [3]*os.File{nil, outW, errW}
	proc, err := Start(spec)
	outW.Close()
	errW.Close()
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = proc.Kill(); _, _ = proc.Wait() })
	return &runningGuest{proc: proc, outR: outR, errR: errR}, nil
}

// wait collects the guest's output until its PID 1 ends, or kills it at
// the deadline. It may run on any goroutine.
func (g *runningGuest) wait() (*guestRun, error) {
	deadline := time.Now().Add(guestTimeout)
	_ = g.outR.SetReadDeadline(deadline)
	_ = g.errR.SetReadDeadline(deadline)
	var stderr bytes.Buffer
	done := make(chan struct{})
	go func() { _, _ = io.Copy(&stderr, g.errR); close(done) }()
	stdout, rerr := io.ReadAll(g.outR)
	<-done
	if rerr != nil {
		_ = g.proc.Kill()
		return nil, fmt.Errorf("guest did not finish within %v: %w; stderr: %s", guestTimeout, rerr, stderr.String())
	}
	st, err := g.proc.Wait()
	if err != nil {
		return nil, err
	}
	return &guestRun{Stdout: string(stdout), Stderr: stderr.String(), State: st}, nil
}

// runProbe runs the probe as the guest's init and decodes what it saw.
func runProbe(t *testing.T, spec *Spec) *observation {
	t.Helper()
	spec.InitPath = testBinary(t)
	spec.InitArgs = []string{"vinit"}
	spec.Env = append(spec.Env, probeEnv+"=1")
	r, err := runGuest(t, spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	var o observation
	if err := json.Unmarshal([]byte(r.Stdout), &o); err != nil {
		t.Fatalf("probe output: %v\nstdout: %s\nstderr: %s\nstatus: %v", err, r.Stdout, r.Stderr, r.State)
	}
	return &o
}
