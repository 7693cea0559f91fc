package isolation

import (
	"errors"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// deniedCommon is the deny-list, in the architecture's numbers, plus extra
// architecture-only calls. Why each is denied is in docs/security.md.
func deniedCommon(extra ...int) []int32 {
	nrs := []int{
		unix.SYS_KEXEC_LOAD, unix.SYS_KEXEC_FILE_LOAD, // CAP_SYS_BOOT is kept
		unix.SYS_INIT_MODULE, unix.SYS_FINIT_MODULE, unix.SYS_DELETE_MODULE,
		unix.SYS_OPEN_BY_HANDLE_AT, // "shocker": CAP_DAC_READ_SEARCH is kept
		unix.SYS_BPF, unix.SYS_PERF_EVENT_OPEN,
		unix.SYS_ADD_KEY, unix.SYS_REQUEST_KEY, unix.SYS_KEYCTL, // keyrings are not namespaced
		unix.SYS_SWAPON, unix.SYS_SWAPOFF,
		unix.SYS_QUOTACTL, unix.SYS_QUOTACTL_FD,
		unix.SYS_FANOTIFY_INIT,
		unix.SYS_USERFAULTFD, // CAP_SYS_PTRACE is kept, which unlocks it; an exploit staple
		unix.SYS_ACCT, unix.SYS_LOOKUP_DCOOKIE,
	}
	nrs = append(nrs, extra...)
	out := make([]int32, len(nrs))
	for i, n := range nrs {
		out[i] = int32(n)
	}
	return out
}

// installSeccomp loads the filter for the calling thread, which then execs.
// Without NO_NEW_PRIVS this needs CAP_SYS_ADMIN in the effective set, which
// the child still has at this point.
func installSeccomp(denyUserns bool) error {
	if nativeSeccomp.auditArch == 0 {
		return errors.New("no seccomp syscall table for " + runtime.GOARCH)
	}
	prog := buildSeccomp(nativeSeccomp, denyUserns)
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog)))
	if errno != 0 {
		return os.NewSyscallError("seccomp", errno)
	}
	return nil
}
