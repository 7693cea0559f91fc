package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Limits are a guest's resource limits; a zero field means "no limit".
//
// Where they are enforced: on a pure cgroup2 host (or any host whose cgroup2
// tree has the controller) in the guest's cgroup2 group (pids.max,
// memory.max, cpu.max, cpu.weight). On a hybrid host whose controllers are
// mounted as cgroup v1 hierarchies under /sys/fs/cgroup/CONTROLLER, in a
// directory of the same relative path there (pids.max,
// memory.limit_in_bytes, cpu.cfs_quota_us, cpu.shares). v1 membership is
// not covered by CLONE_INTO_CGROUP: the process starting the guest must put
// the forking thread into the v1 groups first (V1.EnterThread).
type Limits struct {
	Pids       int64
	Memory     int64 // bytes
	CPUPercent int   // quota in percent of one CPU
	CPUWeight  int   // 1..10000, 100 is the default share
}

// v1Controllers are the v1 hierarchies a guest gets a directory in, for
// limits and for accounting (list/status read them).
var v1Controllers = []string{"pids", "memory", "cpu", "cpuacct"}

// V1 is a guest's set of cgroup v1 directories (controller → directory).
type V1 struct {
	dirs map[string]string
}

// Dirs lists the directories, sorted.
func (v *V1) Dirs() []string {
	var out []string
	seen := map[string]bool{}
	for _, d := range v.dirs {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}

// unifiedHas reports whether the cgroup2 tree offers controller c.
func unifiedHas(c string) bool {
	root, err := Unified()
	if err != nil {
		return false
	}
	b, err := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
	if err != nil {
		return false
	}
	for _, f := range strings.Fields(string(b)) {
		if f == c {
			return true
		}
	}
	return false
}

// v1Mount returns the mount of v1 controller c, or "".
func v1Mount(c string) string {
	p := filepath.Join("/sys/fs/cgroup", c)
	if !isCgroup1(p) {
		return ""
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

// enableV2 turns controller c on in the subtree_control of every ancestor
// of g, so g gets c's files.
func enableV2(g *Group, c string) error {
	root, err := Unified()
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(root, g.path)
	if err != nil || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("enable %s for cgroup %s: not under %s", c, g.path, root)
	}
	dir := root
	parts := strings.Split(rel, string(filepath.Separator))
	for _, part := range parts {
		if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+"+c), 0); err != nil {
			return fmt.Errorf("enable %s in %s: %w", c, dir, err)
		}
		dir = filepath.Join(dir, part)
	}
	return nil
}

// Apply puts l on the guest whose cgroup2 group is g and whose relative path
// (for the v1 hierarchies) is rel. It returns the v1 directories it made
// (possibly none); the caller removes them with V1.Remove.
func Apply(g *Group, rel string, l Limits) (*V1, error) {
	v := &V1{dirs: map[string]string{}}
	want := map[string]bool{"pids": l.Pids > 0, "memory": l.Memory > 0, "cpu": l.CPUPercent > 0 || l.CPUWeight > 0}
	onV2 := map[string]bool{}
	for _, c := range []string{"pids", "memory", "cpu"} {
		if unifiedHas(c) {
			if err := enableV2(g, c); err == nil {
				onV2[c] = true
				continue
			} else if want[c] {
				return v, err
			}
		}
	}
	// v1: a directory for every mounted controller not served by cgroup2
	// (accounting needs them even without limits).
	for _, c := range v1Controllers {
		if onV2[c] || (c == "cpuacct" && onV2["cpu"]) {
			continue
		}
		m := v1Mount(c)
		if m == "" {
			if want[c] {
				return v, fmt.Errorf("limit %s: no %s controller in the cgroup2 tree or as a cgroup v1 hierarchy", c, c)
			}
			continue
		}
		d := filepath.Join(m, filepath.Clean("/"+rel))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return v, fmt.Errorf("create cgroup %s: %w", d, err)
		}
		v.dirs[c] = d
	}
	write := func(dir, file, val string) error {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(val), 0); err != nil {
			return fmt.Errorf("set %s of cgroup %s to %s: %w", file, dir, val, err)
		}
		return nil
	}
	if l.Pids > 0 {
		dir := g.path
		if !onV2["pids"] {
			dir = v.dirs["pids"]
		}
		if err := write(dir, "pids.max", strconv.FormatInt(l.Pids, 10)); err != nil {
			return v, err
		}
	}
	if l.Memory > 0 {
		if onV2["memory"] {
			if err := write(g.path, "memory.max", strconv.FormatInt(l.Memory, 10)); err != nil {
				return v, err
			}
		} else if err := write(v.dirs["memory"], "memory.limit_in_bytes", strconv.FormatInt(l.Memory, 10)); err != nil {
			return v, err
		}
	}
	const period = 100000
	if l.CPUPercent > 0 {
		quota := strconv.Itoa(l.CPUPercent * period / 100)
		if onV2["cpu"] {
			if err := write(g.path, "cpu.max", quota+" "+strconv.Itoa(period)); err != nil {
				return v, err
			}
		} else {
			if err := write(v.dirs["cpu"], "cpu.cfs_period_us", strconv.Itoa(period)); err != nil {
				return v, err
			}
			if err := write(v.dirs["cpu"], "cpu.cfs_quota_us", quota); err != nil {
				return v, err
			}
		}
	}
	if l.CPUWeight > 0 {
		if onV2["cpu"] {
			if err := write(g.path, "cpu.weight", strconv.Itoa(l.CPUWeight)); err != nil {
				return v, err
			}
		} else if err := write(v.dirs["cpu"], "cpu.shares", strconv.Itoa(max(2, l.CPUWeight*1024/100))); err != nil {
			return v, err
		}
	}
	return v, nil
}

