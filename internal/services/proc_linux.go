package services

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// proc is one process below vinit, as one read of /proc/PID/stat saw it.
type proc struct {
	pid, pgid int
	state     string // "R", "S", "Z", ...
	marker    string // its VINIT_SERVICE, once read
	read      bool   // marker has been read
}

// service returns the service the process carries the marker of ("" for
// none), reading /proc/PID/environ once.
func (p *proc) service() string {
	if !p.read {
		p.marker, p.read = markerOf(p.pid), true
	}
	return p.marker
}

// descendantsOfSelf lists the processes below vinit (as PID 1, everything;
// as a subreaper, what it started, escaped or not), by parent links in
// /proc, with their process group and state.
func descendantsOfSelf() []*proc {
	dir, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	kids := map[int][]*proc{}
	for _, e := range dir {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f := statFields(pid)
		if len(f) < 3 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		pgid, _ := strconv.Atoi(f[2])
		kids[ppid] = append(kids[ppid], &proc{pid: pid, pgid: pgid, state: f[0]})
	}
	var out []*proc
	queue := []int{self}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, k := range kids[p] {
			out = append(out, k)
			queue = append(queue, k.pid)
		}
	}
	return out
}

// statFields returns the fields of /proc/PID/stat after the command name:
// [0] state, [1] ppid, [2] process group, [3] session, ...
func statFields(pid int) []string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(data[i+1:]))
}

func procState(pid int) string {
	f := statFields(pid)
	if len(f) < 1 {
		return ""
	}
	return f[0]
}

// markerOf returns the service named by pid's VINIT_SERVICE, or "".
func markerOf(pid int) string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return ""
	}
	for _, kv := range bytes.Split(data, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte(markerEnv+"=")); ok {
			return string(v)
		}
	}
	return ""
}
