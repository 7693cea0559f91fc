package isolation

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// wantDev is the whole guest /dev as the probe lists it.
var wantDev = []string{
	"console c 1:3", "fd -> /proc/self/fd", "full c 1:7", "null c 1:3", "ptmx -> pts/ptmx", "pts/",
	"random c 1:8", "shm/", "stderr -> /proc/self/fd/2", "stdin -> /proc/self/fd/0",
	"stdout -> /proc/self/fd/1", "tty c 5:0", "urandom c 1:9", "zero c 1:5",
}

func capHex(t *testing.T, names []string) string {
	t.Helper()
	m, err := capMask(names)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%016x", m)
}

func fileSum(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestGuestContext starts the probe as a guest's PID 1 with the default
// policy and checks what it sees from inside.
func TestGuestContext(t *testing.T) {
	needRoot(t)
	root := makeRoot(t)
	hostOnly := filepath.Join(t.TempDir(), "host-only-marker")
	if err := os.WriteFile(hostOnly, []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	extra, err := os.CreateTemp(t.TempDir(), "extra")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := extra.WriteString("extra-data"); err != nil {
		t.Fatal(err)
	}
	if _, err := extra.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	// A host fd without close-on-exec, as a launcher may have inherited
	// one: it must not reach the guest.
	leak, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(leak) })
	initSum := fileSum(t, testBinary(t))

	o := runProbe(t, &Spec{
		Name: "ctx", Root: root, Hostname: "guest1", Domainname: "example.test",
		Caps: DefaultCaps(), Seccomp: true, ExtraFiles: []*os.File{extra},
		Env: []string{"PROBE_ESCAPE_MARKER=" + hostOnly},
	})

	if o.Pid != 1 || !slices.Equal(o.Procs, []int{1}) {
		t.Errorf("pid namespace: pid %d, processes %v; want pid 1 alone", o.Pid, o.Procs)
	}
	if o.Hostname != "guest1" || o.Domainname != "example.test" {
		t.Errorf("uts: %q %q", o.Hostname, o.Domainname)
	}
	want := capHex(t, DefaultCaps())
	if o.CapBnd != want || o.CapEff != want || o.CapPrm != want {
		t.Errorf("caps: bnd %s eff %s prm %s; want %s", o.CapBnd, o.CapEff, o.CapPrm, want)
	}
	if o.CapInh != "0000000000000000" || o.CapAmb != "0000000000000000" {
		t.Errorf("caps: inheritable %s ambient %s; want none", o.CapInh, o.CapAmb)
	}
	if !slices.Equal(o.FDs, []int{0, 1, 2, 3}) || o.Extra != "extra-data" {
		t.Errorf("fds %v (extra %q); want 0-2 and the one extra file at 3", o.FDs, o.Extra)
	}
	if o.Cwd != "/" {
		t.Errorf("cwd %q", o.Cwd)
	}
	if !strings.HasPrefix(o.Exe, "/memfd:") || o.ExeOpenWrite == "ok" || strings.HasSuffix(o.ExeOpenWrite, "write: ok") {
		t.Errorf("/proc/1/exe is %q and writing it gave %q; want a sealed memfd", o.Exe, o.ExeOpenWrite)
	}
	if fileSum(t, testBinary(t)) != initSum {
		t.Error("the host's init binary changed")
	}
	if !slices.Equal(o.Dev, wantDev) {
		t.Errorf("/dev:\n%s\nwant:\n%s", strings.Join(o.Dev, "\n"), strings.Join(wantDev, "\n"))
	}
	if o.Mknod != "EPERM" || o.Mount != "EPERM" {
		t.Errorf("mknod: %s, mount: %s; want EPERM", o.Mknod, o.Mount)
	}
	if o.ProcSysWrite != "EROFS" || o.SysMkdir != "EROFS" || !o.SysReadOnly {
		t.Errorf("write /proc/sys: %s, mkdir in /sys: %s, /sys read-only: %v", o.ProcSysWrite, o.SysMkdir, o.SysReadOnly)
	}
	for _, name := range procMasked {
		if _, err := os.Stat("/proc/" + name); err != nil {
			continue // not in this kernel
		}
		if !strings.Contains(o.Mountinfo, " /proc/"+name+" ro,") {
			t.Errorf("/proc/%s is not masked:\n%s", name, o.Mountinfo)
		}
	}
	for _, name := range append(procEmptied, procReadOnly...) {
		if _, err := os.Stat("/proc/" + name); err == nil && !strings.Contains(o.Mountinfo, " /proc/"+name+" ro,") {
			t.Errorf("/proc/%s is not read-only:\n%s", name, o.Mountinfo)
		}
	}
	if o.Keys != "0 bytes" {
		t.Errorf("/proc/keys: %s", o.Keys)
	}
	if !slices.Contains(strings.Split(o.Cgroup, "\n"), "0::/") {
		t.Errorf("cgroup namespace not rooted at the guest's cgroup: %q", o.Cgroup)
	}
	if o.Seccomp != "2" {
		t.Errorf("seccomp mode %q", o.Seccomp)
	}
	if !strings.HasPrefix(o.EscapeResult, "contained in / ") {
		t.Errorf("chroot escape: %s", o.EscapeResult)
	}
	if strings.Contains(o.Mountinfo, " /proc/1/") || strings.Count(o.Mountinfo, " / / ") > 1 {
		t.Errorf("unexpected mounts:\n%s", o.Mountinfo)
	}
}

