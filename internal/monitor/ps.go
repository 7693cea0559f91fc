package monitor

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/vserver-go/vserver/internal/cgroup"
)

// Proc is one process of a guest as the host sees it.
type Proc struct {
	PID     int    `json:"pid"`      // in the guest's PID namespace (1 = vinit)
	HostPID int    `json:"host_pid"` // in ours
	PPID    int    `json:"ppid"`     // in the guest; 0 for vinit
	UID     int    `json:"uid"`      // real uid
	State   string `json:"state"`    // R, S, D, Z, T, ...
	RSS     int64  `json:"rss_bytes"`
	Command string `json:"command"`

	level int // index of the guest's PID namespace in NSpid
}

// procStatus is what we read of /proc/PID/status.
type procStatus struct {
	state string
	ppid  int
	uid   int
	rss   int64
	nspid []int
}

// parseProcStatus reads the fields we need of a /proc/PID/status.
func parseProcStatus(data string) (procStatus, error) {
	st := procStatus{uid: -1}
	for _, line := range strings.Split(data, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		switch k {
		case "State":
			st.state = f[0]
		case "PPid":
			st.ppid, _ = strconv.Atoi(f[0])
		case "Uid":
			st.uid, _ = strconv.Atoi(f[0])
		case "VmRSS":
			if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				st.rss = n << 10
			}
		case "NSpid":
			for _, s := range f {
				n, err := strconv.Atoi(s)
				if err != nil {
					return st, fmt.Errorf("bad NSpid %q", v)
				}
				st.nspid = append(st.nspid, n)
			}
		}
	}
	if len(st.nspid) == 0 {
		return st, errors.New("no NSpid (kernel before 4.1?)")
	}
	return st, nil
}

func readProcStatus(pid int) (procStatus, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return procStatus{}, err
	}
	return parseProcStatus(string(b))
}

// guestLevel is the index in NSpid of the guest's PID namespace: vinit's
// last entry is 1 there.
func guestLevel(vinit procStatus) int { return len(vinit.nspid) - 1 }

// Processes lists name's processes from its cgroup, with their guest pids,
// sorted by guest pid.
func Processes(d Dirs, name string) ([]Proc, error) {
	if !Running(d, name) {
		return nil, fmt.Errorf("guest %s: %w", name, ErrNotRunning)
	}
	st, err := ReadState(d, name)
	if err != nil {
		return nil, err
	}
	if st == nil || st.InitPID == 0 {
		return nil, fmt.Errorf("guest %s: still starting; try again", name)
	}
	g, err := cgroup.Open(CgroupRel(name))
	if err != nil {
		return nil, err
	}
	pids, err := g.Procs()
	if err != nil {
		return nil, err
	}
	vinit, err := readProcStatus(st.InitPID)
	if err != nil || vinit.nspid[len(vinit.nspid)-1] != 1 {
		return nil, fmt.Errorf("guest %s: vinit (host pid %d) is gone", name, st.InitPID)
	}
	level := guestLevel(vinit)
	byHost := map[int]int{}
	var out []Proc
	var ppids []int
	for _, hp := range pids {
		ps, err := readProcStatus(hp)
		if err != nil || len(ps.nspid) <= level {
			continue // gone meanwhile, or not in the guest's PID namespace
		}
		p := Proc{PID: ps.nspid[level], HostPID: hp, UID: ps.uid, State: ps.state, RSS: ps.rss, Command: cmdline(hp), level: level}
		byHost[hp] = p.PID
		out = append(out, p)
		ppids = append(ppids, ps.ppid)
	}
	for i := range out {
		out[i].PPID = byHost[ppids[i]] // 0 when the parent is outside the guest
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out, nil
}

// cmdline is the process's argv joined by spaces, or [comm] for a kernel
// thread or a zombie.
func cmdline(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err == nil && len(b) > 0 {
		return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
	}
	c, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return "[" + strings.TrimSpace(string(c)) + "]"
}

// inGroup reports whether /proc/PID/cgroup puts pid in rel or below it.
func inGroup(pid int, rel string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			p = strings.TrimPrefix(p, "/")
			return p == rel || strings.HasPrefix(p, rel+"/")
		}
	}
	return false
}

// Kill sends sig to the guest's process with guest pid pid. A pid that is
// not one of the guest's is refused; the process is pinned with a pidfd
// and checked again before the signal, so a recycled host pid is never hit.
func Kill(d Dirs, name string, pid int, sig syscall.Signal) error {
	procs, err := Processes(d, name)
	if err != nil {
		return err
	}
	for _, p := range procs {
		if p.PID == pid {
			return killVerified(name, p, sig)
		}
	}
	return fmt.Errorf("guest %s has no process %d (pids are the guest's, see vserver %s ps)", name, pid, name)
}

// KillAll sends sig to every process of the guest but vinit and returns
// how many got it.
func KillAll(d Dirs, name string, sig syscall.Signal) (int, error) {
	procs, err := Processes(d, name)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, p := range procs {
		if p.PID == 1 {
			continue
		}
		if err := killVerified(name, p, sig); err != nil {
			if !errors.Is(err, syscall.ESRCH) {
				errs = append(errs, err)
			}
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// killVerified pins p's host pid with a pidfd, checks it is still the
// guest's process p.PID, and signals it through the pidfd.
func killVerified(name string, p Proc, sig syscall.Signal) error {
	pidfd, err := pidfdOpen(p.HostPID)
	if err != nil {
		return fmt.Errorf("kill %d in guest %s: %w", p.PID, name, err)
	}
	defer pidfd.Close()
	ps, err := readProcStatus(p.HostPID)
	if err != nil || len(ps.nspid) <= p.level || ps.nspid[p.level] != p.PID || !inGroup(p.HostPID, CgroupRel(name)) {
		return fmt.Errorf("kill %d in guest %s: %w", p.PID, name, syscall.ESRCH)
	}
	if err := pidfdSignal(pidfd, sig); err != nil {
		return fmt.Errorf("kill %d in guest %s: %w", p.PID, name, err)
	}
	return nil
}
