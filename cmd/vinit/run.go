package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vserver-go/vserver/internal/control"
	"github.com/vserver-go/vserver/internal/pid1"
	"github.com/vserver-go/vserver/internal/services"
	"golang.org/x/sys/unix"
)

const usage = `usage:
  vinit [--config DIR] [-v]                 run as init (supervisor mode)
  vinit [-g] [--rewrite S:S] [--remap N:N] [--grace DUR] -- CMD [ARGS...]
  vinit status|reboot|halt|poweroff|ping    talk to a running vinit
  vinit start|stop|restart|reload|log NAME
Invoked as reboot, halt, poweroff, shutdown, vreboot or vhalt: that command.
`

func run(args []string, sigs *pid1.Signals) int {
	if len(args) > 1 && args[1] == "check" {
		return check(args[2:])
	}
	switch base := filepath.Base(args[0]); base {
	case "reboot", "vreboot":
		return client("reboot", "", args[1:])
	case "halt", "vhalt":
		return client("halt", "", args[1:])
	case "poweroff":
		return client("poweroff", "", args[1:])
	case "shutdown":
		return shutdown(args[1:])
	}
	if len(args) > 1 {
		if _, ok := control.Ops[args[1]]; ok {
			name := ""
			rest := args[2:]
			if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
				name, rest = rest[0], rest[1:]
			}
			return client(args[1], name, rest)
		}
	}
	return initMode(args[1:], sigs)
}

// initMode parses the flags of supervisor and single-command mode.
func initMode(args []string, sigs *pid1.Signals) int {
	fs := flag.NewFlagSet("vinit", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	configDir := fs.String("config", "/etc/vinit", "configuration directory")
	group := fs.Bool("g", false, "forward signals to the command's process group")
	verbose := fs.Bool("v", false, "log more")
	grace := fs.Duration("grace", 2*time.Second, "grace for processes left when the command exits")
	controlPath := fs.String("control", "", "control socket (supervisor mode default: "+control.DefaultSocket+")")
	rebootPath := fs.String("reboot-socket", "", "2003 vreboot socket, or none (default /dev/reboot as PID 1 with a private /dev)")
	shutdownTimeout := fs.Duration("shutdown-timeout", 10*time.Second, "budget for the whole shutdown")
	hookTimeout := fs.Duration("hook-timeout", 30*time.Second, "timeout of each hook")
	rewrite := map[unix.Signal]unix.Signal{}
	remap := map[int]int{}
	fs.Func("rewrite", "rewrite a forwarded signal FROM:TO (repeatable)", func(s string) error {
		a, b, ok := strings.Cut(s, ":")
		if !ok {
			return errors.New("want FROM:TO")
		}
		from, err := pid1.ParseSignal(a)
		if err != nil {
			return err
		}
		to, err := pid1.ParseSignal(b)
		if err != nil {
			return err
		}
		rewrite[from] = to
		return nil
	})
	fs.Func("remap", "remap the command's exit status CODE:NEW (repeatable)", func(s string) error {
		a, b, ok := strings.Cut(s, ":")
		from, err1 := strconv.Atoi(a)
		to, err2 := strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil || from < 0 || from > 255 || to < 0 || to > 255 {
			return errors.New("want CODE:NEW, both 0-255")
		}
		remap[from] = to
		return nil
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Print(usage)
			return 0
		}
		fmt.Fprintf(os.Stderr, "vinit: %v\n%s", err, usage)
		return 2
	}
	if fs.NArg() > 0 {
		return pid1.RunSingle(sigs, pid1.SingleOptions{Argv: fs.Args(), Group: *group,
			Rewrite: rewrite, Remap: remap, Grace: *grace, Verbose: *verbose, ConfigDir: *configDir})
	}
	if len(rewrite) > 0 || len(remap) > 0 || *group {
		fmt.Fprintf(os.Stderr, "vinit: -g, --rewrite and --remap need a command after --\n")
		return 2
	}
	ctl := *controlPath
	if ctl == "" {
		ctl = control.DefaultSocket
	}
	rb := *rebootPath
	if rb == "" && pid1.OwnsDev() {
		rb = "/dev/reboot"
	}
	if rb == "none" {
		rb = ""
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return pid1.RunSupervisor(sigs, pid1.SupervisorOptions{
		Set:       set,
		ConfigDir: *configDir, ControlSocket: ctl, RebootSocket: rb,
		ShutdownTimeout: *shutdownTimeout, HookTimeout: *hookTimeout,
		PrestartFatal: true, Verbose: *verbose,
	})
}

// check validates a configuration directory like vinit would load it and
// prints every problem as file:line:col: message.
func check(args []string) int {
	dir := "/etc/vinit"
	root := "/"
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "--root" && i+1 < len(args):
			root = args[i+1]
			i++
		case strings.HasPrefix(args[i], "-"):
			fmt.Fprintf(os.Stderr, "vinit check: unknown flag %q\n", args[i])
			return 2
		default:
			dir = args[i]
		}
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		fmt.Fprintf(os.Stderr, "vinit check: %s: not a directory\n", dir)
		return 2
	}
	cfg := services.LoadDir(dir, services.SystemLookup(root))
	for _, err := range cfg.Errors {
		fmt.Fprintln(os.Stderr, err)
	}
	if len(cfg.Errors) > 0 {
		fmt.Fprintf(os.Stderr, "vinit check: %d problems in %s\n", len(cfg.Errors), dir)
		return 1
	}
	fmt.Printf("%s: %d services, no problems\n", dir, len(cfg.Services))
	return 0
}

