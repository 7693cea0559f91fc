package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

const pidMaxPath = "/proc/sys/kernel/pid_max"

// systemdPidMax is what systemd sets kernel.pid_max to on a Debian host.
const systemdPidMax = 4194304

// ensurePidMax makes kernel.pid_max at least need (every process needs a pid
// in the host's namespace too, and pids are allocated cyclically). When it
// has to raise it, it raises it to systemd's default and returns a note for
// the report and a function that puts the old value back.
func ensurePidMax(need int) (restore func(), note string, err error) {
	b, err := os.ReadFile(pidMaxPath)
	if err != nil {
		return nil, "", fmt.Errorf("read kernel.pid_max: %w", err)
	}
	cur, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, "", fmt.Errorf("parse kernel.pid_max %q: %w", b, err)
	}
	if cur >= need {
		return func() {}, "", nil
	}
	to := max(need, systemdPidMax)
	if err := os.WriteFile(pidMaxPath, []byte(strconv.Itoa(to)), 0); err != nil {
		return nil, "", fmt.Errorf("raise kernel.pid_max from %d to %d for the orphan bursts: %w", cur, to, err)
	}
	note = fmt.Sprintf("kernel.pid_max was %d, too small for the largest burst; the driver raised it to %d "+
		"(what systemd sets on Debian) for this section and put %d back afterwards.", cur, to, cur)
	return func() { os.WriteFile(pidMaxPath, []byte(strconv.Itoa(cur)), 0) }, note, nil
}
