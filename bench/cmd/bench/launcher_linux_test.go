package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vserver-go/vserver/internal/guestroot"
)

// TestLauncherSmall starts and stops the busybox guest once under every
// launcher of the launcher section that is installed.
func TestLauncherSmall(t *testing.T) {
	e := testEnv(t)
	e.Tmp = t.TempDir()
	if os.Getenv("VSERVER_BIN") == "" {
		t.Setenv("VSERVER_BIN", filepath.Join(e.ModRoot, "bin/vserver"))
	}
	if !fileExists(os.Getenv("VSERVER_BIN")) {
		t.Skip("no bin/vserver (make build)")
	}
	if _, err := os.Stat(guestroot.Busybox); err != nil {
		t.Skip("no static busybox (busybox-static)")
	}
	l, cleanup, err := newLauncherEnv(e)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	root := filepath.Join(l.dir, "roots", "t")
	if err := guestroot.Build(root, guestroot.WithService(idleService)); err != nil {
		t.Fatal(err)
	}
	name := l.prefix + "t"
	if err := l.writeGuest(name, root, `mode = "none"`, false); err != nil {
		t.Fatal(err)
	}
	check := func(what string, fig []float64, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if len(fig) != 4 || fig[0] <= 0 || fig[1] <= 0 || fig[2] < 100<<10 || fig[3] <= 0 {
			t.Errorf("%s: figures %v, want start, stop > 0 and a plausible RSS and Pss", what, fig)
		}
	}
	fig, err := l.vserverOnce(name)
	check("vserver", fig, err)
	if st, err := l.state(name); err == nil {
		t.Errorf("state file left after stop: %+v", st)
	}
	if p, err := exec.LookPath("unshare"); err == nil {
		fig, err := l.unshareOnce(p)
		check("unshare", fig, err)
	}
	if p, err := exec.LookPath("systemd-nspawn"); err == nil {
		fig, err := l.nspawnOnce(p)
		check("systemd-nspawn", fig, err)
	}
}
