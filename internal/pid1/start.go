package pid1

import (
	"os"
	"strconv"
)

// startState is what vinit learns and fixes about its environment before
// anything else runs.
type startState struct {
	cwd     string     // where we were started; children start there
	listen  []*os.File // LISTEN_FDS meant for us, passed on to the main process
	monitor *os.File   // the vserver monitor's channel (VINIT_MONITOR_FD)
	monFD   int
}

// prepare runs right after CatchSignals: it keeps socket-activation fds meant
// for us (LISTEN_PID = our pid), closes every other inherited fd above 2,
// clears an inherited signal mask and moves vinit's own cwd to "/" so it
// pins no mount (catatonit #28). In supervisor mode the LISTEN_* set is dropped and the monitor channel kept.
func prepare(supervisor bool) *startState {
	clearInheritedSigmask()
	resetLibcSignals()
	st := &startState{cwd: "/"}
	n := 0
	if pid, err := strconv.Atoi(os.Getenv("LISTEN_PID")); err == nil && pid == os.Getpid() && !supervisor {
		if v, err := strconv.Atoi(os.Getenv("LISTEN_FDS")); err == nil && v > 0 && v < 1024 {
			n = v
		}
	}
	keep := -1
	if v, err := strconv.Atoi(os.Getenv("VINIT_MONITOR_FD")); err == nil && v >= 3 && supervisor {
		keep = v
	}
	closeInheritedFDs(3+n, keep)
	if keep >= 0 {
		st.monFD = keep
		st.monitor = os.NewFile(uintptr(keep), "monitor")
		setCloexec(keep)
	}
	for i := 0; i < n; i++ {
		st.listen = append(st.listen, os.NewFile(uintptr(3+i), "listen-fd-"+strconv.Itoa(i)))
	}
	if n == 0 {
		os.Unsetenv("LISTEN_PID")
		os.Unsetenv("LISTEN_FDS")
		os.Unsetenv("LISTEN_FDNAMES")
	}
	if wd, err := os.Getwd(); err == nil {
		st.cwd = wd
	}
	_ = os.Chdir("/")
	return st
}

// closeListenFDs drops our copies once the main process has them.
func (st *startState) closeListenFDs() {
	for _, f := range st.listen {
		f.Close()
	}
	st.listen = nil
}
