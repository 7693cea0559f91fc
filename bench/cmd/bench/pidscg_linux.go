package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// pidsCgroup is a cgroup of the pids controller the orphans are forked into.
// Its pids.current counts a task until it has been reaped (the pids
// controller uncharges in release_task, not at exit), so it reads how many
// orphans are alive or zombies in O(1), the same way for every init.
type pidsCgroup struct {
	dir string
}

// newPidsCgroup creates a cgroup named name under the pids controller's root:
// cgroup v1's pids hierarchy, or cgroup2 when pids is enabled at its root.
func newPidsCgroup(name string) (*pidsCgroup, error) {
	root, err := pidsRoot()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create pids cgroup: %w", err)
	}
	c := &pidsCgroup{dir: dir}
	if _, err := c.Current(); err != nil {
		os.Remove(dir)
		return nil, err
	}
	return c, nil
}

// pidsRoot finds where the pids controller is mounted.
func pidsRoot() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("find pids cgroup: %w", err)
	}
	defer f.Close()
	var v2 string
	s := bufio.NewScanner(f)
	for s.Scan() {
		// id parent maj:min root mountpoint opts... - fstype source superopts
		pre, post, ok := strings.Cut(s.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 3 || pf[3] != "/" {
			continue
		}
		switch qf[0] {
		case "cgroup":
			for _, o := range strings.Split(qf[2], ",") {
				if o == "pids" {
					return pf[4], nil
				}
			}
		case "cgroup2":
			v2 = pf[4]
		}
	}
	if v2 != "" {
		b, err := os.ReadFile(filepath.Join(v2, "cgroup.subtree_control"))
		if err == nil && hasWord(string(b), "pids") {
			return v2, nil
		}
	}
	return "", errors.New("find pids cgroup: no pids controller in cgroup v1 or enabled in cgroup2")
}

func hasWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

// Current is pids.current.
func (c *pidsCgroup) Current() (int, error) {
	b, err := os.ReadFile(filepath.Join(c.dir, "pids.current"))
	if err != nil {
		return 0, fmt.Errorf("read pids count: %w", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("parse %s/pids.current: %w", c.dir, err)
	}
	return n, nil
}

// Remove kills whatever is left in the cgroup and removes it.
func (c *pidsCgroup) Remove() error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(c.dir, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				unix.Kill(pid, unix.SIGKILL)
			}
		}
		err := os.Remove(c.dir)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("remove pids cgroup: %w", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
