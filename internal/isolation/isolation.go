// Package isolation builds a guest's security context and executes the
// host's vinit as the guest's PID 1.
//
// Start re-executes the calling binary (/proc/self/exe) directly into the
// guest's cgroup with new PID, mount, UTS, IPC and cgroup namespaces (and a
// new network namespace on request). That child, PID 1 of the new PID
// namespace and still the host's binary, recognises itself in Reexec, which
// main must call before anything else. It makes every mount private, binds
// the guest root onto itself, builds /proc (masked), /sys (read-only) and a
// fresh /dev inside it, resolving every guest path with openat2
// RESOLVE_IN_ROOT and mounting onto file descriptors (the new mount API) so a
// symlink the guest planted cannot redirect a mount, pivots into the root and
// detaches the old one, sets the hostname, limits, capability bounding set
// and seccomp filter, and finally executes a sealed in-memory copy of the
// host's vinit. No guest code runs before that exec.
//
// docs/security.md lists each defence, the escape it closes and its test.
package isolation

import (
	"fmt"
	"os"
	"syscall"
)

// Mount is a host directory (or file) bind-mounted into the guest.
type Mount struct {
	Source   string // host path, trusted (the admin's config)
	Target   string // absolute path inside the guest; resolved inside the guest root
	ReadOnly bool
}

// Spec describes one guest start.
type Spec struct {
	Name       string // guest name, for messages
	Root       string // host path of the guest's root directory
	Hostname   string // empty: leave the UTS namespace's copy of the host's
	Domainname string // NIS domain name; empty: leave it

	// InitPath is the host's vinit. It is copied into a sealed memfd before
	// the child starts and executed from there: the guest can neither
	// replace it nor write to it through /proc/1/exe. It must be a static
	// ELF binary (a #! script cannot be executed from a close-on-exec memfd).
	InitPath string
	InitArgs []string // argv of vinit, argv[0] included (should be "vinit"); empty: {"vinit"}
	Env      []string // vinit's whole environment; nil: PATH only

	// CgroupFD is an open directory fd of the guest's cgroup2 group; the
	// child is created inside it (CLONE_INTO_CGROUP). 0 or negative: the
	// child stays in the caller's cgroup (tests only).
	CgroupFD int
	NewNet   bool // a new, empty network namespace (netns mode)

	// Prepare, if set, is called with the host pid of the guest's first
	// process once it exists in its new namespaces and before it does
	// anything there: that process waits for its setup on a pipe, which
	// Start writes only after Prepare returned (the "go"). The launcher
	// configures the guest's network namespace here (netns.Setup), so the
	// network is complete before vinit or any service runs. An error kills
	// the process, and Start fails with it.
	Prepare func(pid int) error

	// ScopeAbstractUnix closes the host's abstract unix sockets to the
	// guest: its first process scopes itself with Landlock
	// (ScopeAbstractUnix) as the last step before exec'ing vinit, which
	// everything in the guest inherits. Needed when the guest shares the
	// host's network namespace (ipv4root); abstract names are per network
	// namespace. On kernels without Landlock ABI 6 the step is skipped
	// (LandlockABI says; the launcher reports the protection as missing).
	ScopeAbstractUnix bool

	// Caps is the capability bounding set to keep, by name ("CAP_CHOWN").
	// Everything else is dropped from the bounding, inheritable and
	// ambient sets; vinit runs as root with exactly these capabilities.
	// Use DefaultCaps and ParseCaps to build it. nil keeps nothing.
	Caps []string

	// Rlimits maps a resource name ("nofile" or "RLIMIT_NOFILE") to
	// {soft, hard}; ^uint64(0) is unlimited. RLIMIT_NOFILE defaults to the
	// kernel's boot value 1024 (soft) with the caller's hard limit, because
	// the Go runtime raises the soft limit of every Go process.
	Rlimits map[string][2]uint64
	Nice    int // vinit's nice value (-20..19); set always, so 0 undoes a niced launcher
	Mounts  []Mount

	// ConsolePath is the host path of the pty slave that becomes the
	// guest's /dev/console; empty gives a /dev/console that is a null device.
	ConsolePath string
	// Stdio are vinit's fds 0, 1 and 2 (normally the console pty slave);
	// a nil entry is /dev/null.
	Stdio [3]*os.File
	// ExtraFiles become vinit's fds 3, 4, ... in order. Every other fd is
	// closed before vinit runs.
	ExtraFiles []*os.File

	// Seccomp installs the syscall deny-list (see docs/security.md). The
	// launcher's default is true; with CAP_SYS_BOOT kept, turning it off
	// lets the guest's root kexec a new kernel.
	Seccomp bool
	// NoNewPrivs sets PR_SET_NO_NEW_PRIVS for vinit and everything in the
	// guest: setuid programs then no longer gain privileges. Off by default
	// because full distributions need su, sudo, passwd.
	NoNewPrivs bool
	// Pdeathsig, if non-zero, is sent to the guest's PID 1 when the thread
	// that called Start exits (prctl PR_SET_PDEATHSIG follows the creating
	// thread): call Start from a goroutine locked to its OS thread for the
	// guest's whole life, or leave it zero.
	Pdeathsig syscall.Signal
}

// DefaultCaps is the default bounding set (DESIGN §4.4): what the 2003
// `--secure` context kept, plus SETFCAP, AUDIT_WRITE and SYS_BOOT (reboot(2)
// in a PID namespace only ends that namespace; kexec is denied by seccomp).
func DefaultCaps() []string {
	return []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
		"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
		"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
		"CAP_SYS_TTY_CONFIG", "CAP_LEASE", "CAP_SETFCAP", "CAP_AUDIT_WRITE",
		"CAP_SYS_BOOT",
	}
}

// ParseCaps validates capability names and normalises them to the
// "CAP_CHOWN" form; "chown", "CHOWN" and "cap_chown" are all accepted.
// Duplicates are removed; the result is in kernel (number) order.
func ParseCaps(names []string) ([]string, error) {
	seen := make(map[int]bool, len(names))
	for _, n := range names {
		num, ok := capNumber(n)
		if !ok {
			return nil, fmt.Errorf("unknown capability %q%s", n, capSuggestion(n))
		}
		seen[num] = true
	}
	out := make([]string, 0, len(seen))
	for num, name := range capNames {
		if seen[num] {
			out = append(out, name)
		}
	}
	return out, nil
}
