package services

import (
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kballard/go-shellquote"
	"golang.org/x/sys/unix"

	"github.com/vserver-go/vserver/internal/tomlcheck"
)

// serviceKeys are the keys a service file may have, for "did you mean".
var serviceKeys = []string{
	"description", "command", "type", "pidfile", "after", "requires", "user", "group",
	"groups", "workdir", "umask", "env", "env_file", "rlimits", "no_new_privs", "ready",
	"notify_access", "restart", "success_exit", "restart_delay", "restart_max_delay",
	"restart_reset", "start_limit", "stop_signal", "stop_timeout", "reload_signal",
	"stdout", "stderr", "log_max_size", "log_keep", "listen", "listen_names", "watchdog",
	"main", "enabled",
}

var readyKeys = []string{"notify", "fd", "tcp", "unix", "file", "command", "timeout", "interval"}

var startLimitKeys = []string{"burst", "interval"}

// rlimitNames maps the rlimits keys to their resources.
var rlimitNames = map[string]int{
	"as": unix.RLIMIT_AS, "core": unix.RLIMIT_CORE, "cpu": unix.RLIMIT_CPU,
	"data": unix.RLIMIT_DATA, "fsize": unix.RLIMIT_FSIZE, "locks": unix.RLIMIT_LOCKS,
	"memlock": unix.RLIMIT_MEMLOCK, "msgqueue": unix.RLIMIT_MSGQUEUE, "nice": unix.RLIMIT_NICE,
	"nofile": unix.RLIMIT_NOFILE, "nproc": unix.RLIMIT_NPROC, "rss": unix.RLIMIT_RSS,
	"rtprio": unix.RLIMIT_RTPRIO, "rttime": unix.RLIMIT_RTTIME,
	"sigpending": unix.RLIMIT_SIGPENDING, "stack": unix.RLIMIT_STACK,
}