func TestSeccompDeniesDangerousSyscalls(t *testing.T) {
	needRoot(t)
	o := runProbe(t, &Spec{Name: "sc", Root: makeRoot(t), Caps: DefaultCaps(), Seccomp: true, Env: []string{"PROBE_KEXEC=1"}})
	for name, got := range map[string]string{
		"kexec_load": o.Kexec, "bpf": o.Bpf, "keyctl": o.Keyctl, "perf_event_open": o.Perf,
		"userfaultfd": o.Userfaultfd, "init_module": o.InitModule, "open_by_handle_at": o.OpenByHandle,
		"unshare(CLONE_NEWUSER)": o.UnshareUser,
	} {
		if got != "EPERM" {
			t.Errorf("%s: %s; want EPERM", name, got)
		}
	}
	if o.Clone3 != "ENOSYS" {
		t.Errorf("clone3: %s; want ENOSYS (so libc falls back to clone)", o.Clone3)
	}
}

// TestSeccompOffControl shows that the refusals above come from the
// filter: without it, keyctl, userfaultfd and user namespaces work for the
// guest's root with the default capabilities.
func TestSeccompOffControl(t *testing.T) {
	needRoot(t)
	o := runProbe(t, &Spec{Name: "nosc", Root: makeRoot(t), Caps: DefaultCaps()})
	if o.Seccomp != "0" {
		t.Errorf("seccomp mode %q; want 0", o.Seccomp)
	}
	if o.Keyctl == "EPERM" || o.Userfaultfd == "EPERM" || o.UnshareUser == "EPERM" {
		t.Errorf("without the filter: keyctl %s, userfaultfd %s, unshare %s; want them to work", o.Keyctl, o.Userfaultfd, o.UnshareUser)
	}
}

func TestCustomCapsAndNoNewPrivs(t *testing.T) {
	needRoot(t)
	caps := []string{"chown", "CAP_KILL", "sys_admin"}
	o := runProbe(t, &Spec{Name: "caps", Root: makeRoot(t), Caps: caps, NoNewPrivs: true, Seccomp: true})
	if want := capHex(t, caps); o.CapBnd != want || o.CapEff != want {
		t.Errorf("bounding %s effective %s; want %s", o.CapBnd, o.CapEff, want)
	}
	if o.NoNewPrivs != "1" {
		t.Errorf("NoNewPrivs %q", o.NoNewPrivs)
	}
	if o.Mount != "ok" {
		t.Errorf("mount with CAP_SYS_ADMIN kept: %s", o.Mount)
	}
}

func TestNewNetwork(t *testing.T) {
	needRoot(t)
	o := runProbe(t, &Spec{Name: "net", Root: makeRoot(t), NewNet: true})
	if !slices.Equal(o.NetDevs, []string{"lo"}) {
		t.Errorf("interfaces %v; want only lo", o.NetDevs)
	}
}

