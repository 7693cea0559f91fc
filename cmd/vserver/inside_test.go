package main

import (
	"os"
	"path/filepath"
	"strings"
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
