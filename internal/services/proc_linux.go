package services

import (
	"bytes"
	"os"
	"strconv"

	"github.com/vserver-go/vserver/internal/proctree"
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
// as a subreaper, what it started, escaped or not), with their process
// group and state.
func descendantsOfSelf() []*proc {
	var out []*proc
	for _, p := range proctree.Descendants(os.Getpid()) {
		out = append(out, &proc{pid: p.PID, pgid: p.PGID, state: p.State})
	}
	return out
}

func procState(pid int) string {
	p, _ := proctree.Stat(pid)
	return p.State
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
