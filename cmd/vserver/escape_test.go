package main

// Escape attempts from inside real guests started through the launcher, as
// the guest's root (docs/security.md, "Escape tests"). The attempts are
// made by testdata/escapeprobe, copied into the guest and run with
// `vserver NAME exec`; the host side checks that nothing it owns changed.

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/vserver-go/vserver/internal/cgroup"
	"github.com/vserver-go/vserver/internal/monitor"
	"golang.org/x/sys/unix"
)

var (
	escOnce sync.Once
	escBin  string
	escErr  error
)

// escapeProbe builds testdata/escapeprobe as a static binary.
func escapeProbe(t *testing.T) string {
	t.Helper()
	escOnce.Do(func() {
		out := filepath.Join(binDir, "escapeprobe")
		cmd := exec.Command("go", "build", "-o", out, "./testdata/escapeprobe")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			escErr = fmt.Errorf("go build escapeprobe: %v\n%s", err, b)
			return
		}
		escBin = out
	})
	if escErr != nil {
		t.Fatal(escErr)
	}
	return escBin
}

// installProbe copies the probe into the guest root at path with mode.
func installProbe(t *testing.T, root, path string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(escapeProbe(t))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, path)
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, 0, 0); err != nil {
		t.Fatal(err)
	}
	// After the write: chmod keeps the setuid bit that a write would clear.
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// probeJSON runs the probe in the guest through exec and decodes its output.
func (e *env) probeJSON(name string, args ...string) map[string]string {
	e.t.Helper()
	r := e.mustRun(append([]string{name, "exec"}, args...)...)
	var m map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		e.t.Fatalf("probe output: %v\n%s\nstderr: %s", err, r.stdout, r.stderr)
	}
	return m
}

