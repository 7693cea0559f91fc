package isolation

import (
	"errors"
	"fmt"
	"os"
	"path"

	"golang.org/x/sys/unix"
)

// resolveIn opens guestPath (absolute, inside the guest) as an O_PATH fd,
// with every component resolved inside the root: ".." stops at the root,
// an absolute symlink starts again at the root, and magic links
// (/proc/self/...) are refused. A symlink the guest planted therefore
// cannot lead a mount onto a host path.
func resolveIn(rootFD int, guestPath string, extra int) (int, error) {
	how := unix.OpenHow{
		Flags:   uint64(unix.O_PATH | unix.O_CLOEXEC | extra),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for try := 0; ; try++ {
		fd, err := unix.Openat2(rootFD, guestPath, &how)
		// EAGAIN: a rename or mount raced the lookup; the kernel asks
		// for a retry.
		if (errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR)) && try < 16 {
			continue
		}
		if err != nil {
			return -1, &os.PathError{Op: "openat2 in guest root", Path: guestPath, Err: err}
		}
		return fd, nil
	}
}

// targetIn resolves the mount target guestPath inside the root, creating it
// (a directory, or an empty file when dir is false) and its missing parents
// with mkdirat/openat relative to resolved parent fds. A dangling symlink on
// the way is an error, never followed outside the root.
func targetIn(rootFD int, guestPath string, dir bool) (int, error) {
	extra := 0
	if dir {
		extra = unix.O_DIRECTORY
	}
	fd, err := resolveIn(rootFD, guestPath, extra)
	if err == nil {
		if !dir {
			var st unix.Stat_t
			if err := unix.Fstat(fd, &st); err != nil {
				unix.Close(fd)
				return -1, os.NewSyscallError("fstat", err)
			}
			if st.Mode&unix.S_IFMT == unix.S_IFDIR {
				unix.Close(fd)
				return -1, fmt.Errorf("%s is a directory in the guest, the source is a file", guestPath)
			}
		}
		return fd, nil
	}
	if !errors.Is(err, unix.ENOENT) {
		return -1, err
	}
	parent, base := path.Split(path.Clean(guestPath))
	if base == "" || base == "." || base == ".." {
		return -1, err
	}
	pfd, perr := targetIn(rootFD, path.Clean(parent), true)
	if perr != nil {
		return -1, perr
	}
	defer unix.Close(pfd)
	if dir {
		err = unix.Mkdirat(pfd, base, 0o755)
	} else {
		var f int
		f, err = unix.Openat(pfd, base, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err == nil {
			unix.Close(f)
		}
	}
	if errors.Is(err, unix.EEXIST) {
		var st unix.Stat_t
		if unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return -1, fmt.Errorf("%s is a symlink that leads nowhere inside the guest root", guestPath)
		}
	}
	if err != nil {
		return -1, &os.PathError{Op: "create mount point in guest", Path: guestPath, Err: err}
	}
	return resolveIn(rootFD, guestPath, extra)
}

// newFS creates a filesystem instance with the new mount API and returns
// its detached mount (an fd that also serves as the mount root's dirfd).
func newFS(fstype string, opts [][2]string, attrs int) (int, error) {
	fsfd, err := unix.Fsopen(fstype, unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, os.NewSyscallError("fsopen "+fstype, err)
	}
	defer unix.Close(fsfd)
	for _, o := range opts {
		if o[1] == "" {
			err = unix.FsconfigSetFlag(fsfd, o[0])
		} else {
			err = unix.FsconfigSetString(fsfd, o[0], o[1])
		}
		if err != nil {
			return -1, os.NewSyscallError("fsconfig "+fstype+" "+o[0], err)
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return -1, os.NewSyscallError("fsconfig create "+fstype, err)
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, attrs)
	if err != nil {
		return -1, os.NewSyscallError("fsmount "+fstype, err)
	}
	return mfd, nil
}

// cloneTree returns a detached copy of the mount at dirfd/p (a bind mount
// that is not attached anywhere yet).
func cloneTree(dirfd int, p string, recursive bool) (int, error) {
	flags := unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	if p == "" {
		flags |= unix.AT_EMPTY_PATH
	}
	fd, err := unix.OpenTree(dirfd, p, uint(flags))
	if err != nil {
		return -1, &os.PathError{Op: "open_tree", Path: p, Err: err}
	}
	return fd, nil
}

// setAttrs sets mount attributes (MOUNT_ATTR_*) on a detached or attached
// mount fd, on the whole tree when recursive.
func setAttrs(mntFD int, attrs uint64, recursive bool) error {
	flags := unix.AT_EMPTY_PATH
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	if err := unix.MountSetattr(mntFD, "", uint(flags), &unix.MountAttr{Attr_set: attrs}); err != nil {
		return os.NewSyscallError("mount_setattr", err)
	}
	return nil
}

// attach moves the detached mount mntFD onto the already resolved target.
func attach(mntFD, targetFD int) error {
	err := unix.MoveMount(mntFD, "", targetFD, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
	if err != nil {
		return os.NewSyscallError("move_mount", err)
	}
	return nil
}
