// Command escapeprobe runs inside a test guest, as the guest's root (through
// `vserver NAME exec`), and tries the classic ways out of a container for
// real. It prints what happened as one JSON object of strings on stdout:
// "ok" when a call succeeded, else the errno's name, or a short finding.
// It never writes to anything that could matter if a defence were missing:
// kernel tunables and devices are only opened for writing, kexec is called
// with flags the kernel rejects after its permission check, and signals go
// only to host pid numbers that are not guest processes.
//
//	escapeprobe all MARKER [HOSTPID...]   every check below
//	escapeprobe caps                       credentials and capabilities (run setuid)
//	escapeprobe chroot-dotdot MARKER       chroot into a subdirectory, climb with ..
//	escapeprobe chroot-fchdir MARKER       the same from a directory fd kept open
//	escapeprobe ptrace PID                 PTRACE_SEIZE PID, then exit
//
// MARKER is the host path of a file outside the guest root; any check that
// can see it has escaped.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	res := map[string]string{}
	switch os.Args[1] {
	case "all":
		if len(os.Args) < 3 {
			usage()
		}
		all(res, os.Args[2], os.Args[3:])
	case "caps":
		caps(res)
	case "chroot-dotdot", "chroot-fchdir":
		if len(os.Args) != 3 {
			usage()
		}
		res["result"] = chrootEscape(os.Args[2], os.Args[1] == "chroot-fchdir")
	case "ptrace":
		pid, err := strconv.Atoi(os.Args[len(os.Args)-1])
		if err != nil {
			usage()
		}
		runtime.LockOSThread()
		res["result"] = errName(unix.PtraceSeize(pid))
	default:
		usage()
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "escapeprobe:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: escapeprobe all MARKER [HOSTPID...] | caps | chroot-dotdot MARKER | chroot-fchdir MARKER | ptrace PID")
	os.Exit(2)
}

func errName(err error) string {
	if err == nil {
		return "ok"
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		return unix.ErrnoName(errno)
	}
	return err.Error()
}

func raw(_, _ uintptr, e unix.Errno) string {
	if e == 0 {
		return "ok"
	}
	return unix.ErrnoName(e)
}

// openWrite opens p for writing and closes it again without writing: the
// refusal of a read-only mount or a missing permission comes at open.
func openWrite(p string) string {
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(fd)
	}
	return errName(err)
}

