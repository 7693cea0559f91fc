// Package guestroot builds a minimal guest root directory: a static busybox
// with its applets, the few files of /etc a shell and ps expect, and vinit
// service files. Tests and the demo start real guests from it. vinit itself
// is not copied in: the launcher executes the host's copy.
package guestroot

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// Busybox is where the static busybox is taken from (Debian's
// busybox-static installs it there).
var Busybox = "/bin/busybox"

// Applets are linked to busybox in /bin.
var Applets = []string{
	"sh", "ash", "ls", "ps", "cat", "echo", "sleep", "hostname", "domainname", "mkdir", "rm", "cp", "mv",
	"ln", "kill", "killall", "pkill", "pgrep", "id", "env", "date", "uname", "mount", "umount", "top", "free", "grep",
	"sed", "awk", "head", "tail", "wc", "true", "false", "touch", "chmod", "chown", "stat", "df", "du",
	"httpd", "wget", "nc", "ip", "ifconfig", "netstat", "ping", "vi", "less", "more", "dmesg", "tr",
	"seq", "setsid", "nohup", "yes", "test", "[", "printf", "whoami", "xargs", "find", "sync", "nproc", "pidof", "timeout",
}

// Service is one vinit service file, /etc/vinit/services/NAME.toml.
type Service struct {
	Name string
	TOML string
}

// HTTPD is a busybox web server on 0.0.0.0:port serving /var/www.
func HTTPD(port int) Service {
	return Service{Name: "httpd", TOML: fmt.Sprintf(`description = "busybox web server"
command = "/bin/httpd -f -p 0.0.0.0:%d -h /var/www"
restart = "always"
`, port)}
}

// Ticker writes a line to the console every few seconds.
func Ticker(every int) Service {
	return Service{Name: "ticker", TOML: fmt.Sprintf(`description = "writes the time to the console"
command = ["/bin/sh", "-c", "while :; do echo \"tick $(date +%%T) on $(hostname)\"; sleep %d; done"]
restart = "always"
`, every)}
}

type options struct {
	hostname string
	services []Service
	files    map[string]string
}

// Option changes what Build writes.
type Option func(*options)

// WithHostname sets /etc/hostname (default "guest").
func WithHostname(h string) Option { return func(o *options) { o.hostname = h } }

// WithService adds a vinit service file.
func WithService(s Service) Option { return func(o *options) { o.services = append(o.services, s) } }

// WithFile writes a file (path inside the guest → content, mode 0755 when
// the path is under /bin, /sbin or /etc/vinit/hooks, else 0644).
func WithFile(path, content string) Option {
	return func(o *options) { o.files[path] = content }
}

// InitLinks are the commands in /sbin that run the guest's own vinit.
var InitLinks = []string{"vinit", "reboot", "halt", "poweroff", "shutdown"}

// Build creates a guest root in dir (which may exist and be empty).
func Build(dir string, opts ...Option) error {
	o := options{hostname: "guest", files: map[string]string{}}
	for _, f := range opts {
		f(&o)
	}
	for _, d := range []string{"bin", "sbin", "etc/vinit/services", "proc", "dev", "sys", "run", "tmp",
		"root", "var/www", "var/log", "home", "usr/bin", "usr/sbin"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return fmt.Errorf("build guest root: %w", err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), os.ModeSticky|0o777); err != nil {
		return fmt.Errorf("build guest root: %w", err)
	}
	if err := copyFile(Busybox, filepath.Join(dir, "bin/busybox"), 0o755); err != nil {
		return fmt.Errorf("build guest root: copy busybox: %w", err)
	}
	for _, a := range Applets {
		p := filepath.Join(dir, "bin", a)
		if _, err := os.Lstat(p); err == nil {
			continue
		}
		if err := os.Symlink("busybox", p); err != nil {
			return fmt.Errorf("build guest root: %w", err)
		}
	}
	// vinit and its reboot, halt and poweroff links are the guest's PID 1
	// itself: the host's vinit, executed from a sealed copy. Nothing of
	// vinit is copied into the guest.
	for _, a := range InitLinks {
		p := filepath.Join(dir, "sbin", a)
		if _, err := os.Lstat(p); err == nil {
			continue
		}
		if err := os.Symlink("/proc/1/exe", p); err != nil {
			return fmt.Errorf("build guest root: %w", err)
		}
	}
	files := map[string]string{
		"etc/passwd":         "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":          "root:x:0:\nnogroup:x:65534:\n",
		"etc/hostname":       o.hostname + "\n",
		"etc/hosts":          "127.0.0.1 localhost\n::1 localhost\n",
		"var/www/index.html": "<h1>hello from " + o.hostname + "</h1>\n",
	}
	for _, s := range o.services {
		files["etc/vinit/services/"+s.Name+".toml"] = s.TOML
	}
	for p, c := range o.files {
		files[filepath.Clean("/" + p)[1:]] = c
	}
	names := make([]string, 0, len(files))
	for p := range files {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		mode := os.FileMode(0o644)
		for _, pre := range []string{"bin/", "sbin/", "etc/vinit/hooks/", "usr/bin/", "usr/sbin/"} {
			if len(p) > len(pre) && p[:len(pre)] == pre {
				mode = 0o755
			}
		}
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return fmt.Errorf("build guest root: %w", err)
		}
		if err := os.WriteFile(full, []byte(files[p]), mode); err != nil {
			return fmt.Errorf("build guest root: %w", err)
		}
		if err := os.Chmod(full, mode); err != nil {
			return fmt.Errorf("build guest root: %w", err)
		}
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
