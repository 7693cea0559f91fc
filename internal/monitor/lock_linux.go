package monitor

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// errLocked means another process (a monitor) holds the guest's lock.
var errLocked = errors.New("locked")

// tryLock opens and exclusively locks path without waiting. The lock lives
// as long as the returned file (or a copy of its descriptor) is open.
func tryLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// isLocked reports whether someone holds the lock at path.
func isLocked(path string) bool {
	f, err := tryLock(path)
	if err != nil {
		return errors.Is(err, errLocked)
	}
	unlock(f)
	return false
}

// unlock releases the lock and closes f. Closing alone is not enough: a
// child forked meanwhile by another goroutine holds a copy of the
// descriptor until it execs, and with it the lock.
func unlock(f *os.File) {
	_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
	f.Close()
}

// procStart is field 22 of /proc/PID/stat (start time in clock ticks), to
// tell a process from a later one that got the same pid.
func procStart(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// signalMonitor sends sig to the state's monitor if it is still that
// process.
func signalMonitor(s *State, sig unix.Signal) error {
	st, err := procStart(s.MonitorPID)
	if err != nil || st != s.MonitorStart {
		return fmt.Errorf("monitor of %s (pid %d) is gone", s.Name, s.MonitorPID)
	}
	if err := unix.Kill(s.MonitorPID, sig); err != nil {
		return fmt.Errorf("signal monitor of %s (pid %d): %w", s.Name, s.MonitorPID, err)
	}
	return nil
}
