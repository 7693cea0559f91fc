package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

func isCgroup1(p string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return false
	}
	return st.Type == unix.CGROUP_SUPER_MAGIC
}

// EnterThread moves the calling OS thread into v's directories, so that a
// process it forks next starts in them (cgroup v1 is per thread, and a
// child inherits its forking thread's groups). The caller must hold
// runtime.LockOSThread until it has called the returned leave, which moves
// every thread of this process found in v's directories (the Go runtime may
// have started threads from the moved one meanwhile) back to where the
// calling thread was.
func (v *V1) EnterThread() (leave func() error, err error) {
	tid := unix.Gettid()
	orig, err := threadV1Groups(tid)
	if err != nil {
		return nil, err
	}
	leave = func() error {
		var errs []error
		for c, d := range v.dirs {
			back := orig[c]
			if back == "" {
				continue
			}
			b, err := os.ReadFile(filepath.Join(d, "tasks"))
			if err != nil {
				errs = append(errs, fmt.Errorf("list threads of cgroup %s: %w", d, err))
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if _, err := os.Stat(fmt.Sprintf("/proc/self/task/%s", f)); err != nil {
					continue // not one of ours
				}
				if err := os.WriteFile(filepath.Join(back, "tasks"), []byte(f), 0); err != nil && !errors.Is(err, unix.ESRCH) {
					errs = append(errs, fmt.Errorf("move thread %s back to cgroup %s: %w", f, back, err))
				}
			}
		}
		return errors.Join(errs...)
	}
	for _, c := range v1Controllers {
		d := v.dirs[c]
		if d == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(d, "tasks"), []byte(strconv.Itoa(tid)), 0); err != nil {
			_ = leave()
			return nil, fmt.Errorf("move thread %d to cgroup %s: %w", tid, d, err)
		}
	}
	return leave, nil
}

// threadV1Groups maps each v1 controller to the directory thread tid is in.
func threadV1Groups(tid int) (map[string]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/cgroup", tid))
	if err != nil {
		return nil, fmt.Errorf("read cgroups of thread %d: %w", tid, err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 || f[1] == "" {
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			if m := v1Mount(c); m != "" {
				out[c] = filepath.Join(m, f[2])
			}
		}
	}
	return out, nil
}
