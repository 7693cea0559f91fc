package isolation

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// childEnv marks the re-executed child; its value is the first of the
// child's private fds (see childFDs).
const childEnv = "_VSERVER_ISOLATION_CHILD"

// setupTimeout bounds the child's setup; it only mounts and execs, so this
// is generous.
const setupTimeout = 30 * time.Second

// The child's private fds, after stdio and the ExtraFiles: base+0 the config
// pipe, base+1 the report pipe, base+2 the sealed init.
const (
	fdConfig = iota
	fdReport
	fdInit
)

// childConfig is what the launcher sends the child over the config pipe:
// the Spec, validated and resolved to numbers.
type childConfig struct {
	Name, Root, Hostname, Domainname string
	Args, Env                        []string
	KeepCaps                         uint64
	Rlimits                          []rlimit
	Nice                             int
	Mounts                           []Mount
	MountIsDir                       []bool
	ConsolePath                      string
	NumExtra                         int
	Seccomp, NoNewPrivs              bool
	ScopeAbstractUnix                bool
}

// Start creates the guest's context and runs its PID 1; see the package
// comment. It returns when PID 1 has executed the sealed init, or with the
// step of the setup that failed; on failure nothing is left running.
func Start(spec *Spec) (*os.Process, error) {
	cfg, err := prepare(spec)
	if err != nil {
		return nil, fmt.Errorf("start guest %q: %w", spec.Name, err)
	}
	p, err := start(spec, cfg)
	if err != nil {
		return nil, fmt.Errorf("start guest %q: %w", spec.Name, err)
	}
	return p, nil
}

// prepare validates spec on the host side so that mistakes in the config
// are reported before any process or mount exists.
func prepare(spec *Spec) (*childConfig, error) {
	if !filepath.IsAbs(spec.Root) {
		return nil, fmt.Errorf("guest root %q is not an absolute path", spec.Root)
	}
	if fi, err := os.Stat(spec.Root); err != nil {
		return nil, fmt.Errorf("guest root: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("guest root %s is not a directory", spec.Root)
	}
	if !filepath.IsAbs(spec.InitPath) {
		return nil, fmt.Errorf("init %q is not an absolute host path", spec.InitPath)
	}
	if len(spec.Hostname) > 64 || len(spec.Domainname) > 64 {
		return nil, errors.New("hostname and domainname are limited to 64 bytes")
	}
	if spec.Nice < -20 || spec.Nice > 19 {
		return nil, fmt.Errorf("nice %d is outside -20..19", spec.Nice)
	}
	if spec.ConsolePath != "" && !filepath.IsAbs(spec.ConsolePath) {
		return nil, fmt.Errorf("console %q is not an absolute host path", spec.ConsolePath)
	}
	keep, err := capMask(spec.Caps)
	if err != nil {
		return nil, err
	}
	limits, err := parseRlimits(spec.Rlimits)
	if err != nil {
		return nil, err
	}
	limits, err = withDefaultNofile(limits)
	if err != nil {
		return nil, err
	}
	cfg := &childConfig{
		Name: spec.Name, Root: filepath.Clean(spec.Root),
		Hostname: spec.Hostname, Domainname: spec.Domainname,
		Args: spec.InitArgs, Env: spec.Env,
		KeepCaps: keep, Rlimits: limits, Nice: spec.Nice,
		ConsolePath: spec.ConsolePath, NumExtra: len(spec.ExtraFiles),
		Seccomp: spec.Seccomp, NoNewPrivs: spec.NoNewPrivs,
		ScopeAbstractUnix: spec.ScopeAbstractUnix,
	}
	if len(cfg.Args) == 0 {
		cfg.Args = []string{"vinit"}
	}
	if cfg.Env == nil {
		cfg.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	}
	for _, m := range spec.Mounts {
		if !filepath.IsAbs(m.Source) {
			return nil, fmt.Errorf("mount source %q is not an absolute host path", m.Source)
		}
		fi, err := os.Stat(m.Source)
		if err != nil {
			return nil, fmt.Errorf("mount source: %w", err)
		}
		t, err := guestMountTarget(m.Target)
		if err != nil {
			return nil, err
		}
		cfg.Mounts = append(cfg.Mounts, Mount{Source: filepath.Clean(m.Source), Target: t, ReadOnly: m.ReadOnly})
		cfg.MountIsDir = append(cfg.MountIsDir, fi.IsDir())
	}
	for i, f := range spec.ExtraFiles {
		if f == nil {
			return nil, fmt.Errorf("extra file %d (fd %d) is nil", i, 3+i)
		}
	}
	return cfg, nil
}

// guestMountTarget cleans a guest path and refuses the ones the launcher
// itself builds: a bind over /proc, /sys or /dev would undo their masking.
// (A guest symlink that leads there is handled by mounting the system
// directories after the admin's mounts.)
func guestMountTarget(t string) (string, error) {
	if !path.IsAbs(t) {
		return "", fmt.Errorf("mount target %q is not an absolute guest path", t)
	}
	c := path.Clean(t)
	if c == "/" {
		return "", fmt.Errorf("mount target %q is the guest root", t)
	}
	for _, sys := range []string{"/proc", "/sys", "/dev"} {
		if c == sys || strings.HasPrefix(c, sys+"/") {
			return "", fmt.Errorf("mount target %q is inside %s, which the launcher builds", t, sys)
		}
	}
	return c, nil
}

// withDefaultNofile adds RLIMIT_NOFILE = 1024:hard unless given: the Go
// runtime raised this process's soft limit, and the guest should boot with
// the kernel's default like any init.
func withDefaultNofile(l []rlimit) ([]rlimit, error) {
	for _, r := range l {
		if r.Resource == rlimitNofile {
			return l, nil
		}
	}
	var cur unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &cur); err != nil {
		return nil, fmt.Errorf("read own open-files limit: %w", err)
	}
	return append(l, rlimit{Resource: rlimitNofile, Soft: min(1024, cur.Max), Max: cur.Max}), nil
}

