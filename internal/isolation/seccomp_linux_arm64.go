package isolation

import "golang.org/x/sys/unix"

// arm64 has no iopl/ioperm and no x32-like ABI; arm32 compat entries have
// another audit arch and are killed.
var nativeSeccomp = seccompArch{
	auditArch: unix.AUDIT_ARCH_AARCH64,
	denied:    deniedCommon(),
	clone:     unix.SYS_CLONE,
	clone3:    unix.SYS_CLONE3,
	unshare:   unix.SYS_UNSHARE,
}