func sha(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func readTrim(p string) string {
	b, _ := os.ReadFile(p)
	return strings.TrimSpace(string(b))
}

// expect checks one probe result against the outcomes that mean "refused".
func expect(t *testing.T, res map[string]string, key string, ok ...string) {
	t.Helper()
	got, present := res[key]
	if !present {
		t.Errorf("%s: the probe did not report it", key)
		return
	}
	for _, w := range ok {
		if got == w || (strings.HasSuffix(w, "*") && strings.HasPrefix(got, strings.TrimSuffix(w, "*"))) {
			return
		}
	}
	t.Errorf("%s: %q; want %s", key, got, strings.Join(ok, " or "))
}

// TestEscapesFromInsideGuest starts a guest through the launcher with
// limits and a bind mount, and tries the known escapes from inside it as
// the guest's root. Each attempt must be refused with the named error or
// see nothing of the host; on the host, nothing the guest could reach may
// have changed.
func TestEscapesFromInsideGuest(t *testing.T) {
	e := newEnv(t)
	installProbe(t, e.root, "bin/escapeprobe", 0o755)
	marker := filepath.Join(e.dir, "host-only-marker")
	if err := os.WriteFile(marker, []byte("host-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	share := filepath.Join(e.dir, "share")
	if err := os.MkdirAll(filepath.Join(share, "m"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(e.root, "opt/hostmnt"), 0o755); err != nil {
		t.Fatal(err)
	}
	e.config(e.name, fmt.Sprintf("[limits]\nprocesses = 64\nmemory = \"256M\"\n[[mount]]\nsource = %q\ntarget = \"/data\"\n", share))

	// A host process whose pid the guest will try to signal and trace.
	sleeper := exec.Command("sleep", "300")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	hostName, _ := os.Hostname()
	vinitSum := sha(t, vinit)

	e.mustRun(e.name, "start")
	st := e.state(e.name)
	g, err := cgroup.Open(monitor.CgroupRel(e.name))
	if err != nil {
		t.Fatal(err)
	}
	pidsFile := limitFile(t, g, e.name, "pids.max", "pids/pids.max")
	memFile := limitFile(t, g, e.name, "memory.max", "memory/memory.limit_in_bytes")
	pidsMax, memMax := readTrim(pidsFile), readTrim(memFile)
	if pidsMax != "64" || memMax != strconv.Itoa(256<<20) {
		t.Fatalf("guest cgroup limits pids.max=%s memory.max=%s; want 64 and 256M", pidsMax, memMax)
	}

	// Host → guest mount propagation: host mounts made after the start,
	// on the bind mount's source and inside the guest root, each holding a
	// file; the guest must see neither.
	for _, dir := range []string{filepath.Join(share, "m"), filepath.Join(e.root, "opt/hostmnt")} {
		if err := unix.Mount("hostprop", dir, "tmpfs", 0, "size=64k"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
		if err := os.WriteFile(filepath.Join(dir, "from-host"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	res := e.probeJSON(e.name, "--", "/bin/escapeprobe", "all", marker,
		strconv.Itoa(sleeper.Process.Pid), strconv.Itoa(os.Getpid()), strconv.Itoa(st.MonitorPID))
	t.Logf("probe results: %v", res)

	t.Run("chroot", func(t *testing.T) {
		expect(t, res, "marker_visible", "ENOENT")
		expect(t, res, "chroot_dotdot", "contained*")
		expect(t, res, "chroot_fchdir", "contained*")
		expect(t, res, "proc1_root", "/")
		expect(t, res, "proc1_cwd", "/")
		expect(t, res, "proc1_root_marker", "ENOENT")
	})
	t.Run("init binary", func(t *testing.T) {
		expect(t, res, "proc1_exe_link", "/memfd:*")
		for _, k := range []string{"proc1_exe_open_write", "proc1_exe_open_rdwr", "proc1_exe_reopen_write"} {
			expect(t, res, k, "ETXTBSY", "EACCES", "EPERM")
		}
		if sha(t, vinit) != vinitSum {
			t.Errorf("the host's vinit %s changed", vinit)
		}
	})
	t.Run("fds", func(t *testing.T) {
		if n, _ := strconv.Atoi(res["fds_checked"]); n < 3 {
			t.Errorf("only %q fds checked; the probe saw too little", res["fds_checked"])
		}
		expect(t, res, "fds_outside", "")
		expect(t, res, "fds_climbed_to_marker", "")
	})
	t.Run("host processes", func(t *testing.T) {
		// The idle guest is vinit and the probe; the cgroup holds vinit
		// once the probe is gone.
		if want := "1 " + res["self"]; res["procs"] != want {
			t.Errorf("guest sees processes %q; want %q (vinit and the probe)", res["procs"], want)
		}
		if cg, err := g.Procs(); err != nil || len(cg) != 1 || cg[0] != st.InitPID {
			t.Errorf("guest cgroup holds %v (%v); want vinit alone", cg, err)
		}
		for _, pid := range []int{sleeper.Process.Pid, os.Getpid(), st.MonitorPID} {
			expect(t, res, "host_pid_"+strconv.Itoa(pid), "stat=ENOENT kill0=ESRCH kill=ESRCH pidfd=ESRCH ptrace=ESRCH",
				"skipped: a guest process has this number")
		}
		if !pidAlive(sleeper.Process.Pid) || !pidAlive(st.MonitorPID) {
			t.Error("a host process died while the guest tried to kill it")
		}
	})
	t.Run("names and time", func(t *testing.T) {
		expect(t, res, "hostname", e.name)
		for _, k := range []string{"sethostname", "setdomainname", "clock_settime", "settimeofday", "adjtimex"} {
			expect(t, res, k, "EPERM")
		}
		if h, _ := os.Hostname(); h != hostName {
			t.Errorf("host name is %q, was %q", h, hostName)
		}
		if r := e.run("", e.name, "exec", "--", "hostname"); strings.TrimSpace(r.stdout) != e.name {
			t.Errorf("guest host name is now %q", r.stdout)
		}
	})
	t.Run("mounts and namespaces", func(t *testing.T) {
		for _, k := range []string{"mount_tmpfs", "remount_root_ro", "remount_sys_rw", "bind_mount", "umount_proc_keys", "umount_proc_sys",
			"make_shared", "pivot_root", "fsopen", "open_tree_clone", "mount_cgroup2", "mount_proc",
			"unshare_user", "unshare_user_mnt", "unshare_mnt", "unshare_pid", "unshare_net", "unshare_uts",
			"unshare_ipc", "unshare_cgroup", "unshare_time", "clone_newuser",
			"setns_mnt", "setns_net", "setns_pid", "setns_uts"} {
			expect(t, res, k, "EPERM")
		}
	})
	t.Run("devices and kernel", func(t *testing.T) {
		for _, k := range []string{"mknod_char", "mknod_block", "init_module", "finit_module", "delete_module",
			"kexec_load", "kexec_file_load", "bpf", "perf_event_open", "open_by_handle_at", "keyctl", "add_key",
			"userfaultfd", "swapon", "acct", "syslog_clear"} {
			expect(t, res, k, "EPERM")
		}
		if _, ok := res["iopl"]; ok {
			expect(t, res, "iopl", "EPERM")
			expect(t, res, "ioperm", "EPERM")
		}
		expect(t, res, "open_kmsg", "EPERM", "EACCES")
	})
	t.Run("proc and sys", func(t *testing.T) {
		for _, k := range []string{"write_proc_sys_hostname", "write_core_pattern", "write_drop_caches",
			"write_sys_power_state"} {
			expect(t, res, k, "EROFS", "EACCES")
		}
		// These exist only in some kernels; where the host has one, the
		// guest's is masked or read-only.
		for k, p := range map[string]string{"write_sysrq_trigger": "/proc/sysrq-trigger",
			"write_sys_uevent_helper": "/sys/kernel/uevent_helper", "mkdir_sys_cgroup": "/sys/fs/cgroup"} {
			if hostHas(p) {
				// kernfs answers a mkdir in a directory without a mkdir
				// operation with ENOENT before the read-only check.
				expect(t, res, k, "EROFS", "EACCES", map[bool]string{true: "ENOENT"}[k == "mkdir_sys_cgroup"])
			} else {
				expect(t, res, k, "ENOENT")
			}
		}
		if hostHas("/proc/kcore") {
			expect(t, res, "read_kcore", "0 bytes")
		} else {
			expect(t, res, "read_kcore", "ENOENT")
		}
		expect(t, res, "read_keys", "0 bytes")
		expect(t, res, "read_timer_list", "0 bytes")
		expect(t, res, "kallsyms", "0 lines, 0 addresses", "*") // checked below
		if !strings.HasSuffix(res["kallsyms"], ", 0 addresses") {
			t.Errorf("/proc/kallsyms shows kernel addresses: %s", res["kallsyms"])
		}
	})
	t.Run("cgroup", func(t *testing.T) {
		// Every hierarchy (v1 ones too on a hybrid host) rooted at the
		// guest's own group, and no cgroup filesystem to write to.
		for _, l := range strings.Split(res["proc_self_cgroup"], "\n") {
			if !strings.HasSuffix(l, ":/") {
				t.Errorf("/proc/self/cgroup line %q: not rooted at the guest's group", l)
			}
		}
		expect(t, res, "sys_fs_cgroup_entries", "0", "ENOENT")
		for _, f := range []string{"pids.max", "memory.max", "cgroup.procs"} {
			expect(t, res, "write_/sys/fs/cgroup/"+f, "ENOENT", "EROFS")
		}
		expect(t, res, "write_/sys/fs/cgroup.procs", "ENOENT", "EROFS")
		if p, m := readTrim(pidsFile), readTrim(memFile); p != pidsMax || m != memMax {
			t.Errorf("limits changed: pids.max %s → %s, memory.max %s → %s", pidsMax, p, memMax, m)
		}
		if !pidAlive(st.InitPID) {
			t.Fatal("vinit died")
		}
		own, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", st.InitPID))
		if !bytes.Contains(own, []byte("/"+monitor.CgroupRel(e.name)+"\n")) {
			t.Errorf("vinit left its cgroup: %s", own)
		}
	})
	t.Run("mount propagation", func(t *testing.T) {
		r := e.run("", e.name, "exec", "--", "sh", "-c", "ls -A /data/m /opt/hostmnt; grep -c hostprop /proc/self/mountinfo; true")
		if r.code != 0 || strings.Contains(r.stdout, "from-host") || !strings.HasSuffix(strings.TrimSpace(r.stdout), "0") {
			t.Errorf("host mounts made after the start are visible in the guest:\n%s", r.stdout)
		}
		// The other way: the guest cannot mount at all (mount_* above);
		// nothing of the guest's is in the host's table.
		mi, _ := os.ReadFile("/proc/self/mountinfo")
		for _, l := range strings.Split(string(mi), "\n") {
			if strings.Contains(l, e.root) && !strings.Contains(l, "/opt/hostmnt") {
				t.Errorf("a mount below the guest root on the host: %s", l)
			}
		}
	})
	t.Run("ptrace inside", func(t *testing.T) {
		// Guest root keeps CAP_SYS_PTRACE (the 2003 set): it may trace its
		// own init and take its fds; that gives it nothing it lacks
		// (vinit runs with the guest's credentials), and what vinit sends
		// the monitor is parsed as hostile anyway (docs/security.md).
		expect(t, res, "ptrace_pid1", "ok")
		expect(t, res, "pidfd_getfd_pid1", "ok")
	})

	e.mustRun(e.name, "stop")
	e.assertGone(e.name)
	if b, err := os.ReadFile(marker); err != nil || string(b) != "host-secret" {
		t.Errorf("marker: %q, %v", b, err)
	}
}

func hostHas(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// limitFile finds where a guest's limit is enforced: the file in its
// cgroup2 group, or on a hybrid host the v1 controller's (v1 is
// "CONTROLLER/FILE" under /sys/fs/cgroup).
func limitFile(t *testing.T, g *cgroup.Group, name, v2, v1 string) string {
	t.Helper()
	p := filepath.Join(g.Path(), v2)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	ctl, file, _ := strings.Cut(v1, "/")
	p = filepath.Join("/sys/fs/cgroup", ctl, monitor.CgroupRel(name), file)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no %s in the guest's cgroup2 group nor %s", v2, p)
	}
	return p
}

// TestSetuidInGuestStaysInBoundingSet runs a setuid-root copy of the probe
// as nobody in the guest: it becomes root, with at most the guest's
// bounding set, and cannot raise anything beyond it.
func TestSetuidInGuestStaysInBoundingSet(t *testing.T) {
	e := newEnv(t)
	installProbe(t, e.root, "bin/suprobe", 0o4755|os.ModeSetuid)
	installProbe(t, e.root, "bin/escapeprobe", 0o755)
	e.config(e.name, "")
	e.mustRun(e.name, "start")
	st := e.state(e.name)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", st.InitPID))
	if err != nil {
		t.Fatal(err)
	}
	bnd := ""
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "CapBnd:"); ok {
			bnd = strings.TrimSpace(v)
		}
	}
	guestSet, err := strconv.ParseUint(bnd, 16, 64)
	if err != nil || guestSet == 0 || guestSet&(1<<21) != 0 {
		t.Fatalf("vinit's bounding set %q: want the guest's (no CAP_SYS_ADMIN)", bnd)
	}

	plain := e.probeJSON(e.name, "--user", "nobody", "--", "/bin/escapeprobe", "caps")
	if plain["CapEff"] != "0000000000000000" || !strings.HasPrefix(plain["Uid"], "65534 65534") {
		t.Errorf("nobody without setuid: uid %q, effective caps %s; want 65534 and none", plain["Uid"], plain["CapEff"])
	}

	res := e.probeJSON(e.name, "--user", "nobody", "--", "/bin/suprobe", "caps")
	t.Logf("setuid probe: %v", res)
	if !strings.HasPrefix(res["Uid"], "65534 0 ") {
		t.Errorf("Uid %q: want real 65534, effective 0 (the setuid bit works, no_new_privs is off by default)", res["Uid"])
	}
	for _, k := range []string{"CapEff", "CapPrm", "CapBnd", "CapEffAfter"} {
		v, err := strconv.ParseUint(res[k], 16, 64)
		if err != nil || v&^guestSet != 0 {
			t.Errorf("%s %s is outside the guest's bounding set %s", k, res[k], bnd)
		}
	}
	if res["CapBnd"] != bnd || res["CapAmb"] != "0000000000000000" {
		t.Errorf("bounding %s ambient %s; want %s and none", res["CapBnd"], res["CapAmb"], bnd)
	}
	for _, k := range []string{"mount_tmpfs", "mknod_char", "unshare_user", "capset_all", "prctl_ambient_raise_sys_admin"} {
		expect(t, res, k, "EPERM")
	}
	expect(t, res, "write_core_pattern", "EROFS", "EACCES")
	e.mustRun(e.name, "stop")
	e.assertGone(e.name)
}

// hostSecretDir is a host directory outside the guest root holding one
// file; untouched reports whether that is still all, and unmounted.
func hostSecretDir(t *testing.T, parent string) (dir string, untouched func() bool) {
	t.Helper()
	dir = filepath.Join(parent, "host-secret")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "marker"), []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, func() bool {
		ents, err := os.ReadDir(dir)
		if err != nil || len(ents) != 1 || ents[0].Name() != "marker" {
			return false
		}
		mi, _ := os.ReadFile("/proc/self/mountinfo")
		return !bytes.Contains(mi, []byte(dir))
	}
}

// replaceWithSymlink removes the guest root's directory rel and puts a
// symlink to target in its place, as a guest's root could before a start.
func replaceWithSymlink(t *testing.T, root, rel, target string) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// TestSymlinkedSystemDirsThroughLauncher: a guest root whose /proc, /dev or
// a bind-mount target was replaced by a symlink to a host directory is
// started with `vserver start`. No host mount may be redirected: /proc and
// the bind target make the start fail and leave nothing behind; /dev,
// resolved inside the root, lands on the root's own directory.
func TestSymlinkedSystemDirsThroughLauncher(t *testing.T) {
	t.Run("proc", func(t *testing.T) {
		e := newEnv(t)
		host, untouched := hostSecretDir(t, e.dir)
		replaceWithSymlink(t, e.root, "proc", host)
		e.config(e.name, "")
		r := e.run("", e.name, "start")
		if r.code == 0 || !strings.Contains(r.stderr, "/proc") {
			t.Errorf("start: exit %d, stderr %q; want a failure naming /proc", r.code, r.stderr)
		}
		if !untouched() {
			t.Errorf("host directory %s was changed or mounted on", host)
		}
		e.assertGone(e.name)
	})
	t.Run("dev", func(t *testing.T) {
		e := newEnv(t)
		host, untouched := hostSecretDir(t, e.dir)
		if err := os.MkdirAll(filepath.Join(e.root, host), 0o755); err != nil {
			t.Fatal(err)
		}
		replaceWithSymlink(t, e.root, "dev", strings.Repeat("../", 30)+strings.TrimPrefix(host, "/"))
		e.config(e.name, "")
		r := e.run("", e.name, "start")
		if r.code == 0 {
			got := e.mustRun(e.name, "exec", "--", "ls", "/dev")
			if !strings.Contains(got.stdout, "null") || !strings.Contains(got.stdout, "pts") {
				t.Errorf("guest /dev through the symlink: %q", got.stdout)
			}
			e.mustRun(e.name, "stop")
		} else {
			t.Logf("start refused: %s", r.stderr)
		}
		if !untouched() {
			t.Errorf("host directory %s was changed or mounted on", host)
		}
		e.assertGone(e.name)
	})
	t.Run("mount target", func(t *testing.T) {
		e := newEnv(t)
		host, untouched := hostSecretDir(t, e.dir)
		if err := os.Symlink(host, filepath.Join(e.root, "data")); err != nil {
			t.Fatal(err)
		}
		src := filepath.Join(e.dir, "src")
		if err := os.Mkdir(src, 0o755); err != nil {
			t.Fatal(err)
		}
		e.config(e.name, fmt.Sprintf("[[mount]]\nsource = %q\ntarget = \"/data/sub\"\n", src))
		r := e.run("", e.name, "start")
		if r.code == 0 || !strings.Contains(r.stderr, "/data/sub") {
			t.Errorf("start: exit %d, stderr %q; want a failure naming the bind target", r.code, r.stderr)
		}
		if !untouched() {
			t.Errorf("host directory %s was changed or mounted on", host)
		}
		e.assertGone(e.name)
	})
	t.Run("mount target itself", func(t *testing.T) {
		// The target is the symlink: resolved in the root, it names the
		// root's own copy of the host path, or fails; never the host's.
		e := newEnv(t)
		host, untouched := hostSecretDir(t, e.dir)
		if err := os.Symlink(host, filepath.Join(e.root, "data")); err != nil {
			t.Fatal(err)
		}
		src := filepath.Join(e.dir, "src")
		if err := os.Mkdir(src, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, "from-src"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		e.config(e.name, fmt.Sprintf("[[mount]]\nsource = %q\ntarget = \"/data\"\n", src))
		r := e.run("", e.name, "start")
		if r.code == 0 {
			got := e.mustRun(e.name, "exec", "--", "ls", "/data/")
			if !strings.Contains(got.stdout, "from-src") {
				t.Errorf("guest /data: %q", got.stdout)
			}
			e.mustRun(e.name, "stop")
		} else {
			t.Logf("start refused: %s", r.stderr)
		}
		if !untouched() {
			t.Errorf("host directory %s was changed or mounted on", host)
		}
		e.assertGone(e.name)
	})
}