func start(spec *Spec, cfg *childConfig) (*os.Process, error) {
	init, err := sealedCopy(spec.InitPath)
	if err != nil {
		return nil, err
	}
	defer init.Close()
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("create setup pipe: %w", err)
	}
	defer cfgW.Close()
	repR, repW, err := os.Pipe()
	if err != nil {
		cfgR.Close()
		return nil, fmt.Errorf("create report pipe: %w", err)
	}
	defer repR.Close()

	files := make([]*os.File, 0, 3+len(spec.ExtraFiles)+3)
	for i, f := range spec.Stdio {
		if f == nil {
			null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
			if err != nil {
				cfgR.Close()
				repW.Close()
				return nil, fmt.Errorf("open %s for fd %d: %w", os.DevNull, i, err)
			}
			defer null.Close()
			f = null
		}
		files = append(files, f)
	}
	files = append(files, spec.ExtraFiles...)
	base := len(files)
	files = append(files, cfgR, repW, init)

	flags := unix.CLONE_NEWPID | unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWCGROUP
	if spec.NewNet {
		flags |= unix.CLONE_NEWNET
	}
	sys := &syscall.SysProcAttr{
		Cloneflags: uintptr(flags),
		Setsid:     true, // not in the launcher's session: its terminal's signals do not reach the guest
		Pdeathsig:  spec.Pdeathsig,
	}
	if spec.CgroupFD > 0 {
		sys.UseCgroupFD = true
		sys.CgroupFD = spec.CgroupFD
	}
	proc, err := os.StartProcess("/proc/self/exe", []string{"vserver-isolation", spec.Name}, &os.ProcAttr{
		Dir:   "/",
		Env:   []string{childEnv + "=" + strconv.Itoa(base)},
		Files: files,
		Sys:   sys,
	})
	cfgR.Close()
	repW.Close()
	if err != nil {
		return nil, fmt.Errorf("create guest namespaces: %w", err)
	}

	// The child waits for its config before doing anything: sending it is
	// the go for the setup. Until then the launcher prepares the guest's
	// side of its namespaces from the host.
	if spec.Prepare != nil {
		if err := spec.Prepare(proc.Pid); err != nil {
			_ = proc.Kill()
			_, _ = proc.Wait()
			return nil, err
		}
	}
	sendErr := json.NewEncoder(cfgW).Encode(cfg)
	cfgW.Close()
	_ = repR.SetReadDeadline(time.Now().Add(setupTimeout))
	report, readErr := io.ReadAll(io.LimitReader(repR, 4096))
	if len(report) == 0 && sendErr == nil && readErr == nil {
		// The report pipe is close-on-exec: EOF without a word means
		// the child executed init.
		return proc, nil
	}
	_ = proc.Kill() // PID 1: takes the whole new PID namespace with it
	st, _ := proc.Wait()
	switch {
	case len(report) > 0:
		return nil, errors.New(strings.TrimSpace(string(report)))
	case errors.Is(readErr, os.ErrDeadlineExceeded):
		return nil, fmt.Errorf("guest setup did not finish within %v", setupTimeout)
	case sendErr != nil:
		return nil, fmt.Errorf("send setup to the guest's first process (%v): %w", st, sendErr)
	default:
		return nil, fmt.Errorf("read setup report: %w", readErr)
	}
}

// sealedCopy copies the host's init into a memfd sealed against every
// change, so the running guest cannot modify the binary it was started
// from (through /proc/1/exe) nor the host's file.
func sealedCopy(p string) (*os.File, error) {
	src, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open init: %w", err)
	}
	defer src.Close()
	if fi, err := src.Stat(); err != nil {
		return nil, fmt.Errorf("open init: %w", err)
	} else if !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("init %s is not an executable file", p)
	}
	flags := unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING
	fd, err := unix.MemfdCreate(filepath.Base(p), flags|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) { // before Linux 6.3 there is no MFD_EXEC
		fd, err = unix.MemfdCreate(filepath.Base(p), flags)
	}
	if err != nil {
		return nil, fmt.Errorf("copy init %s: %w", p, os.NewSyscallError("memfd_create", err))
	}
	m := os.NewFile(uintptr(fd), "memfd:"+filepath.Base(p))
	if _, err := io.Copy(m, src); err != nil {
		m.Close()
		return nil, fmt.Errorf("copy init %s: %w", p, err)
	}
	if err := unix.Fchmod(fd, 0o555); err != nil {
		m.Close()
		return nil, fmt.Errorf("copy init %s: %w", p, os.NewSyscallError("fchmod", err))
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		m.Close()
		return nil, fmt.Errorf("seal copy of init %s: %w", p, os.NewSyscallError("fcntl", err))
	}
	return m, nil
}