// readSize reads up to 1 MiB of p and says how many bytes it gave.
func readSize(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return errName(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	n := 0
	for n < len(buf) {
		m, err := f.Read(buf[n:])
		n += m
		if err != nil || m == 0 {
			break
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// sub runs this binary with args (a fresh process, so a changed root or a
// tracee does not outlive the check) and returns its "result".
func sub(args ...string) string {
	out, err := exec.Command("/proc/self/exe", args...).Output()
	if err != nil {
		return "run " + args[0] + ": " + err.Error()
	}
	var m map[string]string
	if err := json.Unmarshal(out, &m); err != nil {
		return "bad output: " + string(out)
	}
	return m["result"]
}

func all(res map[string]string, marker string, hostPIDs []string) {
	res["marker_visible"] = errName(unix.Access(marker, unix.F_OK))

	// The classic chroot escape (util-vserver tests/escaperoot.c).
	res["chroot_dotdot"] = sub("chroot-dotdot", marker)
	res["chroot_fchdir"] = sub("chroot-fchdir", marker)

	// The host's init through /proc/1/exe (runc CVE-2019-5736).
	res["proc1_exe_link"], _ = os.Readlink("/proc/1/exe")
	res["proc1_exe_open_write"] = openWrite("/proc/1/exe")
	res["proc1_exe_open_rdwr"] = errName(func() error {
		fd, err := unix.Open("/proc/1/exe", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
		}
		return err
	}())
	if fd, err := unix.Open("/proc/1/exe", unix.O_PATH|unix.O_CLOEXEC, 0); err == nil {
		res["proc1_exe_reopen_write"] = openWrite(fmt.Sprintf("/proc/self/fd/%d", fd))
		unix.Close(fd)
	} else {
		res["proc1_exe_reopen_write"] = "O_PATH: " + errName(err)
	}

	// Host files or directories through any fd in the guest (runc
	// CVE-2024-21626): every fd of every guest process.
	fds(res, marker)
	res["proc1_root"], _ = os.Readlink("/proc/1/root")
	res["proc1_root_marker"] = errName(unix.Access("/proc/1/root"+marker, unix.F_OK))
	res["proc1_cwd"], _ = os.Readlink("/proc/1/cwd")

	// Host processes: not visible, not signalled, not traced.
	procs := guestPIDs()
	res["procs"] = strings.Trim(fmt.Sprint(procs), "[]")
	res["self"] = strconv.Itoa(os.Getpid())
	visible := map[int]bool{}
	for _, p := range procs {
		visible[p] = true
	}
	for _, s := range hostPIDs {
		pid, err := strconv.Atoi(s)
		if err != nil || visible[pid] {
			res["host_pid_"+s] = "skipped: a guest process has this number"
			continue
		}
		var st unix.Stat_t
		r := []string{"stat=" + errName(unix.Stat(fmt.Sprintf("/proc/%d", pid), &st)),
			"kill0=" + errName(unix.Kill(pid, 0)),
			"kill=" + errName(unix.Kill(pid, unix.SIGKILL))}
		pfd, err := unix.PidfdOpen(pid, 0)
		if err == nil {
			unix.Close(pfd)
		}
		r = append(r, "pidfd="+errName(err), "ptrace="+sub("ptrace", s))
		res["host_pid_"+s] = strings.Join(r, " ")
	}
	// Guest-internal: the guest's root may trace its own init (it keeps
	// CAP_SYS_PTRACE), and take its fds.
	res["ptrace_pid1"] = sub("ptrace", "1")
	if pfd, err := unix.PidfdOpen(1, 0); err == nil {
		fd, err := unix.PidfdGetfd(pfd, 0, 0)
		if err == nil {
			unix.Close(fd)
		}
		res["pidfd_getfd_pid1"] = errName(err)
		unix.Close(pfd)
	} else {
		res["pidfd_getfd_pid1"] = "pidfd_open: " + errName(err)
	}

	// Names and time.
	var u unix.Utsname
	_ = unix.Uname(&u)
	res["hostname"] = unix.ByteSliceToString(u.Nodename[:])
	res["sethostname"] = errName(unix.Sethostname([]byte("escaped-guest")))
	res["setdomainname"] = errName(unix.Setdomainname([]byte("escaped.example")))
	var now unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_REALTIME, &now)
	res["clock_settime"] = errName(unix.ClockSettime(unix.CLOCK_REALTIME, &now))
	tv := unix.NsecToTimeval(time.Now().UnixNano())
	res["settimeofday"] = errName(unix.Settimeofday(&tv))
	tx := unix.Timex{Modes: unix.ADJ_OFFSET | unix.ADJ_STATUS, Status: unix.STA_PLL}
	_, err := unix.Adjtimex(&tx)
	res["adjtimex"] = errName(err)

	// Mounts and namespaces.
	res["mount_tmpfs"] = errName(unix.Mount("none", "/tmp", "tmpfs", 0, ""))
	res["remount_root_ro"] = errName(unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""))
	res["remount_sys_rw"] = errName(unix.Mount("", "/sys", "", unix.MS_REMOUNT, ""))
	res["bind_mount"] = errName(unix.Mount("/tmp", "/tmp", "", unix.MS_BIND, ""))
	res["umount_proc_keys"] = errName(unix.Unmount("/proc/keys", unix.MNT_DETACH))
	res["umount_proc_sys"] = errName(unix.Unmount("/proc/sys", unix.MNT_DETACH))
	res["make_shared"] = errName(unix.Mount("", "/", "", unix.MS_SHARED|unix.MS_REC, ""))
	res["pivot_root"] = errName(unix.PivotRoot(".", "."))
	fsfd, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err == nil {
		unix.Close(fsfd)
	}
	res["fsopen"] = errName(err)
	otfd, err := unix.OpenTree(unix.AT_FDCWD, "/", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err == nil {
		unix.Close(otfd)
	}
	res["open_tree_clone"] = errName(err)
	res["mount_cgroup2"] = errName(unix.Mount("none", "/tmp", "cgroup2", 0, ""))
	res["mount_proc"] = errName(unix.Mount("proc", "/tmp", "proc", 0, ""))
	unshares(res)

	// Devices, modules, kernel images, kernel interfaces.
	res["mknod_char"] = errName(unix.Mknod("/tmp/escape-mem", unix.S_IFCHR|0o600, int(unix.Mkdev(1, 1))))
	res["mknod_block"] = errName(unix.Mknod("/tmp/escape-sda", unix.S_IFBLK|0o600, int(unix.Mkdev(8, 0))))
	empty := []byte{0}
	res["init_module"] = raw(unix.Syscall(unix.SYS_INIT_MODULE, 0, 0, uintptr(unsafe.Pointer(&empty[0]))))
	res["finit_module"] = raw(unix.Syscall(unix.SYS_FINIT_MODULE, ^uintptr(0), uintptr(unsafe.Pointer(&empty[0])), 0))
	nomod := []byte("escapeprobe_no_such_module\x00")
	res["delete_module"] = raw(unix.Syscall(unix.SYS_DELETE_MODULE, uintptr(unsafe.Pointer(&nomod[0])), 0, 0))
	// Flags 0x100 are invalid: a kernel that let the call through its
	// permission check answers EINVAL and loads or unloads nothing.
	res["kexec_load"] = raw(unix.Syscall6(unix.SYS_KEXEC_LOAD, 0, 0, 0, 0x100, 0, 0))
	res["kexec_file_load"] = kexecFile()
	res["bpf"] = raw(unix.Syscall(unix.SYS_BPF, 0 /* BPF_MAP_CREATE */, 0, 0))
	res["perf_event_open"] = raw(unix.Syscall6(unix.SYS_PERF_EVENT_OPEN, 0, 0, ^uintptr(0), ^uintptr(0), 0, 0))
	res["open_by_handle_at"] = raw(unix.Syscall(unix.SYS_OPEN_BY_HANDLE_AT, ^uintptr(99), 0, 0))
	sess := int64(unix.KEY_SPEC_SESSION_KEYRING)
	res["keyctl"] = raw(unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, uintptr(sess), 0))
	_, err = unix.AddKey("user", "escapeprobe", []byte("x"), unix.KEY_SPEC_PROCESS_KEYRING)
	res["add_key"] = errName(err)
	r1, r2, e := unix.Syscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC, 0, 0)
	res["userfaultfd"] = raw(r1, r2, e)
	if e == 0 {
		unix.Close(int(r1))
	}
	res["swapon"] = raw(unix.Syscall(unix.SYS_SWAPON, uintptr(unsafe.Pointer(&nomod[0])), 0, 0))
	res["acct"] = raw(unix.Syscall(unix.SYS_ACCT, 0, 0, 0))
	res["syslog_clear"] = raw(unix.Syscall(unix.SYS_SYSLOG, 5 /* SYSLOG_ACTION_CLEAR */, 0, 0))
	archSpecific(res)

	// Kernel tunables and pseudo files: refused or masked.
	res["write_proc_sys_hostname"] = openWrite("/proc/sys/kernel/hostname")
	res["write_core_pattern"] = openWrite("/proc/sys/kernel/core_pattern")
	res["write_drop_caches"] = openWrite("/proc/sys/vm/drop_caches")
	res["write_sysrq_trigger"] = openWrite("/proc/sysrq-trigger")
	res["write_sys_uevent_helper"] = openWrite("/sys/kernel/uevent_helper")
	res["write_sys_power_state"] = openWrite("/sys/power/state")
	res["mkdir_sys_cgroup"] = errName(unix.Mkdir("/sys/fs/cgroup/escape", 0o755))
	res["read_kcore"] = readSize("/proc/kcore")
	res["read_keys"] = readSize("/proc/keys")
	res["read_timer_list"] = readSize("/proc/timer_list")
	res["kallsyms"] = kallsyms()
	kmsg, err := unix.Open("/proc/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(kmsg)
	}
	res["open_kmsg"] = errName(err)

	// The guest's cgroup: what it sees and whether it can leave it.
	cg, _ := os.ReadFile("/proc/self/cgroup")
	res["proc_self_cgroup"] = strings.TrimSpace(string(cg))
	if ents, err := os.ReadDir("/sys/fs/cgroup"); err != nil {
		res["sys_fs_cgroup_entries"] = errName(err)
	} else {
		res["sys_fs_cgroup_entries"] = strconv.Itoa(len(ents))
	}
	for _, f := range []string{"/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/cgroup.procs",
		"/sys/fs/cgroup/../cgroup.procs"} {
		res["write_"+filepath.Clean(f)] = openWrite(f)
	}
}

// unshares asks for every namespace type, alone and with a user namespace.
func unshares(res map[string]string) {
	runtime.LockOSThread() // unshare changes the calling thread; keep it off the others
	for _, u := range []struct {
		name  string
		flags int
	}{
		{"user", unix.CLONE_NEWUSER}, {"user_mnt", unix.CLONE_NEWUSER | unix.CLONE_NEWNS},
		{"mnt", unix.CLONE_NEWNS}, {"pid", unix.CLONE_NEWPID}, {"net", unix.CLONE_NEWNET},
		{"uts", unix.CLONE_NEWUTS}, {"ipc", unix.CLONE_NEWIPC}, {"cgroup", unix.CLONE_NEWCGROUP},
		{"time", unix.CLONE_NEWTIME},
	} {
		res["unshare_"+u.name] = errName(unix.Unshare(u.flags))
	}
	for _, ns := range []string{"mnt", "net", "pid", "uts"} {
		fd, err := unix.Open("/proc/1/ns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			res["setns_"+ns] = "open: " + errName(err)
			continue
		}
		res["setns_"+ns] = errName(unix.Setns(fd, 0))
		unix.Close(fd)
	}
	// A guest user namespace through clone(2) rather than unshare.
	r1, _, e := unix.RawSyscall6(unix.SYS_CLONE, unix.CLONE_NEWUSER|uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	switch {
	case e != 0:
		res["clone_newuser"] = unix.ErrnoName(e)
	case r1 == 0:
		unix.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
	default:
		var ws unix.WaitStatus
		_, _ = unix.Wait4(int(r1), &ws, 0, nil)
		res["clone_newuser"] = "ok"
	}
}

func kexecFile() string {
	fd, err := unix.Open("/proc/self/exe", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "open: " + errName(err)
	}
	defer unix.Close(fd)
	// Flag 0x100 is not a KEXEC_FILE_* flag: EINVAL after the checks.
	return raw(unix.Syscall6(unix.SYS_KEXEC_FILE_LOAD, uintptr(fd), uintptr(fd), 0, 0, 0x100, 0))
}

// kallsyms reports how many symbol lines /proc/kallsyms has and how many
// carry a non-zero address.
func kallsyms() string {
	b, err := os.ReadFile("/proc/kallsyms")
	if err != nil {
		return errName(err)
	}
	lines, nonzero := 0, 0
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		lines++
		if strings.Trim(f[0], "0") != "" {
			nonzero++
		}
	}
	return fmt.Sprintf("%d lines, %d addresses", lines, nonzero)
}

func guestPIDs() []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, n)
		}
	}
	sort.Ints(pids)
	return pids
}

