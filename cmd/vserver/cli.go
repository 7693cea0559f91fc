package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/vserver-go/vserver/internal/guest"
	"github.com/vserver-go/vserver/internal/monitor"
)

const usage = `usage: vserver [--config-dir DIR] [--run-dir DIR] [--log-dir DIR] [--vinit PATH] COMMAND

  vserver NAME start              start the guest, return when it is ready
  vserver NAME stop               stop it in order (pre-stop hooks, halt, timeout, kill)
  vserver NAME restart            stop (if running) and start
  vserver NAME running            exit 0 if running, 1 if not
  vserver NAME status [--json]    show state, processes, memory, CPU, uptime
  vserver NAME reboot             reboot the guest from scratch, wait until it is back
  vserver NAME halt               ask the guest to halt itself
  vserver NAME logs [-n N]        print the guest's console log (the last N lines)
  vserver NAME run                the monitor in the foreground (systemd's vserver@.service)
  vserver NAME exec [--user U] [--cwd DIR] [--env K=V]... -- CMD [ARG...]
                                  run CMD inside the guest (through its vinit); CMD's exit status
  vserver NAME enter [--user U]   a login shell inside the guest on a pty of the guest's own
  vserver NAME ps [--json]        the guest's processes with their guest pids
  vserver NAME kill [-s SIG] PID|all  signal a guest pid, or every process but vinit
  vserver list [--json]           every guest: context, state, processes, memory, CPU, uptime, IPs, net mode
  vserver start-all [-j N]        start the onboot guests by priority
  vserver stop-all [-j N]         stop every running guest, in reverse priority, one deadline
  vserver check [NAME]            validate configuration and probe the kernel
  vserver chbind --ip IP[,IP...] -- CMD [ARG...]
                                  run a host command confined to these IPs
`

// cli holds the global options.
type cli struct {
	dirs   monitor.Dirs
	vinit  string
	stdout io.Writer
	stderr io.Writer
}

func run(args []string, stdout, stderr io.Writer) int {
	c := &cli{dirs: monitor.DirsFromEnv(), stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("vserver", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.dirs.Config, "config-dir", c.dirs.Config, "")
	fs.StringVar(&c.dirs.Run, "run-dir", c.dirs.Run, "")
	fs.StringVar(&c.dirs.Log, "log-dir", c.dirs.Log, "")
	fs.StringVar(&c.vinit, "vinit", os.Getenv("VSERVER_VINIT"), "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return monitor.ExitOK
		}
		return c.usageErr("%v", err)
	}
	args = fs.Args()
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return monitor.ExitUsage
	}
	switch args[0] {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return monitor.ExitOK
	case "list":
		return c.list(args[1:])
	case "start-all":
		return c.startAll(args[1:])
	case "stop-all":
		return c.stopAll(args[1:])
	case "check":
		return c.check(args[1:])
	case "chbind":
		return c.chbind(args[1:])
	}
	if len(args) < 2 {
		return c.usageErr("missing command after %q", args[0])
	}
	name, cmd, rest := args[0], args[1], args[2:]
	if err := guest.ValidName(name); err != nil {
		return c.usageErr("%v", err)
	}
	switch cmd {
	case "start":
		return c.start(name, rest)
	case "stop":
		return c.stop(name, rest)
	case "restart":
		return c.restart(name, rest)
	case "running":
		if monitor.Running(c.dirs, name) {
			return monitor.ExitOK
		}
		return monitor.ExitFailed
	case "status":
		if asJSON, ok := jsonFlag("status", rest); !ok {
			return c.usageErr("status [--json]")
		} else if asJSON {
			return c.statusJSON(name)
		}
		return c.status(name)
	case "reboot":
		return c.reboot(name, rest)
	case "halt":
		return c.halt(name, rest)
	case "logs":
		return c.logs(name, rest)
	case "run":
		return c.runMonitor(name, rest)
	case "exec": // exec.go
		return c.exec(name, rest)
	case "enter":
		return c.enter(name, rest)
	case "ps": // ps.go
		return c.ps(name, rest)
	case "kill":
		return c.kill(name, rest)
	}
	return c.usageErr("unknown command %q", cmd)
}