var serviceName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$`)

// ServiceName returns the service name of a file path (its stem) and whether
// it is a valid name.
func ServiceName(path string) (string, bool) {
	n := strings.TrimSuffix(filepath.Base(path), ".toml")
	return n, serviceName.MatchString(n)
}

// defaultSpec is a service with every default applied.
func defaultSpec(name, file string) *Spec {
	return &Spec{
		Name: name, File: file,
		Type: TypeSimple, UID: -1, GID: -1, WorkDir: "/",
		Ready:        Ready{Timeout: 30 * time.Second, Interval: 50 * time.Millisecond},
		NotifyAccess: NotifyMain, Restart: RestartOnFailure, SuccessExit: []int{0},
		RestartDelay: 100 * time.Millisecond, RestartMax: 30 * time.Second, RestartReset: 10 * time.Second,
		StartLimit: StartLimit{Burst: 5, Interval: 10 * time.Second},
		StopSignal: syscall.SIGTERM, StopTimeout: 10 * time.Second, ReloadSignal: syscall.SIGHUP,
		Stdout: Output{Kind: OutputConsole}, Stderr: Output{Kind: OutputConsole},
		LogMaxSize: 1 << 20, LogKeep: 3, Enabled: true,
	}
}

// LoadService parses and validates one service file. The spec is returned
// even when there are errors (with defaults where values were bad), so
// callers can still see its name and dependencies; it must not be run then.
// A nil lookup means SystemLookup("/").
func LoadService(path string, data []byte, lookup Lookup) (*Spec, []error) {
	if lookup == nil {
		lookup = SystemLookup("/")
	}
	name, ok := ServiceName(path)
	s := defaultSpec(name, path)
	td, m := tomlcheck.NewDecoder(path, data)
	d := &decoder{td}
	if !ok {
		d.Errorf(tomlcheck.Pos{Line: 1, Col: 1}, "invalid service name %q (want letters, digits, and _ . @ - after the first, at most 64)", name)
	}
	if m == nil {
		return s, d.Errs
	}
	sd := &serviceDecoder{decoder: d, s: s, m: m, lookup: lookup}
	sd.decode()
	return s, d.Sorted()
}

type serviceDecoder struct {
	*decoder
	s      *Spec
	m      map[string]any
	lookup Lookup

	readyKinds  []string // the readiness kinds set in ready, in file order
	nListen     int      // entries in listen, valid or not
	listenNames []string // listen_names, if valid
	hasNames    bool
}

func (d *serviceDecoder) has(key string) bool { _, ok := d.m[key]; return ok }

func (d *serviceDecoder) decode() {
	s := d.s
	for _, k := range d.SortedKeys(nil, d.m) {
		p, v := []string{k}, d.m[k]
		switch k {
		case "description":
			if str, ok := d.Str(p, v); ok {
				s.Description = str
			}
		case "command":
			if argv, ok := d.command(p, v); ok {
				s.Command = argv
			}
		case "type":
			if t, ok := d.OneOf(p, v, "simple", "notify", "oneshot", "forking"); ok {
				s.Type = Type(t)
			}
		case "pidfile":
			if str, ok := d.AbsPath(p, v); ok {
				s.PIDFile = str
			}
		case "after":
			s.After = d.deps(p, v)
		case "requires":
			s.Requires = d.deps(p, v)
		case "user", "group", "groups":
			// resolved together below: group defaults from user
		case "workdir":
			if str, ok := d.AbsPath(p, v); ok {
				s.WorkDir = str
			}
		case "umask":
			if mask, ok := d.umask(p, v); ok {
				s.Umask, s.UmaskSet = mask, true
			}
		case "env":
			d.env(p, v)
		case "env_file":
			d.envFile(p, v)
		case "rlimits":
			d.rlimits(p, v)
		case "no_new_privs":
			if b, ok := d.Boolean(p, v); ok {
				s.NoNewPrivs = b
			}
		case "ready":
			d.ready(p, v)
		case "notify_access":
			if str, ok := d.OneOf(p, v, "main", "all"); ok {
				s.NotifyAccess = NotifyAccess(str)
			}
		case "restart":
			if str, ok := d.OneOf(p, v, "always", "on-failure", "never"); ok {
				s.Restart = RestartPolicy(str)
			}
		case "success_exit":
			d.successExit(p, v)
		case "restart_delay":
			if dur, ok := d.Duration(p, v); ok {
				s.RestartDelay = dur
			}
		case "restart_max_delay":
			if dur, ok := d.Duration(p, v); ok {
				s.RestartMax = dur
			}
		case "restart_reset":
			if dur, ok := d.Duration(p, v); ok {
				s.RestartReset = dur
			}
		case "start_limit":
			d.startLimit(p, v)
		case "stop_signal":
			if sig, ok := d.signal(p, v); ok {
				s.StopSignal = sig
			}
		case "stop_timeout":
			if dur, ok := d.Duration(p, v); ok {
				s.StopTimeout = dur
			}
		case "reload_signal":
			if sig, ok := d.signal(p, v); ok {
				s.ReloadSignal = sig
			}
		case "stdout":
			if o, ok := d.output(p, v); ok {
				s.Stdout = o
			}
		case "stderr":
			if o, ok := d.output(p, v); ok {
				s.Stderr = o
			}
		case "log_max_size":
			if n, ok := d.Size(p, v); ok {
				s.LogMaxSize, s.logMaxSizeSet = n, true
			}
		case "log_keep":
			if n, ok := d.Integer(p, v, 0, 1000); ok {
				s.LogKeep, s.logKeepSet = int(n), true
			}
		case "listen":
			d.listen(p, v)
		case "listen_names":
			if names, ok := d.StrList(p, v); ok {
				for i, n := range names {
					if n == "" || len(n) > 255 || strings.ContainsAny(n, ":\x00\n") {
						d.ValErr(tomlcheck.Sub(p, tomlcheck.Elem(i)), "invalid name %q (1 to 255 characters, no colon)", n)
					}
				}
				d.listenNames, d.hasNames = names, true
			}
		case "watchdog":
			if dur, ok := d.Duration(p, v); ok {
				s.Watchdog = dur
			}
		case "main":
			if b, ok := d.Boolean(p, v); ok {
				s.Main = b
			}
		case "enabled":
			if b, ok := d.Boolean(p, v); ok {
				s.Enabled = b
			}
		default:
			d.UnknownKey(p, serviceKeys)
		}
	}
	d.credentials()
	d.crossCheck()
}

// command accepts a string (split by shell-quoting rules, no shell) or an
// array of strings.
func (d *serviceDecoder) command(p []string, v any) ([]string, bool) {
	var argv []string
	switch v := v.(type) {
	case string:
		var err error
		if argv, err = shellquote.Split(v); err != nil {
			msg := err.Error()
			d.ValErr(p, "%s", strings.ToLower(msg[:1])+msg[1:])
			return nil, false
		}
	case []any:
		var ok bool
		if argv, ok = d.StrList(p, v); !ok {
			return nil, false
		}
	default:
		d.WrongType(p, "a string or an array of strings", v)
		return nil, false
	}
	if len(argv) == 0 || argv[0] == "" {
		d.ValErr(p, "empty command")
		return nil, false
	}
	for i, a := range argv {
		if strings.ContainsRune(a, 0) {
			d.ValErr(p, "argument %d contains a NUL byte", i)
			return nil, false
		}
	}
	return argv, true
}

// deps reads a list of service names.
func (d *serviceDecoder) deps(p []string, v any) []string {
	names, ok := d.StrList(p, v)
	if !ok {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for i, n := range names {
		if !serviceName.MatchString(n) {
			d.ValErr(tomlcheck.Sub(p, tomlcheck.Elem(i)), "invalid service name %q", n)
			continue
		}
		if n == d.s.Name {
			d.ValErr(tomlcheck.Sub(p, tomlcheck.Elem(i)), "service %q cannot depend on itself", n)
			continue
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// credentials resolves user, group and groups together: group defaults to
// the user's primary group, groups to the user's memberships.
func (d *serviceDecoder) credentials() {
	s := d.s
	if v, ok := d.m["user"]; ok {
		p := []string{"user"}
		if n, ok := d.idName(p, v); ok {
			uid, gid, home, err := d.lookup.User(n)
			if err != nil {
				if id, nerr := strconv.Atoi(n); nerr == nil && id >= 0 {
					uid, gid, home, err = id, id, "/", nil
				}
			}
			if err != nil {
				d.ValErr(p, "%v", err)
			} else {
				s.User, s.UID, s.GID, s.Home = n, uid, gid, home
			}
		}
	}
	if v, ok := d.m["group"]; ok {
		p := []string{"group"}
		if n, ok := d.idName(p, v); ok {
			if gid, ok := d.group(p, n); ok {
				s.GID = gid
			}
		}
	}
	if v, ok := d.m["groups"]; ok {
		p := []string{"groups"}
		if a, ok := d.Array(p, v); ok {
			s.Groups = []int{}
			for i, e := range a {
				ep := tomlcheck.Sub(p, tomlcheck.Elem(i))
				if n, ok := d.idName(ep, e); ok {
					if gid, ok := d.group(ep, n); ok {
						s.Groups = append(s.Groups, gid)
					}
				}
			}
		}
	} else if ml, ok := d.lookup.(MemberLookup); ok && s.User != "" {
		if gids, err := ml.Memberships(s.User); err == nil {
			s.Groups = gids
		}
	}
}

func (d *serviceDecoder) group(p []string, n string) (int, bool) {
	gid, err := d.lookup.Group(n)
	if err != nil {
		if id, nerr := strconv.Atoi(n); nerr == nil && id >= 0 {
			return id, true
		}
		d.ValErr(p, "%v", err)
		return 0, false
	}
	return gid, true
}

// idName accepts a user or group as a name or a number.
func (d *decoder) idName(p []string, v any) (string, bool) {
	switch v := v.(type) {
	case string:
		if v == "" {
			d.ValErr(p, "empty name")
			return "", false
		}
		return v, true
	case int64:
		if v < 0 || v > math.MaxUint32-1 {
			d.ValErr(p, "id %d is out of range", v)
			return "", false
		}
		return strconv.FormatInt(v, 10), true
	}
	d.WrongType(p, "a name or a number", v)
	return "", false
}

func (d *serviceDecoder) umask(p []string, v any) (mask os.FileMode, ok bool) {
	switch v := v.(type) {
	case string:
		n, err := strconv.ParseUint(strings.TrimPrefix(v, "0o"), 8, 32)
		if err != nil || v == "" || len(v) > 4 || n > 0o777 {
			d.ValErr(p, "invalid umask %q (want octal such as \"022\")", v)
			return 0, false
		}
		return os.FileMode(n), true
	case int64:
		if v < 0 || v > 0o777 {
			d.ValErr(p, "umask %#o is out of range (want 0 to 0o777)", v)
			return 0, false
		}
		return os.FileMode(v), true
	}
	d.WrongType(p, `an octal string such as "022"`, v)
	return 0, false
}

func (d *serviceDecoder) env(p []string, v any) {
	t, ok := d.Table(p, v)
	if !ok {
		return
	}
	d.s.Env = map[string]string{}
	for _, k := range d.SortedKeys(p, t) {
		kp := tomlcheck.Sub(p, k)
		if k == "" || strings.ContainsAny(k, "=\x00") {
			d.KeyErr(kp, "env: invalid variable name %q", k)
			continue
		}
		if val, ok := d.Str(kp, t[k]); ok {
			if strings.ContainsRune(val, 0) {
				d.ValErr(kp, "value contains a NUL byte")
				continue
			}
			d.s.Env[k] = val
		}
	}
}

func (d *serviceDecoder) envFile(p []string, v any) {
	var items []string
	var paths [][]string
	switch v := v.(type) {
	case string:
		items, paths = []string{v}, [][]string{p}
	case []any:
		list, ok := d.StrList(p, v)
		if !ok {
			return
		}
		items = list
		for i := range list {
			paths = append(paths, tomlcheck.Sub(p, tomlcheck.Elem(i)))
		}
	default:
		d.WrongType(p, "a path or an array of paths", v)
		return
	}
	for i, it := range items {
		ef := EnvFile{Path: it}
		if strings.HasPrefix(it, "-") {
			ef = EnvFile{Path: it[1:], Optional: true}
		}
		if _, ok := d.AbsPath(paths[i], ef.Path); ok {
			d.s.EnvFiles = append(d.s.EnvFiles, ef)
		}
	}
}

func (d *serviceDecoder) rlimits(p []string, v any) {
	t, ok := d.Table(p, v)
	if !ok {
		return
	}
	names := make([]string, 0, len(rlimitNames))
	for n := range rlimitNames {
		names = append(names, n)
	}
	for _, k := range d.SortedKeys(p, t) {
		kp := tomlcheck.Sub(p, k)
		res, known := rlimitNames[k]
		if !known {
			d.UnknownKey(kp, names)
			continue
		}
		rl := Rlimit{Name: k, Resource: res}
		switch val := t[k].(type) {
		case []any:
			if len(val) != 2 {
				d.ValErr(kp, "expected [soft, hard], found %d values", len(val))
				continue
			}
			cur, ok1 := d.rlimitValue(tomlcheck.Sub(kp, tomlcheck.Elem(0)), val[0])
			hi, ok2 := d.rlimitValue(tomlcheck.Sub(kp, tomlcheck.Elem(1)), val[1])
			if !ok1 || !ok2 {
				continue
			}
			if cur > hi {
				d.ValErr(kp, "soft limit is above the hard limit")
				continue
			}
			rl.Cur, rl.Max = cur, hi
		default:
			n, ok := d.rlimitValue(kp, val)
			if !ok {
				continue
			}
			rl.Cur, rl.Max = n, n
		}
		d.s.Rlimits = append(d.s.Rlimits, rl)
	}
}

func (d *serviceDecoder) rlimitValue(p []string, v any) (uint64, bool) {
	switch v := v.(type) {
	case int64:
		if v < 0 {
			d.ValErr(p, "negative limit %d", v)
			return 0, false
		}
		return uint64(v), true
	case string:
		if v == "unlimited" || v == "infinity" {
			return RlimInfinity, true
		}
		d.ValErr(p, "invalid limit %q (want a number or \"unlimited\")", v)
		return 0, false
	}
	d.WrongType(p, `a number, "unlimited" or [soft, hard]`, v)
	return 0, false
}

func (d *serviceDecoder) ready(p []string, v any) {
	t, ok := d.Table(p, v)
	if !ok {
		return
	}
	r := &d.s.Ready
	var kinds []string
	for _, k := range d.SortedKeys(p, t) {
		kp, val := tomlcheck.Sub(p, k), t[k]
		switch k {
		case "notify":
			if b, ok := d.Boolean(kp, val); ok && b {
				r.Kind = ReadyNotify
				kinds = append(kinds, k)
			}
		case "fd":
			if n, ok := d.Integer(kp, val, 3, 1<<20); ok {
				r.Kind, r.FD = ReadyFD, int(n)
				kinds = append(kinds, k)
			}
		case "tcp":
			if str, ok := d.Str(kp, val); ok {
				if err := checkHostPort(str); err != nil {
					d.ValErr(kp, "%v", err)
				} else {
					r.Kind, r.Addr = ReadyTCP, str
					kinds = append(kinds, k)
				}
			}
		case "unix":
			if str, ok := d.Str(kp, val); ok {
				if err := checkUnixPath(str); err != nil {
					d.ValErr(kp, "%v", err)
				} else {
					r.Kind, r.Addr = ReadyUnix, str
					kinds = append(kinds, k)
				}
			}
		case "file":
			if str, ok := d.AbsPath(kp, val); ok {
				r.Kind, r.Addr = ReadyFile, str
				kinds = append(kinds, k)
			}
		case "command":
			if argv, ok := d.command(kp, val); ok {
				r.Kind, r.Command = ReadyCommand, argv
				kinds = append(kinds, k)
			}
		case "timeout":
			if dur, ok := d.Duration(kp, val); ok {
				r.Timeout = dur
			}
		case "interval":
			if dur, ok := d.Duration(kp, val); ok {
				if dur == 0 {
					d.ValErr(kp, "must be more than 0")
				} else {
					r.Interval = dur
				}
			}
		default:
			d.UnknownKey(kp, readyKeys)
		}
	}
	if len(kinds) > 1 {
		d.KeyErr(tomlcheck.Sub(p, kinds[1]), "ready: only one of notify, fd, tcp, unix, file, command may be set (found %s)", strings.Join(kinds, " and "))
	}
	d.readyKinds = kinds
}

func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return fmt.Errorf("invalid address %q (want HOST:PORT, [IPv6]:PORT)", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("invalid port in %q (want 1 to 65535)", s)
	}
	return nil
}

// checkUnixPath accepts an absolute path or an abstract name "@name".
func checkUnixPath(s string) error {
	if !strings.HasPrefix(s, "/") && !(strings.HasPrefix(s, "@") && len(s) > 1) {
		return fmt.Errorf("%q is not an absolute path or @abstract name", s)
	}
	if len(s) > 107 {
		return fmt.Errorf("socket path %q is longer than 107 bytes", s)
	}
	if strings.ContainsRune(s, 0) {
		return fmt.Errorf("socket path contains a NUL byte")
	}
	return nil
}

func (d *serviceDecoder) successExit(p []string, v any) {
	a, ok := d.Array(p, v)
	if !ok {
		return
	}
	out := []int{}
	for i, e := range a {
		if n, ok := d.Integer(tomlcheck.Sub(p, tomlcheck.Elem(i)), e, 0, 255); ok {
			out = append(out, int(n))
		}
	}
	d.s.SuccessExit = out
}

func (d *serviceDecoder) startLimit(p []string, v any) {
	t, ok := d.Table(p, v)
	if !ok {
		return
	}
	for _, k := range d.SortedKeys(p, t) {
		kp := tomlcheck.Sub(p, k)
		switch k {
		case "burst":
			if n, ok := d.Integer(kp, t[k], 0, 1<<20); ok {
				d.s.StartLimit.Burst = int(n)
			}
		case "interval":
			if dur, ok := d.Duration(kp, t[k]); ok {
				d.s.StartLimit.Interval = dur
			}
		default:
			d.UnknownKey(kp, startLimitKeys)
		}
	}
}

func (d *serviceDecoder) output(p []string, v any) (Output, bool) {
	str, ok := d.Str(p, v)
	if !ok {
		return Output{}, false
	}
	switch {
	case str == "console":
		return Output{Kind: OutputConsole}, true
	case str == "null":
		return Output{Kind: OutputNull}, true
	case strings.HasPrefix(str, "/"):
		if strings.HasSuffix(str, "/") || strings.ContainsRune(str, 0) {
			d.ValErr(p, "%q is not a file path", str)
			return Output{}, false
		}
		return Output{Kind: OutputFile, Path: str}, true
	}
	d.ValErr(p, "invalid output %q (want \"console\", \"null\" or an absolute file path)", str)
	return Output{}, false
}

func (d *serviceDecoder) listen(p []string, v any) {
	list, ok := d.StrList(p, v)
	if !ok {
		return
	}
	seen := map[Listen]int{}
	for i, l := range list {
		ln, err := parseListen(l)
		if err != nil {
			d.ValErr(tomlcheck.Sub(p, tomlcheck.Elem(i)), "%v", err)
			continue
		}
		if j, dup := seen[ln]; dup {
			d.ValErr(tomlcheck.Sub(p, tomlcheck.Elem(i)), "%q is already listen[%d]", l, j)
			continue
		}
		seen[ln] = i
		ln.Name = d.s.Name
		d.s.Listen = append(d.s.Listen, ln)
	}
	d.nListen = len(list)
}

// parseListen reads "tcp:ADDR:PORT", "tcp6:[ADDR]:PORT", "udp:ADDR:PORT",
// "udp6:[ADDR]:PORT" or "unix:/path". ADDR may be empty (all addresses).
func parseListen(s string) (Listen, error) {
	network, addr, ok := strings.Cut(s, ":")
	bad := func(why string) (Listen, error) {
		return Listen{}, fmt.Errorf("invalid listen address %q: %s", s, why)
	}
	if !ok {
		return bad(`want "tcp:ADDR:PORT", "tcp6:[ADDR]:PORT", "udp:ADDR:PORT" or "unix:/path"`)
	}
	switch network {
	case "unix":
		if err := checkUnixPath(addr); err != nil {
			return bad(err.Error())
		}
		return Listen{Network: "unix", Address: addr}, nil
	case "tcp", "tcp6", "udp", "udp6":
	default:
		return bad(fmt.Sprintf("unknown network %q (want tcp, tcp6, udp, udp6 or unix)", network))
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return bad("want ADDR:PORT, or [ADDR]:PORT for IPv6")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return bad("port must be 1 to 65535")
	}
	if host != "" {
		ip := net.ParseIP(host)
		if ip == nil {
			return bad(fmt.Sprintf("%q is not an IP address", host))
		}
		v4 := ip.To4() != nil
		if strings.HasSuffix(network, "6") && v4 && strings.Contains(host, ".") {
			return bad(fmt.Sprintf("%s needs an IPv6 address", network))
		}
		if !strings.HasSuffix(network, "6") && !v4 {
			return bad(fmt.Sprintf("%s needs an IPv4 address; use %s6:[ADDR]:PORT", network, network))
		}
	}
	return Listen{Network: network, Address: net.JoinHostPort(host, port)}, nil
}

// crossCheck validates what depends on several keys and applies derived
// defaults.
func (d *serviceDecoder) crossCheck() {
	s := d.s
	if !d.has("command") {
		d.Errorf(tomlcheck.Pos{Line: 1, Col: 1}, "command: required (the program to run)")
	}
	switch {
	case s.Type == TypeForking && s.PIDFile == "" && !d.has("pidfile"):
		d.ValErr([]string{"type"}, `"forking" needs a pidfile`)
	case s.Type != TypeForking && d.has("pidfile"):
		d.KeyErr([]string{"pidfile"}, `pidfile: only used with type = "forking"`)
	}
	kinds := d.readyKinds
	switch s.Type {
	case TypeNotify:
		if len(kinds) > 0 && s.Ready.Kind != ReadyNotify {
			d.KeyErr([]string{"ready", kinds[0]}, `ready.%s: type = "notify" is ready when it sends READY=1; remove ready.%s or change type`, kinds[0], kinds[0])
		}
		s.Ready.Kind = ReadyNotify
	case TypeOneshot:
		if len(kinds) > 0 {
			d.KeyErr([]string{"ready", kinds[0]}, `ready.%s: a oneshot service is ready when it exits 0; only ready.timeout applies`, kinds[0])
			s.Ready.Kind = ReadyStarted
		}
		if s.Restart == RestartAlways {
			d.ValErr([]string{"restart"}, `"always" would run a oneshot service in a loop; use "on-failure" or "never"`)
		}
	}
	if s.RestartMax < s.RestartDelay && d.has("restart_max_delay") {
		d.ValErr([]string{"restart_max_delay"}, "%v is less than restart_delay (%v)", s.RestartMax, s.RestartDelay)
	}
	for _, r := range s.Requires { // requires implies after
		if !contains(s.After, r) {
			s.After = append(s.After, r)
		}
	}
	if !d.has("stderr") {
		s.Stderr = s.Stdout
	}
	if names := d.listenNames; d.hasNames {
		if n := d.nListen; len(names) != n {
			d.ValErr([]string{"listen_names"}, "has %d names for %d listen sockets", len(names), n)
		} else {
			for i := range s.Listen {
				s.Listen[i].Name = names[i]
			}
		}
	}
}