// TestLoginuidReset starts a guest from a thread that carries an admin's
// audit login id; the guest's PID 1 must have it unset.
func TestLoginuidReset(t *testing.T) {
	needRoot(t)
	root := makeRoot(t)
	// Only this thread's login id changes (it is per task), and the
	// thread is never unlocked: the runtime ends it with this goroutine.
	runtime.LockOSThread()
	if err := os.WriteFile("/proc/thread-self/loginuid", []byte("1000"), 0); err != nil {
		t.Skipf("cannot set own audit login id: %v", err)
	}
	if b, _ := os.ReadFile("/proc/thread-self/loginuid"); string(b) != "1000" {
		t.Fatalf("own login id is %q after setting 1000", b)
	}
	// os.StartProcess forks on the calling, locked thread.
	o := runProbe(t, &Spec{Name: "luid", Root: root})
	if o.Loginuid != "4294967295" {
		t.Errorf("guest login id %q; want unset (4294967295)", o.Loginuid)
	}
}

// TestBusyboxGuest runs a real shell as PID 1 with limits and nice.
func TestBusyboxGuest(t *testing.T) {
	needRoot(t)
	root := makeRoot(t)
	if err := os.Symlink("busybox", filepath.Join(root, "bin/cut")); err != nil {
		t.Fatal(err)
	}
	script := `echo pid=$$; echo host=$(hostname); echo nofile=$(ulimit -n):$(ulimit -Hn)
echo nice=$(cut -d' ' -f19 /proc/self/stat)
sleep 60 & ls /proc > /tmp/procs; echo procs=$(grep -c '^[0-9]' /tmp/procs)
mount -t tmpfs none /mnt 2>/dev/null && echo mount=ok || echo mount=refused
echo x > /proc/sys/kernel/hostname 2>/dev/null && echo procsys=written || echo procsys=refused
echo run=$(grep ' /run ' /proc/mounts | cut -d' ' -f3) && touch /run/x && echo run-writable
`
	hostFile := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(hostFile, []byte("nameserver 127.0.0.53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hostDir := t.TempDir()
	script += `
cat /etc/resolv.conf; echo y >> /etc/resolv.conf 2>/dev/null && echo ro-file=written || echo ro-file=refused
echo from-guest > /srv/data/new && echo rw-dir=written
exit 7`
	r, err := runGuest(t, &Spec{
		Name: "bb", Root: root, Hostname: "bbguest", InitPath: "/bin/busybox",
		InitArgs: []string{"sh", "-c", script}, Caps: DefaultCaps(), Seccomp: true,
		Rlimits: map[string][2]uint64{"nofile": {64, 128}, "RLIMIT_CORE": {0, 0}}, Nice: 5,
		Mounts: []Mount{{Source: hostFile, Target: "/etc/resolv.conf", ReadOnly: true}, {Source: hostDir, Target: "/srv/data"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// sh, sleep and ls: nothing of the host's.
	want := "pid=1\nhost=bbguest\nnofile=64:128\nnice=5\nprocs=3\nmount=refused\nprocsys=refused\nrun=tmpfs\nrun-writable\n" +
		"nameserver 127.0.0.53\nro-file=refused\nrw-dir=written\n"
	if r.Stdout != want {
		t.Errorf("guest said:\n%s\nwant:\n%s\nstderr: %s", r.Stdout, want, r.Stderr)
	}
	if r.State.ExitCode() != 7 {
		t.Errorf("guest PID 1 ended with %v; want exit 7", r.State)
	}
	if b, err := os.ReadFile(filepath.Join(hostDir, "new")); err != nil || string(b) != "from-guest\n" {
		t.Errorf("file written through the read-write bind: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(root, "srv/data")); err != nil {
		t.Errorf("missing mount target was not created in the guest root: %v", err)
	}
}

// hostDirWithMarker is a host directory outside every guest root, with one
// file in it; untouched reports whether it still holds only that file.
func hostDirWithMarker(t *testing.T) (dir string, untouched func() bool) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "host-secret")
	if err := os.Mkdir(dir, 0o755); err != nil {
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

// TestSymlinkedProcIsRefused: the guest root's /proc is a symlink to a host
// directory. Nothing may be mounted or created there; the setup fails and
// says which step.
func TestSymlinkedProcIsRefused(t *testing.T) {
	needRoot(t)
	root := makeRoot(t)
	host, untouched := hostDirWithMarker(t)
	if err := os.Symlink(host, filepath.Join(root, "proc")); err != nil {
		t.Fatal(err)
	}
	g, f := testCgroup(t)
	_, err := runGuest(t, &Spec{Name: "symproc", Root: root, InitPath: "/bin/busybox", InitArgs: []string{"true"}, CgroupFD: int(f.Fd())})
	if err == nil || !strings.Contains(err.Error(), "mount /proc in guest") || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("Start: %v; want a /proc setup error about the symlink", err)
	}
	if !untouched() {
		t.Errorf("host directory %s was changed or mounted on", host)
	}
	if pids, err := g.Procs(); err != nil || len(pids) != 0 {
		t.Errorf("after a failed start the cgroup holds %v (%v)", pids, err)
	}
}

// TestSymlinkedDevStaysInRoot: the guest's /dev is a symlink that, followed
// on the host, climbs out to a host directory. Resolved inside the root it
// lands on the root's own copy of that path: /dev works in the guest, and
// the host directory is untouched.
func TestSymlinkedDevStaysInRoot(t *testing.T) {
	needRoot(t)
	root := makeRoot(t)
	host, untouched := hostDirWithMarker(t)
	if err := os.MkdirAll(filepath.Join(root, host), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(strings.Repeat("../", 20)+strings.TrimPrefix(host, "/"), filepath.Join(root, "dev")); err != nil {
		t.Fatal(err)
	}
	o := runProbe(t, &Spec{Name: "symdev", Root: root})
	if !slices.Equal(o.Dev, wantDev) {
		t.Errorf("/dev through the symlink:\n%s", strings.Join(o.Dev, "\n"))
	}
	if !untouched() {
		t.Errorf("host directory %s was changed or mounted on", host)
	}
}

// TestSymlinkedMountTargetIsRefused: an admin's mount target lies below a
// guest symlink to a host directory. Its missing parts must not be created
// on the host.
func TestSymlinkedMountTargetIsRefused(t *testing.T) {
	needRoot(t)
	root := makeRoot(t)
	host, untouched := hostDirWithMarker(t)
	if err := os.Symlink(host, filepath.Join(root, "data")); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	_, err := runGuest(t, &Spec{Name: "symtarget", Root: root, InitPath: "/bin/busybox", InitArgs: []string{"true"},
		Mounts: []Mount{{Source: src, Target: "/data/sub"}}})
	if err == nil || !strings.Contains(err.Error(), "bind-mount "+src+" onto /data/sub in guest") {
		t.Errorf("Start: %v; want the bind-mount step to fail", err)
	}
	if !untouched() {
		t.Errorf("host directory %s was changed or mounted on", host)
	}
}

// TestSetupErrorNamesStep: a failure inside the child comes back with the
// step, and leaves no process behind.
func TestSetupErrorNamesStep(t *testing.T) {
	needRoot(t)
	notTTY := filepath.Join(t.TempDir(), "not-a-tty")
	if err := os.WriteFile(notTTY, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	g, f := testCgroup(t)
	_, err := runGuest(t, &Spec{Name: "badconsole", Root: makeRoot(t), InitPath: "/bin/busybox", InitArgs: []string{"true"},
		ConsolePath: notTTY, CgroupFD: int(f.Fd())})
	want := `start guest "badconsole": mount /dev in guest: console ` + notTTY + " is not a character device"
	if err == nil || err.Error() != want {
		t.Errorf("Start: %v\nwant: %s", err, want)
	}
	if pids, err := g.Procs(); err != nil || len(pids) != 0 {
		t.Errorf("after a failed start the cgroup holds %v (%v)", pids, err)
	}
}

// TestMountPropagation: a shared host mount is bound into a guest that may
// mount (CAP_SYS_ADMIN kept). The guest's mount must not appear on the host,
// and a host mount made after the start must not appear in the guest.
func TestMountPropagation(t *testing.T) {
	needRoot(t)
	root := makeRoot(t)
	shared := t.TempDir()
	for _, d := range []string{"g", "m"} {
		if err := os.Mkdir(filepath.Join(shared, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mount(shared, shared, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(shared, unix.MNT_DETACH) })
	if err := unix.Mount("", shared, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	script := `mount -t tmpfs guestfs /data/g && echo guest-mounted
echo > /data/ready
n=0; while [ ! -e /data/go ]; do usleep 10000; n=$((n+1)); [ $n -gt 1500 ] && exit 3; done
echo host-mount-visible=$(grep -c ' /data/m ' /proc/self/mountinfo)`
	g, err := startGuest(t, &Spec{Name: "prop", Root: root, InitPath: "/bin/busybox", InitArgs: []string{"sh", "-c", script},
		Caps: append(DefaultCaps(), "CAP_SYS_ADMIN"), Mounts: []Mount{{Source: shared, Target: "/data"}}})
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		r   *guestRun
		err error
	}
	res := make(chan result, 1)
	go func() {
		r, err := g.wait()
		res <- result{r, err}
	}()
	deadline := time.Now().Add(guestTimeout)
	for {
		if _, err := os.Stat(filepath.Join(shared, "ready")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("guest did not get ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if bytes.Contains(mi, []byte(filepath.Join(shared, "g"))) {
		t.Error("the guest's mount appeared on the host")
	}
	if err := unix.Mount("hostfs", filepath.Join(shared, "m"), "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(filepath.Join(shared, "m"), unix.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(shared, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	if want := "guest-mounted\nhost-mount-visible=0\n"; r.r.Stdout != want {
		t.Errorf("guest said %q; want %q (stderr %q)", r.r.Stdout, want, r.r.Stderr)
	}
}

// openPty returns a pty master and its slave's path.
func openPty(t *testing.T) (*os.File, string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	return m, fmt.Sprintf("/dev/pts/%d", n)
}

// TestConsoleIsHostPty: the guest's /dev/console is the pty slave the
// launcher handed over; what the guest writes there arrives at the master.
func TestConsoleIsHostPty(t *testing.T) {
	needRoot(t)
	master, slave := openPty(t)
	var st unix.Stat_t
	if err := unix.Stat(slave, &st); err != nil {
		t.Fatal(err)
	}
	r, err := runGuest(t, &Spec{Name: "console", Root: makeRoot(t), InitPath: "/bin/busybox",
		InitArgs: []string{"sh", "-c", "echo hello-from-guest > /dev/console; stat -c %t:%T /dev/console"}, ConsolePath: slave})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%x:%x\n", unix.Major(st.Rdev), unix.Minor(st.Rdev)); r.Stdout != want {
		t.Errorf("guest /dev/console is %q; want the pty %q", r.Stdout, want)
	}
	_ = master.SetReadDeadline(time.Now().Add(guestTimeout))
	buf := make([]byte, 64)
	n, err := master.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "hello-from-guest") {
		t.Errorf("pty master read %q, %v", buf[:n], err)
	}
}

// TestPdeathsig: the guest's PID 1 gets Pdeathsig when the thread that
// started it ends (a monitor that dies takes its guest along).
func TestPdeathsig(t *testing.T) {
	needRoot(t)
	root := makeRoot(t)
	_, cg := testCgroup(t)
	started := make(chan *os.Process, 1)
	failed := make(chan error, 1)
	startHere := func() {
		runtime.LockOSThread() // never unlocked: the runtime ends the thread with this goroutine
		p, err := Start(&Spec{Name: "pdeath", Root: root, InitPath: "/bin/busybox", InitArgs: []string{"sleep", "60"},
			CgroupFD: int(cg.Fd()), Pdeathsig: unix.SIGKILL})
		if err != nil {
			failed <- err
			return
		}
		started <- p
	}
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() != unix.Getpid() {
			startHere()
			return
		}
		// The runtime never ends the main thread: hold it, so that
		// the starting goroutine gets another one.
		done := make(chan struct{})
		go func() { startHere(); close(done) }()
		<-done
		runtime.UnlockOSThread()
	}()
	var p *os.Process
	select {
	case err := <-failed:
		t.Fatal(err)
	case p = <-started:
	}
	t.Cleanup(func() { _ = p.Kill() })
	waited := make(chan *os.ProcessState, 1)
	go func() { st, _ := p.Wait(); waited <- st }()
	select {
	case st := <-waited:
		if ws, ok := st.Sys().(syscall.WaitStatus); !ok || ws.Signal() != unix.SIGKILL {
			t.Errorf("guest ended with %v; want killed by SIGKILL", st)
		}
	case <-time.After(guestTimeout):
		t.Fatal("guest still running after the starting thread ended")
	}
}

// TestDeviceNodesInGuestFilesAreDead: a device node that exists in the
// guest's own files (and in an admin's bind mount) cannot be opened; only
// the launcher's /dev works.
func TestDeviceNodesInGuestFilesAreDead(t *testing.T) {
	needRoot(t)
	root := makeRoot(t)
	shared := t.TempDir()
	for _, p := range []string{filepath.Join(root, "root/planted-null"), filepath.Join(shared, "planted-null")} {
		if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
			t.Fatal(err)
		}
	}
	script := `for f in /root/planted-null /data/planted-null /dev/null; do
  if echo x > $f; then echo $f=open; else echo $f=refused; fi
done 2>/dev/null`
	r, err := runGuest(t, &Spec{Name: "nodev", Root: root, InitPath: "/bin/busybox", InitArgs: []string{"sh", "-c", script},
		Caps: DefaultCaps(), Mounts: []Mount{{Source: shared, Target: "/data"}}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "/root/planted-null=refused\n/data/planted-null=refused\n/dev/null=open\n"; r.Stdout != want {
		t.Errorf("guest said %q; want %q", r.Stdout, want)
	}
}

// TestPrepareBeforeSetup: Prepare runs while the guest's first process
// exists in its namespaces but has not begun its setup (its root is still
// the host's), and what it does is there when init runs. A failing Prepare
// fails Start and leaves nothing running.
func TestPrepareBeforeSetup(t *testing.T) {
	needRoot(t)
	root := makeRoot(t)
	var rootAtPrepare, netAtPrepare string
	r, err := runGuest(t, &Spec{Name: "prepare", Root: root, NewNet: true, InitPath: "/bin/busybox",
		InitArgs: []string{"cat", "/tmp/prepared"},
		Prepare: func(pid int) error {
			rootAtPrepare, _ = os.Readlink(fmt.Sprintf("/proc/%d/root", pid))
			netAtPrepare, _ = os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
			return os.WriteFile(filepath.Join(root, "tmp/prepared"), []byte("prepared for "+strconv.Itoa(pid)), 0o644)
		}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if rootAtPrepare != "/" {
		t.Errorf("at Prepare the guest's root was %q: its setup had begun", rootAtPrepare)
	}
	if self, _ := os.Readlink("/proc/self/ns/net"); netAtPrepare == "" || netAtPrepare == self {
		t.Errorf("at Prepare the guest's netns was %q (host's %q): not its own yet", netAtPrepare, self)
	}
	if !strings.HasPrefix(r.Stdout, "prepared for ") || !r.State.Success() {
		t.Errorf("init saw %q (stderr %q, %v)", r.Stdout, r.Stderr, r.State)
	}

	g, f := testCgroup(t)
	_, err = runGuest(t, &Spec{Name: "unprepared", Root: root, InitPath: "/bin/busybox", InitArgs: []string{"true"},
		CgroupFD: int(f.Fd()), Prepare: func(int) error { return errors.New("no network for you") }})
	if err == nil || !strings.Contains(err.Error(), "no network for you") {
		t.Errorf("Start with a failing Prepare: %v", err)
	}
	if pids, err := g.Procs(); err != nil || len(pids) != 0 {
		t.Errorf("after a failed Prepare the cgroup holds %v (%v)", pids, err)
	}
}