// fds looks at every fd of every guest process: a directory fd must not
// lead above the guest's root with "..", and an fd's file must be the one
// its path names inside the guest (or no path at all: pipes, sockets,
// anonymous inodes, memfds).
func fds(res map[string]string, marker string) {
	var checked int
	var outside, climbed []string
	rel := strings.TrimPrefix(marker, "/")
	// The console is the one file from outside by design: the pty slave
	// the monitor holds the master of, bound on /dev/console.
	var console unix.Stat_t
	_ = unix.Stat("/dev/console", &console)
	for _, pid := range guestPIDs() {
		dir := fmt.Sprintf("/proc/%d/fd", pid)
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			p := dir + "/" + e.Name()
			link, err := os.Readlink(p)
			if err != nil {
				continue
			}
			fd, err := unix.Open(p, unix.O_PATH|unix.O_CLOEXEC, 0)
			if err != nil {
				continue // gone, or a file the kernel will not reopen
			}
			checked++
			var st unix.Stat_t
			if unix.Fstat(fd, &st) == nil && strings.HasPrefix(link, "/") && !strings.HasPrefix(link, "/memfd:") {
				var named unix.Stat_t
				isConsole := st.Dev == console.Dev && st.Ino == console.Ino
				if err := unix.Stat(strings.TrimSuffix(link, " (deleted)"), &named); !isConsole && (err != nil ||
					named.Dev != st.Dev || named.Ino != st.Ino) {
					outside = append(outside, fmt.Sprintf("%d/%s -> %s", pid, e.Name(), link))
				}
				if st.Mode&unix.S_IFMT == unix.S_IFDIR {
					up := strings.Repeat("../", 40)
					if unix.Faccessat(fd, up+rel, unix.F_OK, 0) == nil {
						climbed = append(climbed, fmt.Sprintf("%d/%s -> %s", pid, e.Name(), link))
					}
				}
			}
			unix.Close(fd)
		}
	}
	res["fds_checked"] = strconv.Itoa(checked)
	res["fds_outside"] = strings.Join(outside, ", ")
	res["fds_climbed_to_marker"] = strings.Join(climbed, ", ")
}

