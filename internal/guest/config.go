// Package guest reads and validates a guest's configuration,
// /etc/vservers/NAME.toml (docs/vserver.toml.md).
//
// Loading is strict: every unknown key (with a "did you mean" hint) and every
// bad value is an error carrying file:line:col, and all of a file's errors
// are reported at once.
package guest

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kballard/go-shellquote"

	"github.com/vserver-go/vserver/internal/ipv4root"
	"github.com/vserver-go/vserver/internal/isolation"
	"github.com/vserver-go/vserver/internal/tomlcheck"
)

// Network modes.
const (
	NetIPv4Root = "ipv4root" // host stack, BPF programs confine the guest to its IPs
	NetNetns    = "netns"    // own network namespace
	NetHost     = "host"     // host stack, unrestricted
	NetNone     = "none"     // own network namespace with only loopback
)

// Hook phases, in the order they run over a guest's life.
var Phases = []string{"pre-start", "post-start", "pre-stop", "post-stop"}

// Defaults.
const (
	DefaultPriority     = 100
	DefaultStopTimeout  = 30 * time.Second
	DefaultHookTimeout  = 30 * time.Second
	DefaultRebootMax    = 5
	DefaultRebootWindow = time.Minute
)

// Config is one guest's validated configuration.
type Config struct {
	Name         string
	File         string // the file it was read from ("" when built in code)
	Root         string // absolute host path of the guest's root directory
	Hostname     string
	Domainname   string
	OnBoot       bool
	Priority     int
	Context      uint32 // fixed or derived from the name (ContextFixed says which)
	ContextFixed bool
	Nice         int

	Net    Net
	Caps   Caps
	Limits Limits
	Stop   Stop
	Reboot Reboot
	Hooks  Hooks
	Mounts []Mount
}

// Net is the [net] table.
type Net struct {
	Mode string
	IPs  []netip.Prefix // in file order; a bare address is a /32 or /128
	Dev  string         // interface that carries the IPs as aliases ("" = none)
}

// FirstIPv4 is where a bind to 0.0.0.0 lands, or the zero Addr.
func (n Net) FirstIPv4() netip.Addr {
	for _, p := range n.IPs {
		if p.Addr().Is4() {
			return p.Addr()
		}
	}
	return netip.Addr{}
}

// Addrs returns the IPv4 and IPv6 addresses, each in file order.
func (n Net) Addrs() (v4, v6 []netip.Addr) {
	for _, p := range n.IPs {
		if p.Addr().Is4() {
			v4 = append(v4, p.Addr())
		} else {
			v6 = append(v6, p.Addr())
		}
	}
	return v4, v6
}

// Caps is the [caps] table: changes to the default bounding set.
type Caps struct {
	Add  []string // canonical names, "CAP_NET_RAW"
	Drop []string
}

// Limits is the [limits] table. Zero means "no limit".
type Limits struct {
	Processes  int64
	Memory     int64 // bytes
	CPUPercent int   // quota in percent of one CPU ("150%" = 1.5 CPUs)
	CPUWeight  int   // 1..10000, relative share (cgroup2 cpu.weight)
	NoFile     uint64
}

// Stop is the [stop] table.
type Stop struct {
	Timeout time.Duration
}

// Reboot is the [reboot] table.
type Reboot struct {
	Allow    bool          // false: a reboot from inside stops the guest
	Max      int           // at most Max reboots ...
	Interval time.Duration // ... within Interval, else the guest is stopped
}

// Hooks is the [hooks] table: host commands per phase.
type Hooks struct {
	Commands map[string][][]string // phase → argv lists, in order
	Timeout  time.Duration
}

// Mount is one [[mount]] entry: a host path bind-mounted into the guest.
type Mount struct {
	Source   string // absolute host path
	Target   string // absolute path inside the guest
	ReadOnly bool
}

// Errors is every problem found in one file, in file order.
type Errors []error

