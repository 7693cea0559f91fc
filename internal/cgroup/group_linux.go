package cgroup

import (
	"errors"

	"golang.org/x/sys/unix"
)

const syscallODirectory = unix.O_DIRECTORY | unix.O_CLOEXEC

func (g *Group) killListed() error {
	pids, err := g.Procs()
	if err != nil {
		return err
	}
	for _, pid := range pids {
		if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
			return err
		}
	}
	return nil
}
