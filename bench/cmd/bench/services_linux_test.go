package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseReport(t *testing.T) {
	at := time.Now()
	r := parseReport([]byte("s017 123456789 123456999"), at)
	if r.name != "s017" || r.ns != 123456789 || r.readyNS != 123456999 || !r.at.Equal(at) {
		t.Errorf("helper report parsed as %+v", r)
	}
	r = parseReport([]byte("READY=1\nSTATUS=up"), at)
	if r.name != r.text || r.ns != -1 {
		t.Errorf("notify message parsed as %+v, want the text as name and no stamp", r)
	}
}

func TestDatagramSocket(t *testing.T) {
	s, err := listenDatagram(filepath.Join(t.TempDir(), "d.sock"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sendDatagramTo(s.path, "a 1 2"); err != nil {
		t.Fatal(err)
	}
	r, err := s.next(time.Now().Add(10*time.Second), nil, nil)
	if err != nil || r.name != "a" || r.ns != 1 {
		t.Fatalf("next = %+v, %v", r, err)
	}
	t0 := time.Now()
	if _, err := s.next(time.Now().Add(20*time.Millisecond), nil, nil); err == nil {
		t.Fatal("next without a datagram returned no error")
	} else if time.Since(t0) < 20*time.Millisecond {
		t.Fatalf("next gave up after %v, before its deadline", time.Since(t0))
	}
	ended := make(chan struct{})
	close(ended)
	if _, err := s.next(time.Now().Add(10*time.Second), ended, nil); err == nil {
		t.Fatal("next returned no error though the supervisor ended")
	}
	s.Close()
	select {
	case _, ok := <-s.ch:
		if ok {
			t.Fatal("a datagram after Close")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the receiver did not end after Close")
	}
}

// TestSupervisorsSmall runs three services under every supervisor that is
// installed, as the services section does with 200.
func TestSupervisorsSmall(t *testing.T) {
	e := testEnv(t)
	e.Tmp = t.TempDir()
	svcs := []benchService{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	for _, sup := range supervisors(e) {
		t.Run(sup.Name, func(t *testing.T) {
			if !sup.Available() {
				t.Skip(sup.Missing)
			}
			r, err := startSupervisor(e, sup, svcs)
			if sup.Name == floorSupervisor.Name {
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				if _, _, err := r.waitReports(e, len(svcs), 30*time.Second); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if _, _, err := r.waitReports(e, len(svcs), 30*time.Second); err != nil {
				t.Fatal(err)
			}
			if err := settle(r.p.Pid, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			_, _, procs, err := supervisorMemory(r.p.Pid, r.helper)
			if err != nil {
				t.Fatal(err)
			}
			want := 1.0 // vinit alone
			if sup.Name == "s6-svscan" || sup.Name == "runsvdir" {
				want = float64(1 + len(svcs)) // plus one s6-supervise or runsv each
			}
			if procs != want {
				t.Errorf("%v supervisor processes, want %v (tree %v)", procs, want, tree(r.p.Pid))
			}
			if n := len(tree(r.p.Pid)) - int(procs); n != len(svcs) {
				t.Errorf("%d services run, want %d", n, len(svcs))
			}
			if _, err := r.halt(haltSignal(sup)); err != nil {
				t.Fatal(err)
			}
			if r.notify != nil {
				if d, err := r.p.shutdownDone(); err != nil || d <= 0 {
					t.Errorf("vinit's shutdown time: %v, %v", d, err)
				}
			}
		})
	}
}

func TestVinitChainAndCrash(t *testing.T) {
	e := testEnv(t)
	e.Tmp = t.TempDir()
	sups := supervisors(e)
	if !sups[1].Available() {
		t.Skip(sups[1].Missing)
	}
	chain := []benchService{{Name: "c0"}, {Name: "c1", After: "c0"}, {Name: "c2", After: "c1"}}
	r, err := startSupervisor(e, sups[1], chain)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, reps, err := r.waitReports(e, len(chain), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkChain(chain, reps); err != nil {
		t.Error(err)
	}
	// checkChain fails a chain that was not kept.
	swapped := append([]report{}, reps...)
	swapped[0].readyNS, swapped[1].ns = swapped[1].ns+1, swapped[0].readyNS
	if checkChain(chain, swapped) == nil {
		t.Error("checkChain accepted a service that began before its predecessor was ready")
	}
	r.Close()

	c, err := startSupervisor(e, sups[0], []benchService{{Name: "crash", Crash: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, reps, err = c.waitReportsN(e, 2, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if reps[0].name != "crash" || reps[1].ns <= reps[0].ns {
		t.Errorf("crash reports %+v, want two starts of crash in order", reps)
	}
}

func TestServiceDirsRefuseDependencies(t *testing.T) {
	if _, err := writeServiceDirs(t.TempDir(), "/bin/true", []benchService{{Name: "a"}, {Name: "b", After: "a"}}, true); err == nil {
		t.Error("a dependency was accepted for s6/runit")
	}
	dir := t.TempDir()
	if _, err := writeServiceDirs(dir, "/bin/true", []benchService{{Name: "a"}}, true); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "scan", "a", "notification-fd")); err != nil || string(b) != "3\n" {
		t.Errorf("notification-fd = %q, %v", b, err)
	}
	if l, err := os.Readlink(filepath.Join(dir, "scan", "a", "run")); err != nil || l != "/bin/true" {
		t.Errorf("run -> %q, %v", l, err)
	}
}

// sendDatagramTo sends msg as one datagram to the socket at path, as the
// svc helper does.
func sendDatagramTo(path, msg string) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Sendto(fd, []byte(msg), 0, &unix.SockaddrUnix{Name: path})
}
