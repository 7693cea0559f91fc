package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Group is one directory of the cgroup2 hierarchy.
type Group struct {
	path string // absolute, inside the cgroup2 mount
}

// Open returns the group at rel (relative to the cgroup2 mount), which must exist.
func Open(rel string) (*Group, error) {
	root, err := Unified()
	if err != nil {
		return nil, err
	}
	p := filepath.Join(root, filepath.Clean("/"+rel))
	if _, err := os.Stat(p); err != nil {
		return nil, fmt.Errorf("open cgroup %s: %w", p, err)
	}
	return &Group{path: p}, nil
}

// Create makes the group at rel (relative to the cgroup2 mount) with its
// parents. An existing empty group is reused; one with processes in it is an
// error, because it belongs to something still running.
func Create(rel string) (*Group, error) {
	root, err := Unified()
	if err != nil {
		return nil, err
	}
	p := filepath.Join(root, filepath.Clean("/"+rel))
	if err := os.MkdirAll(p, 0o755); err != nil {
		return nil, fmt.Errorf("create cgroup %s: %w", p, err)
	}
	g := &Group{path: p}
	pids, err := g.Procs()
	if err != nil {
		return nil, err
	}
	if len(pids) > 0 {
		return nil, fmt.Errorf("create cgroup %s: already has %d processes (pid %d ...)", p, len(pids), pids[0])
	}
	return g, nil
}

// Path is the group's absolute directory.
func (g *Group) Path() string { return g.path }

// OpenFD opens the group's directory, for CLONE_INTO_CGROUP
// (SysProcAttr.UseCgroupFD) and BPF attachment. The caller closes it.
func (g *Group) OpenFD() (*os.File, error) {
	f, err := os.OpenFile(g.path, os.O_RDONLY|syscallODirectory, 0)
	if err != nil {
		return nil, fmt.Errorf("open cgroup %s: %w", g.path, err)
	}
	return f, nil
}

// Add moves pid into the group.
func (g *Group) Add(pid int) error {
	if err := os.WriteFile(filepath.Join(g.path, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
		return fmt.Errorf("move pid %d to cgroup %s: %w", pid, g.path, err)
	}
	return nil
}

// Procs lists the pids in the group and all its descendants.
func (g *Group) Procs() ([]int, error) {
	var pids []int
	err := filepath.WalkDir(g.path, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		f, err := os.Open(filepath.Join(p, "cgroup.procs"))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			if n, err := strconv.Atoi(strings.TrimSpace(s.Text())); err == nil {
				pids = append(pids, n)
			}
		}
		return s.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list processes of cgroup %s: %w", g.path, err)
	}
	return pids, nil
}

// Kill kills every process in the group and its descendants and waits until
// the group is empty or the deadline passes. It uses cgroup.kill (Linux 5.14)
// where available, else SIGKILLs the listed pids until none is left (a
// fork racing the loop is caught by the next pass).
func (g *Group) Kill(deadline time.Time) error {
	if err := os.WriteFile(filepath.Join(g.path, "cgroup.kill"), []byte("1"), 0); err != nil {
		if err := g.killListed(); err != nil {
			return err
		}
	}
	for {
		pids, err := g.Procs()
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kill cgroup %s: %d processes left after the deadline", g.path, len(pids))
		}
		if err := g.killListed(); err != nil {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Remove deletes the group and its sub-groups (deepest first). They must be
// empty of processes.
func (g *Group) Remove() error {
	var dirs []string
	err := filepath.WalkDir(g.path, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove cgroup %s: %w", g.path, err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Remove(dirs[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove cgroup %s: %w", dirs[i], err)
		}
	}
	return nil
}
