package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vserver-go/vserver/internal/guestroot"
)

// The guest's own admin reboots it with /sbin/reboot (the guest's PID 1,
// reached through /proc/1/exe): the monitor starts it again from scratch,
// with a new PID namespace and the host hooks run with reason reboot.
func TestRebootFromInside(t *testing.T) {
	e := newEnv(t)
	name := e.newGuest(t, guestroot.WithService(guestroot.Service{Name: "reboot-once", TOML: `
restart = "never"
command = ["/bin/sh", "-c", "[ -e /var/rebooted ] && exec sleep 1000; touch /var/rebooted; sleep 0.2; exec /sbin/reboot"]
`}))
	e.config(name, e.hookConfig())
	e.mustRun(name, "start")
	first := e.state(name).InitPID
	waitFor(t, 20*time.Second, "the guest to come back from its own reboot", func() bool {
		st := e.state(name)
		return st != nil && st.Boots == 2 && st.Phase == "running" && st.InitPID != first
	})
	if pidAlive(first) {
		t.Error("the first vinit is still alive")
	}
	if _, err := os.Stat(filepath.Join(e.rootOf(name), "var/rebooted")); err != nil {
		t.Fatalf("the service did not run: %v", err)
	}
	e.mustRun(name, "stop")
	e.assertGone(name)
	got := strings.Join(e.traceLines(), " ")
	n := name
	if !strings.Contains(got, "post-stop/reboot/"+n+" pre-start/reboot/"+n+" post-start/reboot/"+n) {
		t.Errorf("hooks around the reboot from inside: %s", got)
	}
}

// /sbin/halt inside stops the guest for good; post-stop runs with halt.
func TestHaltFromInside(t *testing.T) {
	e := newEnv(t)
	name := e.newGuest(t, guestroot.WithService(guestroot.Service{Name: "halt", TOML: `
restart = "never"
command = ["/bin/sh", "-c", "sleep 0.2; exec /sbin/halt"]
`}))
	e.config(name, e.hookConfig())
	e.mustRun(name, "start")
	st := e.state(name)
	waitFor(t, 20*time.Second, "the guest to halt itself", func() bool {
		return !pidAlive(st.InitPID) && !pidAlive(st.MonitorPID)
	})
	e.assertGone(name)
	got := e.traceLines()
	if len(got) == 0 || got[len(got)-1] != "post-stop/halt/"+name {
		t.Errorf("hooks: %v", got)
	}
}

// [[mount]]: host directories appear in the guest, read-write or read-only
// as configured.
func TestMountsFromConfig(t *testing.T) {
	e := newEnv(t)
	rw, ro := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(ro, "motd"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.config(e.name, `
[[mount]]
source = "`+rw+`"
target = "/srv/data"

[[mount]]
source = "`+ro+`"
target = "/etc/host"
readonly = true
`)
	e.mustRun(e.name, "start")
	defer e.mustRun(e.name, "stop")
	if r := e.run("", e.name, "exec", "--", "/bin/sh", "-c", "echo guest > /srv/data/f && cat /etc/host/motd"); r.code != 0 || r.stdout != "from the host\n" {
		t.Fatalf("exec: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if b, err := os.ReadFile(filepath.Join(rw, "f")); err != nil || string(b) != "guest\n" {
		t.Fatalf("write through the read-write mount: %q %v", b, err)
	}
	if r := e.run("", e.name, "exec", "--", "/bin/sh", "-c", "echo x > /etc/host/new"); r.code == 0 {
		t.Fatal("wrote into a read-only mount")
	}
	if _, err := os.Stat(filepath.Join(ro, "new")); err == nil {
		t.Fatal("the read-only mount's host directory changed")
	}
}

// A guest that planted a symlink at a mount target, pointing at a host
// directory, does not get that host directory mounted over: the start is
// refused with the reason, nothing is left behind, the host is untouched.
func TestMountTargetSymlinkRefused(t *testing.T) {
	e := newEnv(t)
	src, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(e.rootOf(e.name), "var/evil")); err != nil {
		t.Fatal(err)
	}
	e.config(e.name, `
[[mount]]
source = "`+src+`"
target = "/var/evil"
`)
	r := e.run("", e.name, "start")
	if r.code == 0 {
		e.mustRun(e.name, "stop")
		t.Fatal("a guest with a symlinked mount target started")
	}
	if !strings.Contains(r.stderr, "/var/evil is a symlink") {
		t.Errorf("the refusal does not say why: %q", r.stderr)
	}
	e.assertGone(e.name)
	if ents, err := os.ReadDir(outside); err != nil || len(ents) != 0 {
		t.Fatalf("the host directory the symlink named changed: %v %v", ents, err)
	}
	var st1, st2 syscall.Stat_t
	if err := syscall.Stat(outside, &st1); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(filepath.Dir(outside), &st2); err != nil {
		t.Fatal(err)
	}
	if st1.Dev != st2.Dev {
		t.Fatal("something is mounted on the host directory the guest's symlink named")
	}
}

// A guest that reboots itself before it is ready (a oneshot that runs
// /sbin/reboot during boot, twice in a row) is rebooted like any other
// time, and `vserver start` returns once a boot is ready.
func TestRebootBeforeReady(t *testing.T) {
	e := newEnv(t)
	name := e.newGuest(t, guestroot.WithService(guestroot.Service{Name: "early-reboot", TOML: `
type = "oneshot"
command = ["/bin/sh", "-c", "n=$(cat /var/boots 2>/dev/null || echo 0); echo $((n+1)) > /var/boots; [ $n -ge 2 ] && exit 0; exec /sbin/reboot"]
`}))
	e.config(name, e.hookConfig())
	e.mustRun(name, "start")
	st := e.state(name)
	if st == nil || st.Boots != 3 || st.Phase != "running" {
		t.Fatalf("after two reboots before ready: %+v", st)
	}
	if b, _ := os.ReadFile(filepath.Join(e.rootOf(name), "var/boots")); strings.TrimSpace(string(b)) != "3" {
		t.Fatalf("boots counted in the guest: %q", b)
	}
	e.mustRun(name, "stop")
	e.assertGone(name)
	got := strings.Join(e.traceLines(), " ")
	if !strings.Contains(got, "pre-start/boot/"+name+" post-stop/reboot/"+name+" pre-start/reboot/"+name+" post-stop/reboot/"+name+" pre-start/reboot/"+name+" post-start/reboot/"+name) {
		t.Errorf("hooks: %s", got)
	}
}