// OpenV1 returns the existing v1 directories at rel (for cleaning up after a
// monitor that died, and for statistics).
func OpenV1(rel string) *V1 {
	v := &V1{dirs: map[string]string{}}
	for _, c := range v1Controllers {
		m := v1Mount(c)
		if m == "" {
			continue
		}
		d := filepath.Join(m, filepath.Clean("/"+rel))
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			v.dirs[c] = d
		}
	}
	return v
}

// Remove deletes the v1 directories. Their processes must be gone; a
// directory still busy is retried until the deadline (the kernel frees an
// exited task's membership asynchronously).
func (v *V1) Remove(deadline time.Time) error {
	var errs []error
	for _, d := range v.Dirs() {
		for {
			err := os.Remove(d)
			if err == nil || errors.Is(err, os.ErrNotExist) {
				break
			}
			if time.Now().After(deadline) {
				errs = append(errs, fmt.Errorf("remove cgroup %s: %w", d, err))
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return errors.Join(errs...)
}

// Stats is a guest's resource use.
type Stats struct {
	Procs  int
	Memory int64         // bytes, -1 when unknown
	CPU    time.Duration // total CPU time, -1 when unknown
}

// ReadStats reads g's use, from cgroup2 where it has the files, else from
// the v1 directories (v may be nil).
func ReadStats(g *Group, v *V1) Stats {
	s := Stats{Memory: -1, CPU: -1}
	if pids, err := g.Procs(); err == nil {
		s.Procs = len(pids)
	}
	if n, err := readInt(filepath.Join(g.path, "memory.current")); err == nil {
		s.Memory = n
	} else if v != nil && v.dirs["memory"] != "" {
		if n, err := readInt(filepath.Join(v.dirs["memory"], "memory.usage_in_bytes")); err == nil {
			s.Memory = n
		}
	}
	if b, err := os.ReadFile(filepath.Join(g.path, "cpu.stat")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == "usage_usec" {
				if n, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					s.CPU = time.Duration(n) * time.Microsecond
				}
			}
		}
	}
	if s.CPU < 0 && v != nil && v.dirs["cpuacct"] != "" {
		if n, err := readInt(filepath.Join(v.dirs["cpuacct"], "cpuacct.usage")); err == nil {
			s.CPU = time.Duration(n)
		}
	}
	return s
}

func readInt(p string) (int64, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// ControllerWhere says where controller c would be used for a guest:
// "cgroup2", "v1" or "" (nowhere).
func ControllerWhere(c string) string {
	if unifiedHas(c) {
		return "cgroup2"
	}
	if v1Mount(c) != "" {
		return "v1"
	}
	return ""
}