func (e Errors) Error() string {
	s := make([]string, len(e))
	for i, err := range e {
		s[i] = err.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap lets errors.As find the *PosError inside.
func (e Errors) Unwrap() []error { return e }

// PosError is a configuration error at a place in a file.
type PosError = tomlcheck.PosError

// decoder decodes a guest file: the shared strict checks plus the guest's
// own tables.
type decoder struct{ *tomlcheck.Decoder }

// ValidName reports whether name can name a guest: it becomes a file name, a
// cgroup directory and a unit instance.
func ValidName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("invalid guest name %q: want 1 to 64 characters", name)
	}
	for i, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			(i > 0 && (c == '-' || c == '_' || c == '.'))
		if !ok {
			return fmt.Errorf("invalid guest name %q: use letters, digits and - _ . (not first)", name)
		}
	}
	return nil
}

// Path is the config file of name in dir.
func Path(dir, name string) string { return filepath.Join(dir, name+".toml") }

// Load reads dir/NAME.toml.
func Load(dir, name string) (*Config, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	file := Path(dir, name)
	data, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("guest %q: no configuration %s: %w", name, file, err)
		}
		return nil, fmt.Errorf("guest %q: read configuration: %w", name, err)
	}
	return Parse(file, name, data)
}

// Names lists the guests configured in dir (the stems of *.toml), sorted.
func Names(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("list guests in %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		n, ok := strings.CutSuffix(e.Name(), ".toml")
		if !ok || e.IsDir() || ValidName(n) != nil {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// DeriveContext is the context id of a guest without a fixed one: stable for
// a name, in [1000, 1<<24) so it also fits a 127.x.y.z loopback address.
func DeriveContext(name string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return 1000 + h.Sum32()%(1<<24-1000)
}

// Parse validates data (the text of file) as the configuration of guest name.
// On failure the error is an Errors of *PosError.
func Parse(file, name string, data []byte) (*Config, error) {
	td, m := tomlcheck.NewDecoder(file, data)
	if m == nil {
		return nil, Errors(td.Errs)
	}
	d := &decoder{td}
	c := d.config(name, m)
	if len(d.Errs) > 0 {
		return nil, Errors(d.Sorted())
	}
	c.File = file
	return c, nil
}

// Default is the configuration of a guest whose file sets nothing.
func Default(name string) *Config {
	return &Config{
		Name:     name,
		Root:     filepath.Join("/vservers", name),
		Hostname: name,
		Priority: DefaultPriority,
		Context:  DeriveContext(name),
		Net:      Net{Mode: NetNone},
		Stop:     Stop{Timeout: DefaultStopTimeout},
		Reboot:   Reboot{Allow: true, Max: DefaultRebootMax, Interval: DefaultRebootWindow},
		Hooks:    Hooks{Commands: map[string][][]string{}, Timeout: DefaultHookTimeout},
	}
}

var topKeys = []string{"root", "hostname", "domainname", "onboot", "priority", "context", "nice",
	"net", "caps", "limits", "stop", "reboot", "hooks", "mount"}

func (d *decoder) config(name string, m map[string]any) *Config {
	c := Default(name)
	modeSet := false
	for _, k := range d.SortedKeys(nil, m) {
		v, p := m[k], []string{k}
		switch k {
		case "root":
			if s, ok := d.AbsPath(p, v); ok {
				c.Root = filepath.Clean(s)
				if c.Root == "/" {
					d.ValErr(p, "the host's / cannot be a guest root")
				}
			}
		case "hostname":
			if s, ok := d.Str(p, v); ok {
				if err := validHostname(s); err != nil {
					d.ValErr(p, "%v", err)
				}
				c.Hostname = s
			}
		case "domainname":
			if s, ok := d.Str(p, v); ok {
				if len(s) > 64 || strings.ContainsAny(s, " \t\n/\x00") {
					d.ValErr(p, "invalid domain name %q", s)
				}
				c.Domainname = s
			}
		case "onboot":
			c.OnBoot, _ = d.Boolean(p, v)
		case "priority":
			if n, ok := d.Integer(p, v, math.MinInt32, math.MaxInt32); ok {
				c.Priority = int(n)
			}
		case "context":
			if n, ok := d.Integer(p, v, 2, 1<<24-1); ok {
				c.Context, c.ContextFixed = uint32(n), true
			}
		case "nice":
			if n, ok := d.Integer(p, v, -20, 19); ok {
				c.Nice = int(n)
			}
		case "net":
			if t, ok := d.Table(p, v); ok {
				modeSet = d.net(p, t, &c.Net)
			}
		case "caps":
			if t, ok := d.Table(p, v); ok {
				d.caps(p, t, &c.Caps)
			}
		case "limits":
			if t, ok := d.Table(p, v); ok {
				d.limits(p, t, &c.Limits)
			}
		case "stop":
			if t, ok := d.Table(p, v); ok {
				d.stop(p, t, &c.Stop)
			}
		case "reboot":
			if t, ok := d.Table(p, v); ok {
				d.reboot(p, t, &c.Reboot)
			}
		case "hooks":
			if t, ok := d.Table(p, v); ok {
				d.hooks(p, t, &c.Hooks)
			}
		case "mount":
			d.mounts(p, v, c)
		default:
			d.UnknownKey(p, topKeys)
		}
	}
	if !modeSet && len(c.Net.IPs) > 0 {
		c.Net.Mode = NetIPv4Root
	}
	return c
}

func validHostname(s string) error {
	if s == "" || len(s) > 64 {
		return fmt.Errorf("invalid host name %q: want 1 to 64 characters", s)
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return fmt.Errorf("invalid host name %q", s)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("invalid host name %q: character %q", s, c)
			}
		}
	}
	return nil
}

var netKeys = []string{"mode", "ips", "dev"}

// net decodes [net]; it reports whether mode was given.
func (d *decoder) net(path []string, t map[string]any, n *Net) bool {
	modeSet := false
	for _, k := range d.SortedKeys(path, t) {
		v, p := t[k], tomlcheck.Sub(path, k)
		switch k {
		case "mode":
			if s, ok := d.OneOf(p, v, NetIPv4Root, NetNetns, NetHost, NetNone); ok {
				n.Mode, modeSet = s, true
			}
		case "ips":
			a, ok := d.Array(p, v)
			if !ok {
				continue
			}
			seen := map[netip.Addr]bool{}
			for i, e := range a {
				ep := tomlcheck.Sub(p, tomlcheck.Elem(i))
				s, ok := d.Str(ep, e)
				if !ok {
					continue
				}
				pf, err := parseIP(s)
				if err != nil {
					d.ValErr(ep, "%v", err)
					continue
				}
				if seen[pf.Addr()] {
					d.ValErr(ep, "address %s is listed twice", pf.Addr())
					continue
				}
				// Another guest's loopback could be this address.
				if ipv4root.LoopbackRange.Contains(pf.Addr()) {
					d.ValErr(ep, "address %s is in %s, which is reserved for per-guest loopback addresses; use e.g. 127.2.0.10", pf.Addr(), ipv4root.LoopbackRange)
					continue
				}
				seen[pf.Addr()] = true
				n.IPs = append(n.IPs, pf)
			}
		case "dev":
			if s, ok := d.Str(p, v); ok {
				if s == "" || len(s) > 15 || strings.ContainsAny(s, "/ \t\n\x00:") {
					d.ValErr(p, "invalid interface name %q", s)
				}
				n.Dev = s
			}
		default:
			d.UnknownKey(p, netKeys)
		}
	}
	if modeSet && n.Mode == NetIPv4Root && len(n.IPs) == 0 {
		d.ValErr(tomlcheck.Sub(path, "mode"), `mode "ipv4root" needs at least one address in net.ips`)
		n.Mode = NetNone
	}
	if n.Mode != NetIPv4Root && n.Dev != "" && modeSet {
		d.ValErr(tomlcheck.Sub(path, "dev"), "dev is only used in mode \"ipv4root\" (mode is %q)", n.Mode)
	}
	return modeSet
}

// parseIP reads "10.0.0.2", "10.0.0.2/24" or "2001:db8::2/64".
func parseIP(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid address %q (want an IP or IP/prefix-length)", s)
		}
		if p.Addr().Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("invalid address %q: zones are not allowed", s)
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("invalid address %q (want an IP or IP/prefix-length)", s)
	}
	a = a.Unmap()
	if a.IsUnspecified() {
		return netip.Prefix{}, fmt.Errorf("address %q is the wildcard; a guest needs its own address", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

var capsKeys = []string{"add", "drop"}

func (d *decoder) caps(path []string, t map[string]any, c *Caps) {
	seen := map[string][]string{}
	for _, k := range d.SortedKeys(path, t) {
		v, p := t[k], tomlcheck.Sub(path, k)
		switch k {
		case "add", "drop":
			names, _ := d.StrList(p, v)
			for i, n := range names {
				cn, err := isolation.ParseCaps([]string{n})
				if err != nil {
					d.ValErr(tomlcheck.Sub(p, tomlcheck.Elem(i)), "%v", err)
					continue
				}
				seen[k] = append(seen[k], cn...)
			}
		default:
			d.UnknownKey(p, capsKeys)
		}
	}
	c.Add, c.Drop = seen["add"], seen["drop"]
	for i, a := range c.Add {
		if contains(c.Drop, a) {
			d.ValErr(tomlcheck.Sub(path, "add", tomlcheck.Elem(i)), "%s is both added and dropped", a)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var limitsKeys = []string{"processes", "memory", "cpu", "nofile"}

func (d *decoder) limits(path []string, t map[string]any, l *Limits) {
	for _, k := range d.SortedKeys(path, t) {
		v, p := t[k], tomlcheck.Sub(path, k)
		switch k {
		case "processes":
			if n, ok := d.Integer(p, v, 1, 1<<22); ok {
				l.Processes = n
			}
		case "memory":
			if n, ok := d.Size(p, v); ok {
				if n < 4<<20 {
					d.ValErr(p, "%d bytes is too small for a guest (want at least 4MiB)", n)
					continue
				}
				l.Memory = n
			}
		case "nofile":
			if n, ok := d.Integer(p, v, 16, 1<<30); ok {
				l.NoFile = uint64(n)
			}
		case "cpu":
			d.cpu(p, v, l)
		default:
			d.UnknownKey(p, limitsKeys)
		}
	}
}

// cpu reads "50%" (a quota: half a CPU) or an integer weight 1..10000.
func (d *decoder) cpu(p []string, v any, l *Limits) {
	switch v := v.(type) {
	case int64:
		if v < 1 || v > 10000 {
			d.ValErr(p, "weight %d is out of range (want 1 to 10000, or a quota such as \"50%%\")", v)
			return
		}
		l.CPUWeight = int(v)
	case string:
		num, ok := strings.CutSuffix(strings.TrimSpace(v), "%")
		n, err := strconv.Atoi(strings.TrimSpace(num))
		if !ok || err != nil || n < 1 || n > 100*1024 {
			d.ValErr(p, "invalid CPU quota %q (want a percentage of one CPU such as \"50%%\" or \"200%%\")", v)
			return
		}
		l.CPUPercent = n
	default:
		d.WrongType(p, `a quota such as "50%" or a weight 1 to 10000`, v)
	}
}

var stopKeys = []string{"timeout"}

func (d *decoder) stop(path []string, t map[string]any, s *Stop) {
	for _, k := range d.SortedKeys(path, t) {
		v, p := t[k], tomlcheck.Sub(path, k)
		switch k {
		case "timeout":
			if dur, ok := d.Duration(p, v); ok {
				if dur < 100*time.Millisecond || dur > time.Hour {
					d.ValErr(p, "%v is out of range (want 100ms to 1h)", dur)
					continue
				}
				s.Timeout = dur
			}
		default:
			d.UnknownKey(p, stopKeys)
		}
	}
}

var rebootKeys = []string{"allow", "max", "interval"}

func (d *decoder) reboot(path []string, t map[string]any, r *Reboot) {
	for _, k := range d.SortedKeys(path, t) {
		v, p := t[k], tomlcheck.Sub(path, k)
		switch k {
		case "allow":
			if b, ok := d.Boolean(p, v); ok {
				r.Allow = b
			}
		case "max":
			if n, ok := d.Integer(p, v, 1, 1000); ok {
				r.Max = int(n)
			}
		case "interval":
			if dur, ok := d.Duration(p, v); ok {
				if dur < time.Second {
					d.ValErr(p, "%v is too short (want at least 1s)", dur)
					continue
				}
				r.Interval = dur
			}
		default:
			d.UnknownKey(p, rebootKeys)
		}
	}
}

var hooksKeys = append(append([]string{}, Phases...), "timeout")

func (d *decoder) hooks(path []string, t map[string]any, h *Hooks) {
	for _, k := range d.SortedKeys(path, t) {
		v, p := t[k], tomlcheck.Sub(path, k)
		switch k {
		case "timeout":
			if dur, ok := d.Duration(p, v); ok {
				if dur < 100*time.Millisecond {
					d.ValErr(p, "%v is too short (want at least 100ms)", dur)
					continue
				}
				h.Timeout = dur
			}
		case "pre-start", "post-start", "pre-stop", "post-stop":
			if cmds, ok := d.commands(p, v); ok {
				h.Commands[k] = cmds
			}
		default:
			d.UnknownKey(p, hooksKeys)
		}
	}
}

// commands reads a hook value: a command string (split by shell quoting, no
// shell), an argv array of strings, or an array of those for several
// commands run in order.
func (d *decoder) commands(p []string, v any) ([][]string, bool) {
	switch v := v.(type) {
	case string:
		argv, ok := d.command(p, v)
		if !ok {
			return nil, false
		}
		return [][]string{argv}, true
	case []any:
		if len(v) == 0 {
			return nil, true
		}
		if _, isStr := v[0].(string); isStr {
			argv, ok := d.StrList(p, v)
			if ok && (len(argv) == 0 || argv[0] == "") {
				d.ValErr(p, "empty command")
				return nil, false
			}
			return [][]string{argv}, ok
		}
		var out [][]string
		ok := true
		for i, e := range v {
			ep := tomlcheck.Sub(p, tomlcheck.Elem(i))
			switch e := e.(type) {
			case string:
				argv, ok2 := d.command(ep, e)
				ok = ok && ok2
				out = append(out, argv)
			case []any:
				argv, ok2 := d.StrList(ep, e)
				if ok2 && (len(argv) == 0 || argv[0] == "") {
					d.ValErr(ep, "empty command")
					ok2 = false
				}
				ok = ok && ok2
				out = append(out, argv)
			default:
				d.WrongType(ep, "a command string or an argv array", e)
				ok = false
			}
		}
		return out, ok
	}
	d.WrongType(p, "a command string or an array", v)
	return nil, false
}

func (d *decoder) command(p []string, s string) ([]string, bool) {
	argv, err := shellquote.Split(s)
	if err != nil {
		d.ValErr(p, "cannot split command %q: %v", s, err)
		return nil, false
	}
	if len(argv) == 0 {
		d.ValErr(p, "empty command")
		return nil, false
	}
	return argv, true
}

var mountKeys = []string{"source", "target", "readonly"}

func (d *decoder) mounts(p []string, v any, c *Config) {
	a, ok := v.([]map[string]any)
	if !ok {
		d.ValErr(p, "expected an array of tables ([[mount]]), found %s", tomlcheck.TypeName(v))
		return
	}
	targets := map[string]bool{}
	for i, t := range a {
		ep := tomlcheck.Sub(p, tomlcheck.Elem(i))
		var m Mount
		for _, k := range d.SortedKeys(ep, t) {
			v, kp := t[k], tomlcheck.Sub(ep, k)
			switch k {
			case "source":
				if s, ok := d.AbsPath(kp, v); ok {
					m.Source = filepath.Clean(s)
				}
			case "target":
				if s, ok := d.AbsPath(kp, v); ok {
					m.Target = filepath.Clean(s)
					if m.Target == "/" {
						d.ValErr(kp, "cannot mount over the guest's /")
					} else if targets[m.Target] {
						d.ValErr(kp, "%s is mounted twice", m.Target)
					}
					targets[m.Target] = true
				}
			case "readonly":
				m.ReadOnly, _ = d.Boolean(kp, v)
			default:
				d.UnknownKey(kp, mountKeys)
			}
		}
		if _, ok := t["source"]; !ok {
			d.KeyErr(ep, "%s: missing source", tomlcheck.Name(ep))
		}
		if _, ok := t["target"]; !ok {
			d.KeyErr(ep, "%s: missing target", tomlcheck.Name(ep))
		}
		c.Mounts = append(c.Mounts, m)
	}
}
