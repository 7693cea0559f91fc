package isolation

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The probe is this test binary executed as the guest's init (InitPath =
// the test binary, env probeEnv=1). It looks at its own situation with raw
// syscalls and prints what it saw as one JSON object on stdout.
const probeEnv = "ISOLATION_TEST_PROBE"

type observation struct {
	Pid                        int
	FDs                        []int
	Procs                      []int
	Hostname, Domainname       string
	CapBnd, CapEff, CapPrm     string
	CapInh, CapAmb             string
	Seccomp, NoNewPrivs        string
	Loginuid                   string
	Cgroup                     string
	Cwd                        string
	Exe, ExeOpenWrite          string
	Extra                      string // contents of fd 3, if any
	Dev                        []string
	Mknod, Mount               string
	ProcSysWrite, SysMkdir     string
	SysReadOnly                bool
	Kcore, Keys, SysrqWrite    string
	Kexec, Bpf, Keyctl, Perf   string
	Userfaultfd, InitModule    string
	OpenByHandle, UnshareUser  string
	Clone3                     string
	NofileSoft, NofileHard     uint64
	Nice                       int
	Mountinfo                  string
	NetDevs                    []string
	EscapeMarker, EscapeResult string
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		return unix.ErrnoName(errno)
	}
	return err.Error()
}

func rawErr(_, _ uintptr, e unix.Errno) string {
	if e == 0 {
		return "ok"
	}
	return unix.ErrnoName(e)
}

