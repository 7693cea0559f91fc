package services

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// descendantsOfSelf lists the pids below vinit (as PID 1, everything; as
// a subreaper, what it started, escaped or not), by parent links in /proc.
func descendantsOfSelf() []int {
	dir, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	kids := map[int][]int{}
	for _, e := range dir {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp := ppidOf(pid); pp > 0 {
			kids[pp] = append(kids[pp], pid)
		}
	}
	var out []int
	queue := []int{self}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, k := range kids[p] {
			out = append(out, k)
			queue = append(queue, k)
		}
	}
	return out
}

// statFields returns the fields of /proc/PID/stat after the command name:
// [0] state, [1] ppid, ...
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

func ppidOf(pid int) int {
	f := statFields(pid)
	if len(f) < 2 {
		return 0
	}
	pp, _ := strconv.Atoi(f[1])
	return pp
}

func procState(pid int) string {
	f := statFields(pid)
	if len(f) < 1 {
		return ""
	}
	return f[0]
}

// hasMarker reports whether pid's environment carries VINIT_SERVICE=name.
func hasMarker(pid int, name string) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	want := []byte(markerEnv + "=" + name)
	for _, kv := range bytes.Split(data, []byte{0}) {
		if bytes.Equal(kv, want) {
			return true
		}
	}
	return false
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