func (c *cli) usageErr(format string, a ...any) int {
	fmt.Fprintf(c.stderr, "vserver: "+format+"\n", a...)
	fmt.Fprint(c.stderr, usage)
	return monitor.ExitUsage
}

func (c *cli) fail(err error) int {
	fmt.Fprintf(c.stderr, "vserver: %v\n", err)
	switch {
	case errors.Is(err, monitor.ErrNotRunning):
		return monitor.ExitNotRunning
	case errors.Is(err, monitor.ErrRunning):
		return monitor.ExitRunning
	}
	var pe *guest.PosError
	if errors.As(err, &pe) {
		return monitor.ExitConfig
	}
	return monitor.ExitFailed
}

// load reads NAME.toml; a missing or invalid file is a config error.
func (c *cli) load(name string) (*guest.Config, int) {
	cfg, err := guest.Load(c.dirs.Config, name)
	if err != nil {
		fmt.Fprintf(c.stderr, "vserver: %v\n", err)
		return nil, monitor.ExitConfig
	}
	return cfg, 0
}

func (c *cli) startOpts() monitor.StartOptions {
	return monitor.StartOptions{Vinit: c.vinit, Stderr: c.stderr}
}

func (c *cli) start(name string, args []string) int {
	if len(args) > 0 {
		return c.usageErr("start takes no arguments")
	}
	cfg, code := c.load(name)
	if cfg == nil {
		return code
	}
	if err := monitor.Start(cfg, c.dirs, c.startOpts()); err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "%s: started\n", name)
	return monitor.ExitOK
}

// stopTimeout is how long the CLI waits for a stop: the guest's stop
// timeout, the pre- and post-stop hooks, and a margin for the kill.
func (c *cli) stopTimeout(name string) time.Duration {
	cfg, err := guest.Load(c.dirs.Config, name)
	if err != nil {
		cfg = guest.Default(name)
	}
	return cfg.Stop.Timeout + 2*cfg.Hooks.Timeout + 15*time.Second
}

func (c *cli) stop(name string, args []string) int {
	if len(args) > 0 {
		return c.usageErr("stop takes no arguments")
	}
	if err := monitor.Stop(c.dirs, name, c.stopTimeout(name)); err != nil {
		if errors.Is(err, monitor.ErrNotRunning) {
			// As in 2003: stopping a stopped guest is not an error.
			fmt.Fprintf(c.stdout, "%s: not running\n", name)
			return monitor.ExitOK
		}
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "%s: stopped\n", name)
	return monitor.ExitOK
}

func (c *cli) restart(name string, args []string) int {
	if len(args) > 0 {
		return c.usageErr("restart takes no arguments")
	}
	cfg, code := c.load(name)
	if cfg == nil {
		return code
	}
	if err := monitor.Stop(c.dirs, name, c.stopTimeout(name)); err != nil && !errors.Is(err, monitor.ErrNotRunning) {
		return c.fail(err)
	}
	if err := monitor.Start(cfg, c.dirs, c.startOpts()); err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "%s: restarted\n", name)
	return monitor.ExitOK
}

func (c *cli) reboot(name string, args []string) int {
	if len(args) > 0 {
		return c.usageErr("reboot takes no arguments")
	}
	if err := monitor.Reboot(c.dirs, name, c.stopTimeout(name)+45*time.Second); err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "%s: rebooted\n", name)
	return monitor.ExitOK
}

func (c *cli) halt(name string, args []string) int {
	if len(args) > 0 {
		return c.usageErr("halt takes no arguments")
	}
	if err := monitor.Halt(c.dirs, name, c.stopTimeout(name)); err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "%s: halted\n", name)
	return monitor.ExitOK
}

