package isolation

import "golang.org/x/sys/unix"

var nativeSeccomp = seccompArch{
	auditArch: unix.AUDIT_ARCH_X86_64,
	x32:       true,
	denied:    deniedCommon(unix.SYS_IOPL, unix.SYS_IOPERM),
	clone:     unix.SYS_CLONE,
	clone3:    unix.SYS_CLONE3,
	unshare:   unix.SYS_UNSHARE,
}
