package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Phases of a running guest, as recorded in its state file.
const (
	PhaseStarting  = "starting"
	PhaseRunning   = "running"
	PhaseStopping  = "stopping"
	PhaseRebooting = "rebooting"
)

// State is the run-state record of a guest (the 2003 NAME.ctx, grown up).
type State struct {
	Name         string    `json:"name"`
	Phase        string    `json:"phase"`
	MonitorPID   int       `json:"monitor_pid"`
	MonitorStart uint64    `json:"monitor_start"` // /proc/PID/stat starttime, against pid reuse
	InitPID      int       `json:"init_pid,omitempty"`
	Context      uint32    `json:"context"`
	Cgroup       string    `json:"cgroup"` // relative path
	Boots        int       `json:"boots"`  // 1 on the first boot, +1 per reboot
	Since        time.Time `json:"since"`  // first boot
	Booted       time.Time `json:"booted"` // this boot
	NetMode      string    `json:"net_mode"`
	IPs          []string  `json:"ips,omitempty"`
	Aliases      []string  `json:"aliases,omitempty"` // "dev addr/len" added at start
	PinDir       string    `json:"pin_dir,omitempty"`
	Veth         string    `json:"veth,omitempty"` // host end of the veth pair (netns)
	Protections  []string  `json:"protections,omitempty"`
	Log          string    `json:"log"`
}

// ReadState reads the state file of name; a missing file is (nil, nil).
func ReadState(d Dirs, name string) (*State, error) {
	b, err := os.ReadFile(d.statePath(name))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("read state of %s: %w", name, err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("read state of %s: %s: %w", name, d.statePath(name), err)
	}
	return &s, nil
}

// writeState replaces the state file atomically.
func writeState(d Dirs, s *State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	p := d.statePath(s.Name)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write state of %s: %w", s.Name, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("write state of %s: %w", s.Name, err)
	}
	return nil
}

func removeState(d Dirs, name string) error {
	if err := os.Remove(d.statePath(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove state of %s: %w", name, err)
	}
	return nil
}

func ensureDirs(d Dirs) error {
	if err := os.MkdirAll(d.Run, 0o700); err != nil {
		return fmt.Errorf("create run directory: %w", err)
	}
	if err := os.MkdirAll(d.Log, 0o750); err != nil {
		return fmt.Errorf("create log directory: %w", err)
	}
	return nil
}

// stateNames lists the guests that have a state file.
func stateNames(d Dirs) []string {
	m, _ := filepath.Glob(filepath.Join(d.Run, "*.state"))
	out := make([]string, 0, len(m))
	for _, p := range m {
		b := filepath.Base(p)
		out = append(out, b[:len(b)-len(".state")])
	}
	return out
}
