package isolation

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Reexec must be the first call in main. In the child that Start created
// it builds the guest and executes init, and never returns; everywhere else
// it returns false at once.
func Reexec() bool {
	v, ok := os.LookupEnv(childEnv)
	if !ok {
		return false
	}
	// Capabilities, nice, no_new_privs, seccomp and the audit login id are
	// per thread: all of them are set on this thread, which then execs.
	runtime.LockOSThread()
	base, err := strconv.Atoi(v)
	if err != nil || base < 3 {
		fmt.Fprintf(os.Stderr, "vserver-isolation: bad %s=%q\n", childEnv, v)
		os.Exit(1)
	}
	report := os.NewFile(uintptr(base+fdReport), "report")
	err = func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("guest setup: panic: %v", r)
			}
		}()
		return setupAndExec(base)
	}()
	fmt.Fprint(report, err.Error())
	os.Exit(1)
	return true
}

// setupAndExec runs in the new namespaces as their PID 1. It returns only
// an error, naming the step that failed.
func setupAndExec(base int) error {
	cfg, err := readConfig(base)
	if err != nil {
		return fmt.Errorf("read setup from the launcher: %w", err)
	}
	for _, fd := range []int{base + fdReport, base + fdInit} {
		unix.CloseOnExec(fd)
	}
	unix.Umask(0) // modes below are meant literally
	if err := resetLoginuid(); err != nil {
		return fmt.Errorf("reset audit login id: %w", err)
	}
	// Neither direction of propagation: the guest's mounts never reach
	// the host, and later host mounts never appear in the guest.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", os.NewSyscallError("mount", err))
	}
	rootFD, err := bindRoot(cfg.Root)
	if err != nil {
		return fmt.Errorf("bind guest root %s: %w", cfg.Root, err)
	}
	// The admin's mounts first: a system mount below then covers any of
	// them that a guest symlink led to /proc, /sys or /dev.
	for i, m := range cfg.Mounts {
		if err := bindInto(rootFD, m, cfg.MountIsDir[i]); err != nil {
			return fmt.Errorf("bind-mount %s onto %s in guest: %w", m.Source, m.Target, err)
		}
	}
	if err := mountProc(rootFD); err != nil {
		return fmt.Errorf("mount /proc in guest: %w", err)
	}
	if err := mountSys(rootFD); err != nil {
		return fmt.Errorf("mount /sys in guest: %w", err)
	}
	if err := mountDev(rootFD, cfg.ConsolePath); err != nil {
		return fmt.Errorf("mount /dev in guest: %w", err)
	}
	if err := mountRun(rootFD); err != nil {
		return fmt.Errorf("mount /run in guest: %w", err)
	}
	if err := pivot(rootFD); err != nil {
		return fmt.Errorf("pivot_root into guest root: %w", err)
	}
	unix.Close(rootFD)
	if cfg.Hostname != "" {
		if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
			return fmt.Errorf("set hostname %q: %w", cfg.Hostname, os.NewSyscallError("sethostname", err))
		}
	}
	if cfg.Domainname != "" {
		if err := unix.Setdomainname([]byte(cfg.Domainname)); err != nil {
			return fmt.Errorf("set domainname %q: %w", cfg.Domainname, os.NewSyscallError("setdomainname", err))
		}
	}
	for _, r := range cfg.Rlimits {
		if err := unix.Prlimit(0, r.Resource, &unix.Rlimit{Cur: r.Soft, Max: r.Max}, nil); err != nil {
			return fmt.Errorf("set resource limit %d to %d:%d: %w", r.Resource, r.Soft, r.Max, os.NewSyscallError("prlimit", err))
		}
	}
	// who = 0 is the calling thread on Linux: the one that execs.
	if err := unix.Setpriority(unix.PRIO_PROCESS, 0, cfg.Nice); err != nil {
		return fmt.Errorf("set nice %d: %w", cfg.Nice, os.NewSyscallError("setpriority", err))
	}
	if err := limitCaps(cfg.KeepCaps); err != nil {
		return fmt.Errorf("limit capabilities: %w", err)
	}
	if cfg.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("set no_new_privs: %w", os.NewSyscallError("prctl", err))
		}
	}
	unix.Umask(0o022)
	// Every fd beyond init's stdio and extra files closes at exec,
	// including any the launcher inherited without close-on-exec.
	if err := unix.CloseRange(uint(3+cfg.NumExtra), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("mark fds close-on-exec: %w", os.NewSyscallError("close_range", err))
	}
	if cfg.Seccomp {
		if err := installSeccomp(true); err != nil {
			return fmt.Errorf("install seccomp filter: %w", err)
		}
	}
	// Last: Landlock binds this thread, the one that execs (the domain is
	// inherited by everything vinit starts).
	if cfg.ScopeAbstractUnix {
		if err := ScopeAbstractUnix(); err != nil && !errors.Is(err, ErrNoAbstractScope) {
			return err
		}
	}
	return fmt.Errorf("execute init: %w", execveat(base+fdInit, cfg.Args, cfg.Env))
}

