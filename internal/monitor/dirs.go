// Package monitor runs a guest: the start sequence, the monitor process
// that stays the parent of the guest's vinit for the guest's whole life
// (reboots included), and the commands that act on a running guest through
// its state file and lock (docs/vserver.md).
//
// Files, per guest NAME:
//
//	RUN/NAME.lock   flock held by the monitor for its whole life: held = running
//	RUN/NAME.state  JSON: pids, phase, boots, addresses (State)
//	LOG/NAME.log    the guest's console and the monitor's messages (size-rotated to NAME.log.1)
package monitor

import (
	"os"
	"path/filepath"
)

// Dirs are where configuration, run state and logs live. Tests point all
// three at temporary directories.
type Dirs struct {
	Config string // default /etc/vservers (VSERVER_CONFIG_DIR)
	Run    string // default /run/vservers (VSERVER_RUN_DIR)
	Log    string // default /var/log/vservers (VSERVER_LOG_DIR)
}

// DirsFromEnv returns the defaults, overridden by the environment.
func DirsFromEnv() Dirs {
	d := Dirs{Config: "/etc/vservers", Run: "/run/vservers", Log: "/var/log/vservers"}
	if v := os.Getenv("VSERVER_CONFIG_DIR"); v != "" {
		d.Config = v
	}
	if v := os.Getenv("VSERVER_RUN_DIR"); v != "" {
		d.Run = v
	}
	if v := os.Getenv("VSERVER_LOG_DIR"); v != "" {
		d.Log = v
	}
	return d
}

func (d Dirs) lockPath(name string) string  { return filepath.Join(d.Run, name+".lock") }
func (d Dirs) statePath(name string) string { return filepath.Join(d.Run, name+".state") }

// LogPath is the guest's console log.
func (d Dirs) LogPath(name string) string { return filepath.Join(d.Log, name+".log") }

// CgroupRel is the guest's cgroup, relative to the cgroup2 mount (and to
// each v1 controller mount).
func CgroupRel(name string) string { return filepath.Join("vserver", name) }

// PinDir is where the guest's BPF links are pinned.
func PinDir(name string) string { return filepath.Join("/sys/fs/bpf/vserver", name) }
