package cgroup

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func TestCreateAddKillRemove(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups")
	}
	if _, err := Unified(); err != nil {
		t.Skipf("no cgroup2: %v", err)
	}
	rel := fmt.Sprintf("vserver-test/cg-%d", os.Getpid())
	g, err := Create(rel)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Kill(time.Now().Add(5 * time.Second)); _ = g.Remove() })

	fd, err := g.OpenFD()
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	cmd := exec.Command("/bin/sh", "-c", "sleep 100 & sleep 100")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(fd.Fd())}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids, err := g.Procs()
		if err != nil {
			t.Fatal(err)
		}
		if len(pids) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("want 3 processes in the group, have %v", pids)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if _, err := Create(rel); err == nil {
		t.Fatal("Create of a group with processes in it succeeded")
	}
	if err := g.Kill(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	<-waited
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(g.Path()); !os.IsNotExist(err) {
		t.Fatalf("group dir still there: %v", err)
	}
	_ = os.Remove(g.Path() + "/..") // the vserver-test parent, if empty
}