// chrootEscape: chroot into a new subdirectory, then climb with "..", from
// the working directory left outside the new root (dotdot) or from a
// directory fd opened before the chroot (fchdir), and chroot to where the
// climb ended.
func chrootEscape(marker string, viaFD bool) string {
	if err := unix.Chdir("/"); err != nil {
		return "chdir /: " + errName(err)
	}
	kept, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return "open /: " + errName(err)
	}
	dir, err := os.MkdirTemp("/tmp", "escape")
	if err != nil {
		return "mkdir: " + err.Error()
	}
	if err := unix.Chroot(dir); err != nil {
		return "chroot: " + errName(err)
	}
	if viaFD {
		if err := unix.Fchdir(kept); err != nil {
			return "fchdir: " + errName(err)
		}
	}
	for i := 0; i < 64; i++ {
		_ = unix.Chdir("..")
	}
	if err := unix.Chroot("."); err != nil {
		return "chroot .: " + errName(err)
	}
	if unix.Access(marker, unix.F_OK) == nil {
		b, _ := os.ReadFile(marker)
		return "escaped: " + marker + " reads " + strings.TrimSpace(string(b))
	}
	var names []string
	ents, _ := os.ReadDir("/")
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return "contained [" + strings.Join(names, " ") + "]"
}

func statusField(status, key string) string {
	for _, l := range strings.Split(status, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == key {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return ""
}

// caps reports the credentials and capabilities this process got, and
// tries what only a fully privileged root could do.
func caps(res map[string]string) {
	st, _ := os.ReadFile("/proc/self/status")
	for _, k := range []string{"Uid", "Gid", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"} {
		res[k] = statusField(string(st), k)
	}
	res["mount_tmpfs"] = errName(unix.Mount("none", "/tmp", "tmpfs", 0, ""))
	res["mknod_char"] = errName(unix.Mknod("/tmp/escape-suid-mem", unix.S_IFCHR|0o600, int(unix.Mkdev(1, 1))))
	res["write_core_pattern"] = openWrite("/proc/sys/kernel/core_pattern")
	res["unshare_user"] = errName(unix.Unshare(unix.CLONE_NEWUSER))
	// Raise what can be raised: every bounding-set bit into inheritable
	// and ambient, then look again.
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err == nil {
		data[0].Effective, data[1].Effective = ^uint32(0), ^uint32(0)
		data[0].Permitted, data[1].Permitted = ^uint32(0), ^uint32(0)
		res["capset_all"] = errName(unix.Capset(&hdr, &data[0]))
	}
	const capSysAdmin = 21
	res["prctl_ambient_raise_sys_admin"] = errName(unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, capSysAdmin, 0, 0))
	st, _ = os.ReadFile("/proc/self/status")
	res["CapEffAfter"] = statusField(string(st), "CapEff")
}