func readConfig(base int) (*childConfig, error) {
	f := os.NewFile(uintptr(base+fdConfig), "config")
	defer f.Close()
	var cfg childConfig
	if err := json.NewDecoder(f).Decode(&cfg); err != nil {
		return nil, err
	}
	if len(cfg.MountIsDir) != len(cfg.Mounts) || len(cfg.Args) == 0 {
		return nil, errors.New("inconsistent setup")
	}
	return &cfg, nil
}

// resetLoginuid unsets the audit login id the launcher inherited from the
// admin's login, as a freshly booted system has it: pam_loginuid in the
// guest must be able to set it for each login. The kernel only lets a
// task write its own entry, hence thread-self.
func resetLoginuid() error {
	const unset = "4294967295"
	f, err := os.OpenFile("/proc/thread-self/loginuid", os.O_WRONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil // no CONFIG_AUDITSYSCALL: there is no login id to inherit
	}
	if err != nil {
		return err
	}
	_, werr := f.WriteString(unset)
	f.Close()
	if werr != nil {
		if cur, err := os.ReadFile("/proc/thread-self/loginuid"); err == nil && strings.TrimSpace(string(cur)) == unset {
			return nil
		}
		return fmt.Errorf("%w (is the audit login id immutable on this host? auditctl --loginuid-immutable)", werr)
	}
	return nil
}

// bindRoot binds the guest root onto itself (pivot_root needs a mount
// point) and returns the new mount's root as a dirfd.
func bindRoot(root string) (int, error) {
	tree, err := cloneTree(unix.AT_FDCWD, root, true)
	if err != nil {
		return -1, err
	}
	// nodev: device nodes in the guest's files (an image's /dev/sda, or
	// one made before) are dead; the only live ones are in the fresh /dev.
	if err := setAttrs(tree, unix.MOUNT_ATTR_NODEV, true); err != nil {
		unix.Close(tree)
		return -1, err
	}
	if err := unix.MoveMount(tree, "", unix.AT_FDCWD, root, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		unix.Close(tree)
		return -1, os.NewSyscallError("move_mount", err)
	}
	return tree, nil
}

// bindInto binds the host path m.Source onto m.Target, resolved in the
// root; nodev like the root, read-only on the whole tree when asked.
func bindInto(rootFD int, m Mount, dir bool) error {
	tree, err := cloneTree(unix.AT_FDCWD, m.Source, true)
	if err != nil {
		return err
	}
	defer unix.Close(tree)
	attrs := uint64(unix.MOUNT_ATTR_NODEV)
	if m.ReadOnly {
		attrs |= unix.MOUNT_ATTR_RDONLY
	}
	if err := setAttrs(tree, attrs, true); err != nil {
		return err
	}
	target, err := targetIn(rootFD, m.Target, dir)
	if err != nil {
		return err
	}
	defer unix.Close(target)
	return attach(tree, target)
}

// procMasked are hidden behind a read-only /dev/null: kernel memory, the
// kernel's keys and symbols, host-wide timer and scheduler state, and the
// magic SysRq trigger. Absent ones are skipped.
var procMasked = []string{"kcore", "kallsyms", "keys", "timer_list", "sysrq-trigger", "latency_stats", "sched_debug", "timer_stats"}

// procEmptied are covered with an empty read-only tmpfs (hardware control).
var procEmptied = []string{"acpi", "scsi"}

// procReadOnly are kernel and hardware settings shared with the host.
var procReadOnly = []string{"sys", "bus", "fs", "irq"}

