package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/vserver-go/vserver/internal/guest"
	"github.com/vserver-go/vserver/internal/monitor"
	"golang.org/x/sys/unix"
)

// ps is `vserver NAME ps [--json]`: the guest's processes as the host sees
// them, with their guest pids.
func (c *cli) ps(name string, args []string) int {
	fs := flag.NewFlagSet("ps", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return c.usageErr("ps [--json]")
	}
	procs, err := monitor.Processes(c.dirs, name)
	if err != nil {
		return c.fail(err)
	}
	if *asJSON {
		return c.printJSON(procs)
	}
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PID\tPPID\tUID\tSTAT\tRSS\tHOST-PID\tCOMMAND")
	for _, p := range procs {
		fmt.Fprintf(w, "%d\t%d\t%d\t%s\t%s\t%d\t%s\n", p.PID, p.PPID, p.UID, p.State, human(p.RSS), p.HostPID, p.Command)
	}
	w.Flush()
	return monitor.ExitOK
}

// kill is `vserver NAME kill [-s SIG] PID|all`.
func (c *cli) kill(name string, args []string) int {
	fs := flag.NewFlagSet("kill", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	sigName := fs.String("s", "TERM", "")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		return c.usageErr("kill [-s SIGNAL] PID|all")
	}
	sig, err := parseSignal(*sigName)
	if err != nil {
		return c.usageErr("kill: %v", err)
	}
	target := fs.Arg(0)
	if target == "all" {
		n, err := monitor.KillAll(c.dirs, name, sig)
		if err != nil {
			return c.fail(err)
		}
		fmt.Fprintf(c.stdout, "%s: sent %s to %d processes\n", name, unix.SignalName(sig), n)
		return monitor.ExitOK
	}
	pid, err := strconv.Atoi(target)
	if err != nil || pid < 1 {
		return c.usageErr("kill: %q is not a pid or \"all\"", target)
	}
	if err := monitor.Kill(c.dirs, name, pid, sig); err != nil {
		return c.fail(err)
	}
	return monitor.ExitOK
}

// parseSignal reads "TERM", "SIGTERM", "term" or "15".
func parseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 64 {
			return 0, fmt.Errorf("signal %d out of range 1-64", n)
		}
		return syscall.Signal(n), nil
	}
	u := strings.ToUpper(s)
	if !strings.HasPrefix(u, "SIG") {
		u = "SIG" + u
	}
	if sig := unix.SignalNum(u); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

// guestJSON is one guest in `list --json` and `status --json`.
type guestJSON struct {
	Name          string   `json:"name"`
	Context       uint32   `json:"context"`
	State         string   `json:"state"` // stopped, invalid-config, or the run phase
	Running       bool     `json:"running"`
	Processes     int      `json:"processes"`
	MemoryBytes   int64    `json:"memory_bytes"` // -1 unknown
	CPUSeconds    float64  `json:"cpu_seconds"`  // -1 unknown
	UptimeSeconds int64    `json:"uptime_seconds"`
	IPs           []string `json:"ips"`
	NetMode       string   `json:"net_mode"`

	InitPID     int       `json:"init_pid,omitempty"` // host pid of vinit
	MonitorPID  int       `json:"monitor_pid,omitempty"`
	Boots       int       `json:"boots,omitempty"`
	Booted      time.Time `json:"booted,omitzero"`
	Protections []string  `json:"protections,omitempty"`
	Veth        string    `json:"veth,omitempty"`
	Cgroup      string    `json:"cgroup,omitempty"`
	Log         string    `json:"log,omitempty"`
}

// guestInfo summarises what Inspect found (one pass over the guest's
// files and cgroup, no process started).
func (c *cli) guestInfo(i monitor.Info) guestJSON {
	g := guestJSON{Name: i.Name, State: "stopped", MemoryBytes: -1, CPUSeconds: -1, IPs: []string{}}
	if i.Config != nil {
		g.Context, g.NetMode = i.Config.Context, i.Config.Net.Mode
		for _, p := range i.Config.Net.IPs {
			g.IPs = append(g.IPs, p.Addr().String())
		}
	} else if _, err := guest.Load(c.dirs.Config, i.Name); err != nil && !errors.Is(err, os.ErrNotExist) {
		g.State = "invalid-config"
	}
	if !i.Running {
		return g
	}
	g.Running, g.State = true, "running"
	g.Processes, g.MemoryBytes = i.Stats.Procs, i.Stats.Memory
	if i.Stats.CPU >= 0 {
		g.CPUSeconds = i.Stats.CPU.Seconds()
	}
	if s := i.State; s != nil {
		g.State, g.Context, g.NetMode = s.Phase, s.Context, s.NetMode
		g.UptimeSeconds = int64(i.Uptime().Seconds())
		if len(s.IPs) > 0 {
			g.IPs = g.IPs[:0]
			for _, p := range s.IPs {
				g.IPs = append(g.IPs, strings.SplitN(p, "/", 2)[0])
			}
		}
		g.InitPID, g.MonitorPID, g.Boots, g.Booted = s.InitPID, s.MonitorPID, s.Boots, s.Booted
		g.Protections, g.Veth, g.Cgroup, g.Log = s.Protections, s.Veth, s.Cgroup, s.Log
	}
	return g
}

func (c *cli) printJSON(v any) int {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "%s\n", b)
	return monitor.ExitOK
}

// jsonFlag parses a lone optional --json.
func jsonFlag(name string, args []string) (asJSON, ok bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	j := fs.Bool("json", false, "")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return false, false
	}
	return *j, true
}

// statusJSON is `vserver NAME status --json`; the exit status is status's.
func (c *cli) statusJSON(name string) int {
	i := monitor.Inspect(c.dirs, name)
	if code := c.printJSON(c.guestInfo(i)); code != monitor.ExitOK {
		return code
	}
	if !i.Running {
		return monitor.ExitNotRunning
	}
	return monitor.ExitOK
}
