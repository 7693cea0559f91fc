package cgroup

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestApplyLimitsAndEnterThread(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups")
	}
	if _, err := Unified(); err != nil {
		t.Skip(err)
	}
	rel := fmt.Sprintf("vserver-test/limits-%d", os.Getpid())
	g, err := Create(rel)
	if err != nil {
		t.Fatal(err)
	}
	var v *V1
	t.Cleanup(func() {
		_ = g.Kill(time.Now().Add(5 * time.Second))
		if v != nil {
			_ = v.Remove(time.Now().Add(5 * time.Second))
		}
		_ = g.Remove()
		_ = OpenV1("vserver-test").Remove(time.Now().Add(time.Second))
		_ = os.Remove(filepath.Dir(g.Path()))
	})
	v, err = Apply(g, rel, Limits{Pids: 7, Memory: 64 << 20, CPUPercent: 50})
	if err != nil {
		t.Fatal(err)
	}
	pidsMax := filepath.Join(g.Path(), "pids.max")
	if d := v.dirs["pids"]; d != "" {
		pidsMax = filepath.Join(d, "pids.max")
	}
	if b, err := os.ReadFile(pidsMax); err != nil || strings.TrimSpace(string(b)) != "7" {
		t.Fatalf("pids.max = %q, %v", b, err)
	}

	// Start a child from a thread moved into the v1 groups.
	cmd := exec.Command("/bin/sleep", "30")
	fd, err := g.OpenFD()
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(fd.Fd())}
	runtime.LockOSThread()
	leave, err := v.EnterThread()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	err = cmd.Start()
	lerr := leave()
	runtime.UnlockOSThread()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	if lerr != nil {
		t.Fatal(lerr)
	}
	for c, d := range v.dirs {
		b, err := os.ReadFile(filepath.Join(d, "tasks"))
		if err != nil {
			t.Fatal(err)
		}
		tasks := strings.Fields(string(b))
		// Only the child: every thread of ours went back.
		if len(tasks) != 1 || tasks[0] != fmt.Sprint(cmd.Process.Pid) {
			t.Errorf("%s: tasks of %s = %v, want only the child %d", c, d, tasks, cmd.Process.Pid)
		}
	}
	st := ReadStats(g, v)
	if st.Procs != 1 || st.Memory < 0 || st.CPU < 0 {
		t.Errorf("stats %+v", st)
	}
}