func (c *cli) logs(name string, args []string) int {
	fs := flag.NewFlagSet("logs", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	n := fs.Int("n", 0, "")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return c.usageErr("logs [-n LINES]")
	}
	p := c.dirs.LogPath(name)
	if _, err := os.Stat(p); err != nil {
		return c.fail(fmt.Errorf("guest %s has no log (%s): %w", name, p, err))
	}
	lines := *n
	if lines <= 0 {
		lines = 1 << 30
	}
	fmt.Fprint(c.stdout, monitor.Tail(p, lines))
	return monitor.ExitOK
}

func (c *cli) runMonitor(name string, args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	detached := fs.Bool("detached", false, "")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return c.usageErr("run [--detached]")
	}
	cfg, code := c.load(name)
	if cfg == nil {
		return code
	}
	opt := monitor.Options{Vinit: c.vinit}
	if *detached {
		return monitor.RunDetached(cfg, c.dirs, opt)
	}
	opt.Ready = func(err error) {
		if err == nil {
			// Under systemd (Type=notify); a no-op without NOTIFY_SOCKET.
			_, _ = daemon.SdNotify(false, daemon.SdNotifyReady)
		}
	}
	return monitor.RunForeground(cfg, c.dirs, opt, c.stderr)
}

func (c *cli) status(name string) int {
	i := monitor.Inspect(c.dirs, name)
	w := tabwriter.NewWriter(c.stdout, 0, 4, 1, ' ', 0)
	defer w.Flush()
	if !i.Running {
		fmt.Fprintf(w, "name:\t%s\nstate:\tstopped\n", name)
		if i.Config == nil {
			if _, err := guest.Load(c.dirs.Config, name); err != nil {
				fmt.Fprintf(w, "config:\t%v\n", err)
			}
		}
		return monitor.ExitNotRunning
	}
	s := i.State
	if s == nil {
		fmt.Fprintf(w, "name:\t%s\nstate:\trunning (no state file yet)\n", name)
		return monitor.ExitOK
	}
	fmt.Fprintf(w, "name:\t%s\n", name)
	fmt.Fprintf(w, "state:\t%s\n", s.Phase)
	fmt.Fprintf(w, "context:\t%d\n", s.Context)
	fmt.Fprintf(w, "init pid:\t%d (host)\n", s.InitPID)
	fmt.Fprintf(w, "monitor pid:\t%d\n", s.MonitorPID)
	fmt.Fprintf(w, "boots:\t%d (reboots: %d)\n", s.Boots, s.Boots-1)
	fmt.Fprintf(w, "uptime:\t%v (since first boot %v)\n", i.Uptime(), time.Since(s.Since).Round(time.Second))
	fmt.Fprintf(w, "processes:\t%d\n", i.Stats.Procs)
	fmt.Fprintf(w, "memory:\t%s\n", human(i.Stats.Memory))
	fmt.Fprintf(w, "cpu:\t%s\n", cpuTime(i.Stats.CPU))
	fmt.Fprintf(w, "net:\t%s %s\n", s.NetMode, strings.Join(s.IPs, " "))
	if s.Veth != "" {
		fmt.Fprintf(w, "veth:\t%s (host end)\n", s.Veth)
	}
	if len(s.Protections) > 0 {
		fmt.Fprintf(w, "ipv4root:\t%s\n", strings.Join(s.Protections, ", "))
	}
	fmt.Fprintf(w, "cgroup:\t%s\n", s.Cgroup)
	fmt.Fprintf(w, "log:\t%s\n", s.Log)
	return monitor.ExitOK
}

