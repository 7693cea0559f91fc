// Package proctree reads the process tree from /proc: who is below whom,
// with each process's group and state. vinit uses it to find what is left
// of its children when it must not kill(-1) (not PID 1) and what is left of
// a service that escaped its process group.
package proctree

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// Proc is one process as one read of /proc/PID/stat saw it.
type Proc struct {
	PID, PPID, PGID int
	State           string // "R", "S", "Z", ...
}

// Stat reads one process; ok is false when it is gone.
func Stat(pid int) (p Proc, ok bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return p, false
	}
	// The fields after the ")" that ends the command name (which may
	// itself contain spaces and parentheses): state, ppid, pgrp, ...
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return p, false
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 3 {
		return p, false
	}
	p.PID, p.State = pid, f[0]
	p.PPID, _ = strconv.Atoi(f[1])
	p.PGID, _ = strconv.Atoi(f[2])
	return p, true
}

// Descendants lists every process below root, by parent links, breadth
// first. One pass over /proc.
func Descendants(root int) []Proc {
	dir, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	kids := map[int][]Proc{}
	for _, e := range dir {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := Stat(pid); ok {
			kids[p.PPID] = append(kids[p.PPID], p)
		}
	}
	var out []Proc
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, k := range kids[p] {
			out = append(out, k)
			queue = append(queue, k.PID)
		}
	}
	return out
}
