package isolation

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// CheckKernel reports the first kernel interface Start needs that this
// kernel lacks (for `vserver check`): openat2 (5.6), the new mount API
// with mount_setattr (5.12), close_range with CLOSE_RANGE_CLOEXEC (5.11),
// sealed memfds, user-space seccomp filters and the namespaces.
func CheckKernel() error {
	// Each call is made with an invalid fd or argument: EBADF or EINVAL
	// means the syscall exists; ENOSYS that it does not.
	probes := []struct {
		what string
		call func() error
	}{
		{"openat2 (Linux 5.6)", func() error {
			_, err := unix.Openat2(-1, "x", &unix.OpenHow{Resolve: unix.RESOLVE_IN_ROOT})
			return err
		}},
		{"open_tree and move_mount (Linux 5.2)", func() error { _, err := unix.OpenTree(-1, "x", 0); return err }},
		{"fsopen (Linux 5.2)", func() error { _, err := unix.Fsopen("", 0xffff); return err }},
		{"mount_setattr (Linux 5.12)", func() error { return unix.MountSetattr(-1, "x", 0, &unix.MountAttr{}) }},
		{"close_range (Linux 5.9)", func() error { return unix.CloseRange(^uint(0), 0, 0) }},
	}
	for _, p := range probes {
		if err := p.call(); errors.Is(err, unix.ENOSYS) {
			return fmt.Errorf("kernel lacks %s", p.what)
		}
	}
	fd, err := unix.MemfdCreate("probe", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return fmt.Errorf("kernel lacks sealable memfds: %w", err)
	}
	unix.Close(fd)
	if _, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("kernel lacks seccomp: %w", err)
	}
	for _, ns := range []string{"pid", "mnt", "uts", "ipc", "cgroup", "net"} {
		if _, err := os.Stat("/proc/self/ns/" + ns); err != nil {
			return fmt.Errorf("kernel lacks %s namespaces: %w", ns, err)
		}
	}
	return nil
}