func statusField(status, key string) string {
	for _, l := range strings.Split(status, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func probe() int {
	var o observation
	// fds first, before this code opens any others.
	// A raw open: os.Open would start the runtime's poller (two more fds).
	if fd, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
		d := os.NewFile(uintptr(fd), "fd")
		names, _ := d.Readdirnames(-1)
		for _, name := range names {
			if n, err := strconv.Atoi(name); err == nil && n != fd {
				o.FDs = append(o.FDs, n)
			}
		}
		d.Close()
		sort.Ints(o.FDs)
	}
	o.Pid = os.Getpid()
	if ents, err := os.ReadDir("/proc"); err == nil {
		for _, e := range ents {
			if n, err := strconv.Atoi(e.Name()); err == nil {
				o.Procs = append(o.Procs, n)
			}
		}
	}
	var u unix.Utsname
	_ = unix.Uname(&u)
	o.Hostname = unix.ByteSliceToString(u.Nodename[:])
	o.Domainname = unix.ByteSliceToString(u.Domainname[:])
	st, _ := os.ReadFile("/proc/self/status")
	o.CapBnd = statusField(string(st), "CapBnd")
	o.CapEff = statusField(string(st), "CapEff")
	o.CapPrm = statusField(string(st), "CapPrm")
	o.CapInh = statusField(string(st), "CapInh")
	o.CapAmb = statusField(string(st), "CapAmb")
	o.Seccomp = statusField(string(st), "Seccomp")
	o.NoNewPrivs = statusField(string(st), "NoNewPrivs")
	lu, _ := os.ReadFile("/proc/self/loginuid")
	o.Loginuid = strings.TrimSpace(string(lu))
	cg, _ := os.ReadFile("/proc/self/cgroup")
	o.Cgroup = strings.TrimSpace(string(cg))
	o.Cwd, _ = os.Getwd()
	o.Exe, _ = os.Readlink("/proc/self/exe")
	if f, err := os.OpenFile("/proc/self/exe", os.O_WRONLY, 0); err != nil {
		o.ExeOpenWrite = errString(err)
	} else {
		_, err := f.Write([]byte("x"))
		o.ExeOpenWrite = "opened, write: " + errString(err)
		f.Close()
	}
	if f := os.NewFile(3, "extra"); f != nil {
		b := make([]byte, 100)
		n, _ := f.Read(b)
		o.Extra = string(b[:n])
	}
	if ents, err := os.ReadDir("/dev"); err == nil {
		for _, e := range ents {
			var s unix.Stat_t
			_ = unix.Lstat("/dev/"+e.Name(), &s)
			desc := e.Name()
			switch s.Mode & unix.S_IFMT {
			case unix.S_IFCHR:
				desc += fmt.Sprintf(" c %d:%d", unix.Major(s.Rdev), unix.Minor(s.Rdev))
			case unix.S_IFBLK:
				desc += " b"
			case unix.S_IFLNK:
				l, _ := os.Readlink("/dev/" + e.Name())
				desc += " -> " + l
			case unix.S_IFDIR:
				desc += "/"
			}
			o.Dev = append(o.Dev, desc)
		}
		sort.Strings(o.Dev)
	}
	o.Mknod = errString(unix.Mknod("/tmp/probe-null", unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	o.Mount = errString(unix.Mount("none", "/mnt", "tmpfs", 0, ""))
	o.ProcSysWrite = errString(os.WriteFile("/proc/sys/kernel/domainname", []byte("evil"), 0))
	o.SysMkdir = errString(os.Mkdir("/sys/kernel/probe", 0o755))
	var sfs unix.Statfs_t
	if unix.Statfs("/sys", &sfs) == nil {
		o.SysReadOnly = sfs.Flags&unix.ST_RDONLY != 0
	}
	if b, err := os.ReadFile("/proc/kcore"); err != nil {
		o.Kcore = errString(err)
	} else {
		o.Kcore = fmt.Sprintf("%d bytes", len(b))
	}
	if b, err := os.ReadFile("/proc/keys"); err != nil {
		o.Keys = errString(err)
	} else {
		o.Keys = fmt.Sprintf("%d bytes", len(b))
	}
	o.SysrqWrite = errString(os.WriteFile("/proc/sysrq-trigger", []byte("h"), 0))

	if os.Getenv("PROBE_KEXEC") == "1" { // only ever with the filter on: it would really (un)load
		o.Kexec = rawErr(unix.Syscall6(unix.SYS_KEXEC_LOAD, 0, 0, 0, 0, 0, 0))
	}
	o.Bpf = rawErr(unix.Syscall(unix.SYS_BPF, 0 /* BPF_MAP_CREATE */, 0, 0))
	o.Keyctl = rawErr(unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, sessionKeyring(), 0))
	o.Perf = rawErr(unix.Syscall6(unix.SYS_PERF_EVENT_OPEN, 0, 0, ^uintptr(0), ^uintptr(0), 0, 0))
	o.InitModule = rawErr(unix.Syscall(unix.SYS_INIT_MODULE, 0, 0, 0))
	o.OpenByHandle = rawErr(unix.Syscall(unix.SYS_OPEN_BY_HANDLE_AT, ^uintptr(99), 0, 0))
	r1, r2, e := unix.Syscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC, 0, 0)
	o.Userfaultfd = rawErr(r1, r2, e)
	if e == 0 {
		unix.Close(int(r1))
	}
	// unshare on a fresh locked thread would change it for that thread
	// only; this process exits right after, so the main thread is fine.
	o.UnshareUser = errString(unix.Unshare(unix.CLONE_NEWUSER))
	var cl [88]byte // struct clone_args; all zero is a plain fork, but size 0 → EINVAL without the filter
	o.Clone3 = rawErr(unix.Syscall(unix.SYS_CLONE3, uintptr(unsafe.Pointer(&cl[0])), 0, 0))
	var rl unix.Rlimit
	_ = unix.Getrlimit(unix.RLIMIT_NOFILE, &rl)
	o.NofileSoft, o.NofileHard = rl.Cur, rl.Max
	prio, _ := unix.Getpriority(unix.PRIO_PROCESS, 0)
	o.Nice = 20 - prio // the raw syscall returns 20-nice
	if nd, err := os.ReadFile("/proc/self/net/dev"); err == nil {
		for _, l := range strings.Split(string(nd), "\n")[2:] {
			if name, _, ok := strings.Cut(strings.TrimSpace(l), ":"); ok {
				o.NetDevs = append(o.NetDevs, name)
			}
		}
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	o.Mountinfo = string(mi)

	// Last, because it changes this process's root: the classic chroot
	// escape (util-vserver tests/escaperoot.c).
	if marker := os.Getenv("PROBE_ESCAPE_MARKER"); marker != "" {
		o.EscapeMarker = marker
		o.EscapeResult = chrootEscape(marker)
	}
	_ = json.NewEncoder(os.Stdout).Encode(&o)
	return 0
}

// chrootEscape tries to climb out of the root with a second chroot and
// reports whether the host-only marker file became visible.
func chrootEscape(marker string) string {
	root, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return "open /: " + errString(err)
	}
	_ = os.Mkdir("/escape", 0o700)
	if err := unix.Chroot("/escape"); err != nil {
		return "chroot: " + errString(err)
	}
	if err := unix.Fchdir(root); err != nil {
		return "fchdir: " + errString(err)
	}
	for i := 0; i < 64; i++ {
		_ = unix.Chdir("..")
	}
	_ = unix.Chroot(".")
	if _, err := os.Stat(marker); err == nil {
		return "escaped: " + marker + " is visible"
	}
	wd, _ := os.Getwd()
	entries, _ := os.ReadDir("/")
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return "contained in " + filepath.Clean(wd) + " [" + strings.Join(names, " ") + "]"
}

func sessionKeyring() uintptr {
	k := int64(unix.KEY_SPEC_SESSION_KEYRING)
	return uintptr(k)
}
