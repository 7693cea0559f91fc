package isolation

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrNoAbstractScope means the kernel cannot scope abstract unix sockets
// (Landlock ABI 6, Linux 6.12, with landlock in the active LSMs).
var ErrNoAbstractScope = errors.New("kernel cannot scope abstract unix sockets (needs Landlock ABI 6, Linux 6.12)")

// landlockRulesetAttr is struct landlock_ruleset_attr up to "scoped"
// (ABI 6); the kernel accepts a shorter struct than its own.
type landlockRulesetAttr struct {
	handledAccessFS  uint64
	handledAccessNet uint64
	scoped           uint64
}

// LandlockABI returns the kernel's Landlock ABI version (0: none).
func LandlockABI() int {
	v, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if e != 0 {
		return 0
	}
	return int(v)
}

// ScopeAbstractUnix closes the host's abstract unix sockets (X11,
// containerd-shim, D-Bus ...; names are per network namespace, and an
// ipv4root guest shares the host's) to the calling thread and everything
// it forks or execs afterwards: connect and sendto to an abstract socket
// created outside this Landlock domain fail with EPERM, while the guest's
// own abstract sockets keep working. Filesystem and network access are not
// restricted. With Spec.ScopeAbstractUnix the guest's first process calls
// it on its locked OS thread just before exec'ing vinit (Landlock binds the
// thread; Go's other threads are not covered, exec leaves only this one);
// ipv4root.Chbind's tests call it directly. It needs no_new_privs or
// CAP_SYS_ADMIN. On kernels without Landlock ABI 6 it returns
// ErrNoAbstractScope and changes nothing.
func ScopeAbstractUnix() error {
	if LandlockABI() < 6 {
		return ErrNoAbstractScope
	}
	attr := landlockRulesetAttr{scoped: unix.LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET}
	fd, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0)
	if e != 0 {
		return fmt.Errorf("scope abstract unix sockets: landlock_create_ruleset: %w", e)
	}
	defer unix.Close(int(fd))
	if _, _, e := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, fd, 0, 0); e != 0 {
		return fmt.Errorf("scope abstract unix sockets: landlock_restrict_self: %w", e)
	}
	return nil
}
