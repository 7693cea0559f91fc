package guestroot

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuild(t *testing.T) {
	if _, err := os.Stat(Busybox); err != nil {
		t.Skipf("no static busybox at %s (apt-get install busybox-static): %v", Busybox, err)
	}
	dir := t.TempDir()
	if p := os.Getenv("GUESTROOT_BUILD"); p != "" {
		dir = p // by hand: GUESTROOT_BUILD=/tmp/g go test -run TestBuild ./internal/guestroot
	}
	if err := Build(dir, WithHostname("g1"), WithService(HTTPD(8080)), WithService(Ticker(2)),
		WithFile("/etc/motd", "hi\n"), WithFile("/bin/hello", "#!/bin/sh\necho hello\n")); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{
		"etc/hostname": "g1\n", "etc/motd": "hi\n",
	} {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", p, b, err, want)
		}
	}
	for _, p := range []string{"etc/vinit/services/httpd.toml", "etc/vinit/services/ticker.toml", "etc/passwd", "proc", "dev", "sys", "run"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Error(err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "bin/hello")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/hello: %v %v", fi, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "tmp")); err != nil || fi.Mode()&os.ModeSticky == 0 {
		t.Errorf("tmp is not sticky: %v", err)
	}
	// The applets work when run through the guest's own busybox.
	out, err := exec.Command(filepath.Join(dir, "bin/sh"), "-c", "echo ok; hostname >/dev/null").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("guest sh: %q, %v", out, err)
	}
	for _, a := range InitLinks {
		if to, err := os.Readlink(filepath.Join(dir, "sbin", a)); err != nil || to != "/proc/1/exe" {
			t.Errorf("sbin/%s -> %q, %v; want /proc/1/exe", a, to, err)
		}
	}
	// Building again over an existing root is fine.
	if err := Build(dir); err != nil {
		t.Fatal(err)
	}
}
