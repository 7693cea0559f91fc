// Package cgroup finds the host's cgroup2 hierarchy and manages the
// directories vserver puts guests (and chbind'ed programs) in.
//
// Real hosts are mostly pure cgroup v2 (cgroup2 mounted on /sys/fs/cgroup).
// Hybrid hosts mount the v1 controllers on /sys/fs/cgroup/* and a cgroup2
// hierarchy without controllers on /sys/fs/cgroup/unified: there, membership
// and BPF programs use the cgroup2 mount, and limits use the v1 controllers.
package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Unified returns the mount point of the cgroup2 hierarchy.
func Unified() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("find cgroup2 mount: %w", err)
	}
	defer f.Close()
	mounts, err := parseMountinfo(bufio.NewScanner(f))
	if err != nil {
		return "", fmt.Errorf("find cgroup2 mount: %w", err)
	}
	// Prefer the conventional places, so a stray cgroup2 mount elsewhere
	// does not win.
	for _, want := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		for _, m := range mounts {
			if m.fstype == "cgroup2" && m.point == want {
				return m.point, nil
			}
		}
	}
	for _, m := range mounts {
		if m.fstype == "cgroup2" {
			return m.point, nil
		}
	}
	return "", errors.New("find cgroup2 mount: no cgroup2 filesystem is mounted (mount -t cgroup2 none /sys/fs/cgroup/unified)")
}

type mount struct{ point, fstype string }

// parseMountinfo reads the mount point and filesystem type of each line of
// /proc/PID/mountinfo (proc(5)): fields before " - " then fstype.
func parseMountinfo(s *bufio.Scanner) ([]mount, error) {
	var out []mount
	for s.Scan() {
		line := s.Text()
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f := strings.Fields(pre)
		g := strings.Fields(post)
		if len(f) < 5 || len(g) < 1 {
			continue
		}
		out = append(out, mount{point: unescapeOctal(f[4]), fstype: g[0]})
	}
	return out, s.Err()
}

// unescapeOctal undoes the \040-style escapes mountinfo uses for spaces,
// tabs, newlines and backslashes in paths.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
