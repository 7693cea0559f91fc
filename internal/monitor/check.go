package monitor

import (
	"debug/elf"
	"fmt"
	"os"
	"strings"

	"github.com/vserver-go/vserver/internal/cgroup"
	"github.com/vserver-go/vserver/internal/guest"
)

// CheckGuest finds what would keep cfg from starting on this host, beyond
// the file's own validity: a missing root, vinit, mount source or
// interface, a limit without a controller.
func CheckGuest(cfg *guest.Config, vinit string) []string {
	var out []string
	if fi, err := os.Stat(cfg.Root); err != nil || !fi.IsDir() {
		out = append(out, fmt.Sprintf("root %s is not a directory", cfg.Root))
	}
	if vinit == "" {
		vinit = VinitPath()
	}
	if err := checkStatic(vinit); err != nil {
		out = append(out, fmt.Sprintf("vinit %s: %v (build it, or set --vinit / VSERVER_VINIT)", vinit, err))
	}
	for _, m := range cfg.Mounts {
		if _, err := os.Stat(m.Source); err != nil {
			out = append(out, fmt.Sprintf("mount source %s: %v", m.Source, err))
		}
	}
	if cfg.Net.Dev != "" {
		if _, err := os.Stat("/sys/class/net/" + cfg.Net.Dev); err != nil {
			out = append(out, fmt.Sprintf("net.dev %s: no such interface", cfg.Net.Dev))
		}
	}
	if cfg.Net.Mode == guest.NetIPv4Root {
		if err := probeIPv4Root(); err != nil {
			out = append(out, fmt.Sprintf("ipv4root: %v", err))
		}
	}
	l := cfg.Limits
	for c, want := range map[string]bool{"pids": l.Processes > 0, "memory": l.Memory > 0, "cpu": l.CPUPercent > 0 || l.CPUWeight > 0} {
		if want && cgroup.ControllerWhere(c) == "" {
			out = append(out, fmt.Sprintf("limits: no %s controller (neither cgroup2 nor v1)", c))
		}
	}
	return out
}

func checkStatic(p string) error {
	f, err := elf.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("not a static binary")
		}
	}
	return nil
}

// Probe describes what the kernel offers the launcher.
func Probe() []string {
	var out []string
	if u, err := cgroup.Unified(); err != nil {
		out = append(out, "cgroup2: missing ("+err.Error()+")")
	} else {
		out = append(out, "cgroup2: "+u)
	}
	var where []string
	for _, c := range []string{"pids", "memory", "cpu"} {
		w := cgroup.ControllerWhere(c)
		if w == "" {
			w = "missing"
		}
		where = append(where, c+" "+w)
	}
	out = append(out, "limits: "+strings.Join(where, ", "))
	if err := probeIPv4Root(); err != nil {
		out = append(out, "ipv4root: unavailable: "+err.Error())
	} else {
		for _, l := range strings.Split(strings.TrimSpace(ipv4rootFeatures()), "\n") {
			out = append(out, "ipv4root: "+l)
		}
	}
	return out
}