// shutdown understands the usual "shutdown -r now" and "shutdown -h now".
func shutdown(args []string) int {
	op := "poweroff"
	for _, a := range args {
		switch a {
		case "-r", "--reboot":
			op = "reboot"
		case "-h", "-P", "--poweroff":
			op = "poweroff"
		case "-H", "--halt":
			op = "halt"
		case "now", "+0":
		default:
			if strings.HasPrefix(a, "+") || strings.Contains(a, ":") {
				fmt.Fprintf(os.Stderr, "shutdown: only \"now\" is supported, not %q\n", a)
				return 2
			}
		}
	}
	return client(op, "", nil)
}

// client sends one request to the running vinit and prints the reply.
func client(op, name string, args []string) int {
	path := os.Getenv("VINIT_CONTROL")
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "--control" && i+1 < len(args):
			path = args[i+1]
			i++
		case strings.HasPrefix(args[i], "--control="):
			path = strings.TrimPrefix(args[i], "--control=")
		case args[i] == "-f" || args[i] == "--force" || args[i] == "-n":
			// reboot -f and friends: vinit's shutdown is already bounded.
		default:
			fmt.Fprintf(os.Stderr, "vinit %s: unknown argument %q\n%s", op, args[i], usage)
			return 2
		}
	}
	if path == "" {
		path = control.DefaultSocket
	}
	rep, err := control.Call(path, control.Request{Op: op, Name: name}, 10*time.Second)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vinit %s: %v\n", op, err)
		return 3
	}
	if !rep.OK {
		fmt.Fprintf(os.Stderr, "vinit %s: %s\n", op, rep.Error)
		return 1
	}
	if len(rep.Data) > 0 {
		printReply(op, name, rep.Data)
	}
	return 0
}

// printReply shows a reply for a person: a table for status, lines for log,
// indented JSON otherwise. VINIT_JSON=1 prints the raw JSON for scripts.
func printReply(op, name string, data json.RawMessage) {
	if os.Getenv("VINIT_JSON") != "" {
		fmt.Println(string(data))
		return
	}
	switch {
	case op == "log":
		var lines []string
		if json.Unmarshal(data, &lines) == nil {
			for _, l := range lines {
				fmt.Println(l)
			}
			return
		}
	case op == "status" && name == "":
		var st struct {
			State    string            `json:"state"`
			PID      int               `json:"pid"`
			Uptime   int64             `json:"uptime_seconds"`
			Reaped   uint64            `json:"orphans_reaped"`
			Services []services.Status `json:"services"`
		}
		if json.Unmarshal(data, &st) == nil {
			fmt.Printf("vinit: %s, pid %d, up %v, %d orphans reaped\n", st.State, st.PID, time.Duration(st.Uptime)*time.Second, st.Reaped)
			tw := tabwriter.NewWriter(os.Stdout, 2, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATE\tPID\tUPTIME\tRESTARTS\tLAST EXIT\tREASON")
			for _, s := range st.Services {
				pid := "-"
				if s.PID > 0 {
					pid = strconv.Itoa(s.PID)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.Name, s.State, pid, dash(s.Uptime), s.Restarts, dash(s.LastExit), dash(s.Reason))
			}
			tw.Flush()
			return
		}
	}
	var v any
	if json.Unmarshal(data, &v) == nil {
		if b, err := json.MarshalIndent(v, "", "  "); err == nil {
			fmt.Println(string(b))
			return
		}
	}
	fmt.Println(string(data))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