func human(n int64) string {
	if n < 0 {
		return "-"
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	f, u := float64(n), "KMGT"
	i := -1
	for f >= unit && i < len(u)-1 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f%ciB", f, u[i])
}

func cpuTime(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	return d.Round(10 * time.Millisecond).String()
}

func (c *cli) list(args []string) int {
	asJSON, ok := jsonFlag("list", args)
	if !ok {
		return c.usageErr("list [--json]")
	}
	infos, err := monitor.List(c.dirs)
	if err != nil {
		return c.fail(err)
	}
	if asJSON {
		out := make([]guestJSON, 0, len(infos))
		for _, i := range infos {
			out = append(out, c.guestInfo(i))
		}
		return c.printJSON(out)
	}
	bw := bufio.NewWriter(c.stdout) // one write, not one per cell
	defer bw.Flush()
	w := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tCTX\tSTATE\tPROCS\tMEMORY\tCPU\tUPTIME\tIPS\tNET")
	for _, i := range infos {
		ctx, state, procs, mem, cpu, up, ips, mode := "-", "stopped", "-", "-", "-", "-", "-", "-"
		if i.Config != nil {
			ctx, mode = fmt.Sprint(i.Config.Context), i.Config.Net.Mode
			var a []string
			for _, p := range i.Config.Net.IPs {
				a = append(a, p.Addr().String())
			}
			if len(a) > 0 {
				ips = strings.Join(a, ",")
			}
		} else if _, err := guest.Load(c.dirs.Config, i.Name); err != nil && !errors.Is(err, os.ErrNotExist) {
			state = "invalid-config"
		}
		if i.Running {
			state = "running"
			if i.State != nil {
				state = i.State.Phase
				ctx = fmt.Sprint(i.State.Context)
				up = i.Uptime().String()
				mode = i.State.NetMode
			}
			procs = fmt.Sprint(i.Stats.Procs)
			mem, cpu = human(i.Stats.Memory), cpuTime(i.Stats.CPU)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", i.Name, ctx, state, procs, mem, cpu, up, ips, mode)
	}
	w.Flush()
	return monitor.ExitOK
}

func parallelFlag(name string, args []string) (int, bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	j := fs.Int("j", 6, "")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 || *j < 1 {
		return 0, false
	}
	return *j, true
}

func (c *cli) startAll(args []string) int {
	j, ok := parallelFlag("start-all", args)
	if !ok {
		return c.usageErr("start-all [-j N]")
	}
	if err := monitor.StartAll(c.dirs, j, c.startOpts(), c.stdout); err != nil {
		return c.fail(err)
	}
	return monitor.ExitOK
}

func (c *cli) stopAll(args []string) int {
	j, ok := parallelFlag("stop-all", args)
	if !ok {
		return c.usageErr("stop-all [-j N]")
	}
	if err := monitor.StopAll(c.dirs, j, 0, c.stdout); err != nil {
		return c.fail(err)
	}
	return monitor.ExitOK
}

func (c *cli) check(args []string) int {
	if len(args) > 1 {
		return c.usageErr("check [NAME]")
	}
	var names []string
	if len(args) == 1 {
		names = args
	} else {
		var err error
		if names, err = guest.Names(c.dirs.Config); err != nil {
			return c.fail(err)
		}
	}
	code := monitor.ExitOK
	for _, n := range names {
		cfg, err := guest.Load(c.dirs.Config, n)
		if err != nil {
			fmt.Fprintf(c.stderr, "%v\n", err)
			code = monitor.ExitConfig
			continue
		}
		problems := monitor.CheckGuest(cfg, c.vinit)
		for _, p := range problems {
			fmt.Fprintf(c.stderr, "%s: %s\n", cfg.File, p)
		}
		if len(problems) > 0 && code == monitor.ExitOK {
			code = monitor.ExitFailed
		}
		if len(problems) == 0 {
			fmt.Fprintf(c.stdout, "%s: ok\n", n)
		}
	}
	for _, line := range monitor.Probe() {
		fmt.Fprintf(c.stdout, "kernel: %s\n", line)
	}
	return code
}
