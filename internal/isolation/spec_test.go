package isolation

import (
	"os"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseCaps(t *testing.T) {
	got, err := ParseCaps([]string{"sys_boot", "CAP_CHOWN", "chown", " Kill ", "cap_net_bind_service"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SYS_BOOT"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	_, err = ParseCaps([]string{"CAP_CHOWNN"})
	if err == nil || err.Error() != `unknown capability "CAP_CHOWNN", did you mean "CAP_CHOWN"?` {
		t.Errorf("near miss: %v", err)
	}
	if _, err := ParseCaps([]string{"everything"}); err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("far miss: %v", err)
	}
	def, err := ParseCaps(DefaultCaps())
	if err != nil || len(def) != len(DefaultCaps()) {
		t.Errorf("DefaultCaps does not parse to itself: %v %v", def, err)
	}
	for _, never := range []string{"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_SYS_ADMIN", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_BPF", "CAP_PERFMON", "CAP_MKNOD"} {
		if slices.Contains(DefaultCaps(), never) {
			t.Errorf("DefaultCaps keeps %s", never)
		}
	}
	if len(capNames) != unix.CAP_LAST_CAP+1 {
		t.Errorf("capability table has %d names, the kernel headers know %d", len(capNames), unix.CAP_LAST_CAP+1)
	}
}

func TestParseRlimits(t *testing.T) {
	got, err := parseRlimits(map[string][2]uint64{"nofile": {10, 20}, "RLIMIT_NPROC": {5, 5}, "Core": {0, ^uint64(0)}})
	if err != nil {
		t.Fatal(err)
	}
	want := []rlimit{{unix.RLIMIT_CORE, 0, ^uint64(0)}, {unix.RLIMIT_NPROC, 5, 5}, {unix.RLIMIT_NOFILE, 10, 20}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for want, limits := range map[string]map[string][2]uint64{
		`unknown resource limit "files"`:  {"files": {1, 1}},
		`soft limit 9 above hard limit 8`: {"nofile": {9, 8}},
		`given twice`:                     {"nofile": {1, 1}, "RLIMIT_NOFILE": {1, 1}},
	} {
		if _, err := parseRlimits(limits); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: error %v, want %q", limits, err, want)
		}
	}
}

func TestPrepareRefuses(t *testing.T) {
	root := t.TempDir()
	base := func() *Spec { return &Spec{Name: "x", Root: root, InitPath: "/bin/true"} }
	for _, c := range []struct {
		mod  func(*Spec)
		want string
	}{
		{func(s *Spec) { s.Root = "relative" }, "not an absolute path"},
		{func(s *Spec) { s.Root = root + "/missing" }, "no such file"},
		{func(s *Spec) { s.InitPath = "vinit" }, "not an absolute host path"},
		{func(s *Spec) { s.Nice = 20 }, "outside -20..19"},
		{func(s *Spec) { s.Caps = []string{"CAP_NOPE"} }, "unknown capability"},
		{func(s *Spec) { s.Mounts = []Mount{{Source: root, Target: "/proc/sys"}} }, "inside /proc"},
		{func(s *Spec) { s.Mounts = []Mount{{Source: root, Target: "/dev"}} }, "inside /dev"},
		{func(s *Spec) { s.Mounts = []Mount{{Source: root, Target: "/../"}} }, "is the guest root"},
		{func(s *Spec) { s.Mounts = []Mount{{Source: root, Target: "data"}} }, "not an absolute guest path"},
		{func(s *Spec) { s.Mounts = []Mount{{Source: root + "/nope", Target: "/data"}} }, "mount source"},
		{func(s *Spec) { s.ExtraFiles = make([]*os.File, 1) }, "extra file 0 (fd 3) is nil"},
	} {
		s := base()
		c.mod(s)
		if _, err := prepare(s); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
	cfg, err := prepare(&Spec{Name: "x", Root: root + "/", InitPath: "/bin/true", Mounts: []Mount{{Source: root, Target: "/srv//data/"}}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Root != root || cfg.Mounts[0].Target != "/srv/data" || !cfg.MountIsDir[0] || cfg.Args[0] != "vinit" {
		t.Errorf("prepared %+v", cfg)
	}
	if n := cfg.Rlimits[len(cfg.Rlimits)-1]; n.Resource != unix.RLIMIT_NOFILE || n.Soft > 1024 {
		t.Errorf("default open-files limit %+v", n)
	}
}

// bpfRun interprets the few classic BPF instructions buildSeccomp emits.
func bpfRun(t *testing.T, prog []unix.SockFilter, arch, nr, arg0 uint32) uint32 {
	t.Helper()
	var a uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			switch in.K {
			case seccompDataNr:
				a = nr
			case seccompDataArch:
				a = arch
			case seccompDataArg0:
				a = arg0
			default:
				t.Fatalf("load of offset %d", in.K)
			}
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			var cond bool
			switch in.Code & 0xf0 {
			case unix.BPF_JEQ:
				cond = a == in.K
			case unix.BPF_JGE:
				cond = a >= in.K
			case unix.BPF_JSET:
				cond = a&in.K != 0
			}
			if cond {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		default:
			t.Fatalf("unexpected instruction %#x", in.Code)
		}
	}
	t.Fatal("program fell off its end")
	return 0
}

func TestSeccompProgram(t *testing.T) {
	a := seccompArch{auditArch: 0xc000003e, x32: true, denied: []int32{246, 321}, clone: 56, clone3: 435, unshare: 272}
	prog := buildSeccomp(a, true)
	eperm := unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	for _, c := range []struct {
		name           string
		arch, nr, arg0 uint32
		want           uint32
	}{
		{"allowed", a.auditArch, 0, 0, unix.SECCOMP_RET_ALLOW},
		{"denied", a.auditArch, 246, 0, eperm},
		{"denied last", a.auditArch, 321, 0, eperm},
		{"foreign arch", 0x40000003, 0, 0, unix.SECCOMP_RET_KILL_PROCESS},
		{"x32", a.auditArch, x32SyscallBit | 1, 0, unix.SECCOMP_RET_KILL_PROCESS},
		{"clone thread", a.auditArch, 56, 0x3d0f00, unix.SECCOMP_RET_ALLOW},
		{"clone newuser", a.auditArch, 56, cloneNewUser | 0x11, eperm},
		{"unshare newns", a.auditArch, 272, unix.CLONE_NEWNS, unix.SECCOMP_RET_ALLOW},
		{"unshare newuser", a.auditArch, 272, cloneNewUser, eperm},
		{"clone3", a.auditArch, 435, 0, unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
	} {
		if got := bpfRun(t, prog, c.arch, c.nr, c.arg0); got != c.want {
			t.Errorf("%s: %#x, want %#x", c.name, got, c.want)
		}
	}
	if got := bpfRun(t, buildSeccomp(a, false), a.auditArch, 56, cloneNewUser); got != unix.SECCOMP_RET_ALLOW {
		t.Errorf("without the user namespace rule clone(CLONE_NEWUSER): %#x", got)
	}
	native := buildSeccomp(nativeSeccomp, true)
	if len(native) > 255 {
		t.Errorf("native program has %d instructions", len(native))
	}
	for _, nr := range nativeSeccomp.denied {
		if got := bpfRun(t, native, nativeSeccomp.auditArch, uint32(nr), 0); got != eperm {
			t.Errorf("native: syscall %d: %#x", nr, got)
		}
	}
}

func TestCheckKernel(t *testing.T) {
	// The tests here start real guests on this kernel: it must pass.
	if err := CheckKernel(); err != nil {
		t.Fatal(err)
	}
}