func mountProc(rootFD int) error {
	target, err := targetIn(rootFD, "/proc", true)
	if err != nil {
		return err
	}
	defer unix.Close(target)
	proc, err := newFS("proc", nil, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(proc)
	if err := attach(proc, target); err != nil {
		return err
	}
	null, err := hostNull()
	if err != nil {
		return err
	}
	defer unix.Close(null)
	for _, name := range procMasked {
		if err := overProcEntry(proc, name, false, func() (int, error) {
			return cloneTree(null, "", false)
		}); err != nil {
			return err
		}
	}
	for _, name := range procEmptied {
		if err := overProcEntry(proc, name, true, func() (int, error) {
			return newFS("tmpfs", [][2]string{{"mode", "0555"}, {"size", "0"}},
				unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
		}); err != nil {
			return err
		}
	}
	for _, name := range procReadOnly {
		if err := overProcEntry(proc, name, true, func() (int, error) {
			t, err := cloneTree(proc, name, true)
			if err != nil {
				return -1, err
			}
			if err := setAttrs(t, unix.MOUNT_ATTR_RDONLY, true); err != nil {
				unix.Close(t)
				return -1, err
			}
			return t, nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// overProcEntry mounts what cover() makes onto /proc/name, if it exists.
func overProcEntry(proc int, name string, dir bool, cover func() (int, error)) error {
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC | unix.O_NOFOLLOW, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS}
	if dir {
		how.Flags |= unix.O_DIRECTORY
	}
	target, err := unix.Openat2(proc, name, &how)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "openat2", Path: "/proc/" + name, Err: err}
	}
	defer unix.Close(target)
	m, err := cover()
	if err != nil {
		return fmt.Errorf("cover /proc/%s: %w", name, err)
	}
	defer unix.Close(m)
	if err := attach(m, target); err != nil {
		return fmt.Errorf("cover /proc/%s: %w", name, err)
	}
	return nil
}

// hostNull returns a read-only detached bind of the host's /dev/null,
// checked to be the null device (1:3) and not something else by that name.
func hostNull() (int, error) {
	t, err := cloneTree(unix.AT_FDCWD, "/dev/null", false)
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(t, &st); err != nil {
		unix.Close(t)
		return -1, os.NewSyscallError("fstat /dev/null", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		unix.Close(t)
		return -1, errors.New("host /dev/null is not the null device")
	}
	if err := setAttrs(t, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC, false); err != nil {
		unix.Close(t)
		return -1, err
	}
	return t, nil
}

func mountSys(rootFD int) error {
	target, err := targetIn(rootFD, "/sys", true)
	if err != nil {
		return err
	}
	defer unix.Close(target)
	sys, err := newFS("sysfs", nil, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(sys)
	return attach(sys, target)
}

// devNodes are the only device nodes of the guest's /dev.
var devNodes = []struct {
	name         string
	major, minor uint32
}{
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
}

func mountDev(rootFD int, console string) error {
	target, err := targetIn(rootFD, "/dev", true)
	if err != nil {
		return err
	}
	defer unix.Close(target)
	dev, err := newFS("tmpfs", [][2]string{{"mode", "0755"}, {"size", "4m"}}, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(dev)
	if err := attach(dev, target); err != nil {
		return err
	}
	// dev is the fresh tmpfs's root: nothing of the guest's is in it, so
	// plain *at calls relative to it are safe.
	for _, n := range devNodes {
		if err := unix.Mknodat(dev, n.name, unix.S_IFCHR|0o666, int(unix.Mkdev(n.major, n.minor))); err != nil {
			return &os.PathError{Op: "mknod", Path: "/dev/" + n.name, Err: err}
		}
	}
	for name, to := range map[string]string{
		"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
		"stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx",
	} {
		if err := unix.Symlinkat(to, dev, name); err != nil {
			return &os.PathError{Op: "symlink", Path: "/dev/" + name, Err: err}
		}
	}
	if err := mountInDev(dev, "pts", 0o755, "devpts", [][2]string{
		{"newinstance", ""}, {"ptmxmode", "0666"}, {"mode", "0620"}, {"gid", "5"},
	}, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC); err != nil {
		return err
	}
	if err := mountInDev(dev, "shm", 0o1777, "tmpfs", [][2]string{{"mode", "1777"}},
		unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC); err != nil {
		return err
	}
	return makeConsole(dev, console)
}

// mountRun gives the guest a fresh tmpfs on /run, as a booting system has:
// vinit keeps its sockets there, and it has no CAP_SYS_ADMIN to mount one
// itself. Nothing of a previous boot survives a reboot of the guest.
func mountRun(rootFD int) error {
	target, err := targetIn(rootFD, "/run", true)
	if err != nil {
		return err
	}
	defer unix.Close(target)
	m, err := newFS("tmpfs", [][2]string{{"mode", "0755"}, {"size", "10%"}}, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
	if err != nil {
		return err
	}
	defer unix.Close(m)
	return attach(m, target)
}

func mountInDev(dev int, name string, mode uint32, fstype string, opts [][2]string, attrs int) error {
	if err := unix.Mkdirat(dev, name, mode); err != nil {
		return &os.PathError{Op: "mkdir", Path: "/dev/" + name, Err: err}
	}
	target, err := unix.Openat(dev, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: "/dev/" + name, Err: err}
	}
	defer unix.Close(target)
	m, err := newFS(fstype, opts, attrs)
	if err != nil {
		return fmt.Errorf("/dev/%s: %w", name, err)
	}
	defer unix.Close(m)
	if err := attach(m, target); err != nil {
		return fmt.Errorf("/dev/%s: %w", name, err)
	}
	return nil
}

// makeConsole binds the host pty slave onto /dev/console, or makes a null
// device there when there is no console.
func makeConsole(dev int, console string) error {
	if console == "" {
		if err := unix.Mknodat(dev, "console", unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))); err != nil {
			return &os.PathError{Op: "mknod", Path: "/dev/console", Err: err}
		}
		return nil
	}
	tree, err := cloneTree(unix.AT_FDCWD, console, false)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	defer unix.Close(tree)
	var st unix.Stat_t
	if err := unix.Fstat(tree, &st); err != nil {
		return fmt.Errorf("console %s: %w", console, os.NewSyscallError("fstat", err))
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return fmt.Errorf("console %s is not a character device", console)
	}
	f, err := unix.Openat(dev, "console", unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &os.PathError{Op: "create", Path: "/dev/console", Err: err}
	}
	unix.Close(f)
	target, err := unix.Openat(dev, "console", unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: "/dev/console", Err: err}
	}
	defer unix.Close(target)
	return attach(tree, target)
}

// pivot makes the guest root "/" and detaches the old root entirely: unlike
// chroot, nothing above "/" is left to climb to.
func pivot(rootFD int) error {
	if err := unix.Fchdir(rootFD); err != nil {
		return os.NewSyscallError("fchdir", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return os.NewSyscallError("pivot_root", err)
	}
	// The old root is now stacked on "."; keep its unmount from
	// propagating anywhere, then drop it.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return os.NewSyscallError("mount old root slave", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return os.NewSyscallError("umount old root", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return os.NewSyscallError("chdir /", err)
	}
	return nil
}

// limitCaps drops every capability not in keep from the bounding set,
// clears the ambient set and reduces the inheritable set to keep. As root,
// vinit's permitted and effective sets after exec are then exactly keep.
func limitCaps(keep uint64) error {
	for c := 0; ; c++ {
		if _, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); err != nil {
			break // EINVAL: past the kernel's last capability
		}
		if c < 64 && keep&(1<<uint(c)) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			return fmt.Errorf("drop %s from the bounding set: %w", capName(c), os.NewSyscallError("prctl", err))
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("clear ambient capabilities: %w", os.NewSyscallError("prctl", err))
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return os.NewSyscallError("capget", err)
	}
	data[0].Inheritable &= uint32(keep)
	data[1].Inheritable &= uint32(keep >> 32)
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("reduce inheritable capabilities: %w", os.NewSyscallError("capset", err))
	}
	return nil
}

func capName(c int) string {
	if c < len(capNames) {
		return capNames[c]
	}
	return "capability " + strconv.Itoa(c)
}

// execveat executes the sealed init by its fd: no path inside the guest is
// looked up, so nothing the guest planted can be run instead.
func execveat(fd int, argv, env []string) error {
	argvp, err := syscall.SlicePtrFromStrings(argv)
	if err != nil {
		return err
	}
	envp, err := syscall.SlicePtrFromStrings(env)
	if err != nil {
		return err
	}
	empty, _ := syscall.BytePtrFromString("")
	_, _, errno := unix.Syscall6(unix.SYS_EXECVEAT, uintptr(fd), uintptr(unsafe.Pointer(empty)),
		uintptr(unsafe.Pointer(&argvp[0])), uintptr(unsafe.Pointer(&envp[0])), unix.AT_EMPTY_PATH, 0)
	return os.NewSyscallError("execveat", errno)
}
