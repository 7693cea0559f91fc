package guest

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseAllFields(t *testing.T) {
	src := `root = "/srv/guests/g1/"
hostname = "g1.example"
domainname = "example"
onboot = true
priority = 7
context = 4242
nice = -3

[net]
ips = ["10.1.2.3/24", "fd00::3", "10.1.2.4"]
dev = "dummy0"

[caps]
add = ["net_raw", "CAP_SYS_NICE"]
drop = ["SYS_PTRACE"]

[limits]
processes = 100
memory = "64M"
cpu = "50%"
nofile = 4096

[stop]
timeout = "5s"

[reboot]
allow = false
max = 3
interval = "10s"

[hooks]
pre-start = "/bin/echo 'a b' c"
post-start = ["/bin/echo", "x"]
pre-stop = [["/bin/true"], "/bin/false -v"]
timeout = "2s"

[[mount]]
source = "/srv/data"
target = "/data"
readonly = true

[[mount]]
source = "/srv/logs"
target = "/var/log/app"
`
	c, err := Parse("g1.toml", "g1", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Name: "g1", File: "g1.toml", Root: "/srv/guests/g1", Hostname: "g1.example", Domainname: "example",
		OnBoot: true, Priority: 7, Context: 4242, ContextFixed: true, Nice: -3,
		Net: Net{Mode: NetIPv4Root, Dev: "dummy0", IPs: []netip.Prefix{
			netip.MustParsePrefix("10.1.2.3/24"), netip.MustParsePrefix("fd00::3/128"), netip.MustParsePrefix("10.1.2.4/32")}},
		Caps:   Caps{Add: []string{"CAP_NET_RAW", "CAP_SYS_NICE"}, Drop: []string{"CAP_SYS_PTRACE"}},
		Limits: Limits{Processes: 100, Memory: 64 << 20, CPUPercent: 50, NoFile: 4096},
		Stop:   Stop{Timeout: 5 * time.Second},
		Reboot: Reboot{Allow: false, Max: 3, Interval: 10 * time.Second},
		Hooks: Hooks{Timeout: 2 * time.Second, Commands: map[string][][]string{
			"pre-start":  {{"/bin/echo", "a b", "c"}},
			"post-start": {{"/bin/echo", "x"}},
			"pre-stop":   {{"/bin/true"}, {"/bin/false", "-v"}},
		}},
		Mounts: []Mount{{Source: "/srv/data", Target: "/data", ReadOnly: true}, {Source: "/srv/logs", Target: "/var/log/app"}},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	if got := c.Net.FirstIPv4(); got != netip.MustParseAddr("10.1.2.3") {
		t.Errorf("FirstIPv4 = %v", got)
	}
}

func TestParseDefaults(t *testing.T) {
	c, err := Parse("d.toml", "d", []byte("# nothing\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Default("d")
	want.File = "d.toml"
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v, want %+v", c, want)
	}
	if c.Root != "/vservers/d" || c.Hostname != "d" || c.Net.Mode != NetNone || c.Stop.Timeout != 30*time.Second ||
		!c.Reboot.Allow || c.Priority != 100 {
		t.Errorf("unexpected defaults %+v", c)
	}
	if c.Context != DeriveContext("d") || c.Context < 1000 || c.Context >= 1<<24 || DeriveContext("e") == c.Context {
		t.Errorf("derived context %d", c.Context)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"syntax", "root = \n", "f.toml:1:8: expected value but found '\\n' instead"},
		{"unknown top", "hostnme = \"x\"\n", `f.toml:1:1: unknown key "hostnme", did you mean "hostname"?`},
		{"unknown far", "zzzzzz = 1\n", `f.toml:1:1: unknown key "zzzzzz"`},
		{"unknown in table", "[limits]\nmemroy = \"1G\"\n", `f.toml:2:1: unknown key "limits.memroy", did you mean "limits.memory"?`},
		{"root relative", "root = \"vservers/x\"\n", `f.toml:1:8: root: "vservers/x" is not an absolute path`},
		{"root slash", "root = \"/\"\n", `f.toml:1:8: root: the host's / cannot be a guest root`},
		{"root type", "root = 3\n", `f.toml:1:8: root: expected a string, found integer 3`},
		{"hostname", "hostname = \"a b\"\n", `f.toml:1:12: hostname: invalid host name "a b": character ' '`},
		{"domainname", "domainname = \"a/b\"\n", `f.toml:1:14: domainname: invalid domain name "a/b"`},
		{"onboot", "onboot = \"yes\"\n", `f.toml:1:10: onboot: expected true or false, found string "yes"`},
		{"priority", "priority = 1.5\n", `f.toml:1:12: priority: expected an integer, found a float`},
		{"context low", "context = 1\n", `f.toml:1:11: context: 1 is out of range (want 2 to 16777215)`},
		{"nice", "nice = 20\n", `f.toml:1:8: nice: 20 is out of range (want -20 to 19)`},
		{"net type", "net = 1\n", `f.toml:1:7: net: expected a table, found integer 1`},
		{"net mode", "[net]\nmode = \"bridge\"\n", `f.toml:2:8: net.mode: unknown value "bridge" (want "ipv4root", "netns", "host", "none")`},
		{"net ip", "[net]\nips = [\"10.0.0.1\", \"10.0.0.300\"]\n", `f.toml:2:20: net.ips[1]: invalid address "10.0.0.300" (want an IP or IP/prefix-length)`},
		{"net ip dup", "[net]\nips = [\"10.0.0.1\", \"10.0.0.1/8\"]\n", `f.toml:2:20: net.ips[1]: address 10.0.0.1 is listed twice`},
		{"net guest loopback range", "[net]\nips = [\"10.0.0.1\", \"127.66.0.10/32\"]\n", `f.toml:2:20: net.ips[1]: address 127.66.0.10 is in 127.64.0.0/10, which is reserved for per-guest loopback addresses; use e.g. 127.2.0.10`},
		{"net wildcard", "[net]\nips = [\"0.0.0.0\"]\n", `f.toml:2:8: net.ips[0]: address "0.0.0.0" is the wildcard; a guest needs its own address`},
		{"ipv4root no ips", "[net]\nmode = \"ipv4root\"\n", `f.toml:2:8: net.mode: mode "ipv4root" needs at least one address in net.ips`},
		{"dev wrong mode", "[net]\nmode = \"host\"\ndev = \"eth0\"\n", `f.toml:3:7: net.dev: dev is only used in mode "ipv4root" (mode is "host")`},
		{"dev name", "[net]\nips = [\"10.0.0.1\"]\ndev = \"a very long name!\"\n", `f.toml:3:7: net.dev: invalid interface name "a very long name!"`},
		{"cap unknown", "[caps]\nadd = [\"CAP_NET_RAW\", \"CAP_NET_RAWW\"]\n", `f.toml:2:23: caps.add[1]: unknown capability "CAP_NET_RAWW", did you mean "CAP_NET_RAW"?`},
		{"cap both", "[caps]\nadd = [\"NET_RAW\"]\ndrop = [\"net_raw\"]\n", `f.toml:2:8: caps.add[0]: CAP_NET_RAW is both added and dropped`},
		{"processes", "[limits]\nprocesses = 0\n", `f.toml:2:13: limits.processes: 0 is out of range (want 1 to 4194304)`},
		{"memory unit", "[limits]\nmemory = \"1Q\"\n", `f.toml:2:10: limits.memory: invalid size "1Q" (use bytes or a unit: "512K", "1MiB", "10M", "1G")`},
		{"memory small", "[limits]\nmemory = 1024\n", `f.toml:2:10: limits.memory: 1024 bytes is too small for a guest (want at least 4MiB)`},
		{"cpu pct", "[limits]\ncpu = \"fast\"\n", `f.toml:2:7: limits.cpu: invalid CPU quota "fast" (want a percentage of one CPU such as "50%" or "200%")`},
		{"cpu weight", "[limits]\ncpu = 0\n", `f.toml:2:7: limits.cpu: weight 0 is out of range (want 1 to 10000, or a quota such as "50%")`},
		{"cpu type", "[limits]\ncpu = true\n", `f.toml:2:7: limits.cpu: expected a quota such as "50%" or a weight 1 to 10000, found boolean true`},
		{"nofile", "[limits]\nnofile = 3\n", `f.toml:2:10: limits.nofile: 3 is out of range (want 16 to 1073741824)`},
		{"stop timeout", "[stop]\ntimeout = \"soon\"\n", `f.toml:2:11: stop.timeout: invalid duration "soon" (use Go syntax such as "100ms", "10s" or "1m30s")`},
		{"stop range", "[stop]\ntimeout = \"2h\"\n", `f.toml:2:11: stop.timeout: 2h0m0s is out of range (want 100ms to 1h)`},
		{"reboot allow", "[reboot]\nallow = 1\n", `f.toml:2:9: reboot.allow: expected true or false, found integer 1`},
		{"reboot interval", "[reboot]\ninterval = \"10ms\"\n", `f.toml:2:12: reboot.interval: 10ms is too short (want at least 1s)`},
		{"reboot unknown", "[reboot]\nrate = 5\n", `f.toml:2:1: unknown key "reboot.rate"`},
		{"hook phase", "[hooks]\npre_start = \"/bin/true\"\n", `f.toml:2:1: unknown key "hooks.pre_start", did you mean "hooks.pre-start"?`},
		{"hook quote", "[hooks]\npost-stop = \"/bin/echo 'x\"\n", `f.toml:2:13: hooks.post-stop: cannot split command "/bin/echo 'x": Unterminated single-quoted string`},
		{"hook empty", "[hooks]\npre-stop = \"  \"\n", `f.toml:2:12: hooks.pre-stop: empty command`},
		{"hook elem", "[hooks]\npre-stop = [[\"/bin/true\"], 5]\n", `f.toml:2:28: hooks.pre-stop[1]: expected a command string or an argv array, found integer 5`},
		{"mount not aot", "mount = 1\n", `f.toml:1:9: mount: expected an array of tables ([[mount]]), found integer 1`},
		{"mount missing", "[[mount]]\nsource = \"/a\"\n", `f.toml:1:1: mount[0]: missing target`},
		{"mount second", "[[mount]]\nsource = \"/a\"\ntarget = \"/a\"\n[[mount]]\nsource = \"/b\"\ntarget = \"b\"\n", `f.toml:6:10: mount[1].target: "b" is not an absolute path`},
		{"mount dup", "[[mount]]\nsource = \"/a\"\ntarget = \"/x\"\n[[mount]]\nsource = \"/b\"\ntarget = \"/x/\"\n", `f.toml:6:10: mount[1].target: /x is mounted twice`},
		{"mount key", "[[mount]]\nsource = \"/a\"\ntarget = \"/x\"\nread-only = true\n", `f.toml:4:1: unknown key "mount[0].read-only", did you mean "mount[0].readonly"?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("f.toml", "g", []byte(tc.src))
			if err == nil {
				t.Fatalf("no error, want %s", tc.want)
			}
			var pe *PosError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *PosError", err)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestParseSeveralErrorsInFileOrder(t *testing.T) {
	src := "nice = 99\n[net]\nmode = \"x\"\n[stop]\ntimeout = 5\n"
	_, err := Parse("f.toml", "g", []byte(src))
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 3 {
		t.Fatalf("got %v, want 3 errors", err)
	}
	for i, prefix := range []string{"f.toml:1:8:", "f.toml:3:8:", "f.toml:5:11:"} {
		if !strings.HasPrefix(errs[i].Error(), prefix) {
			t.Errorf("error %d = %q, want prefix %q", i, errs[i], prefix)
		}
	}
}

func TestValidName(t *testing.T) {
	for _, n := range []string{"a", "web-1", "db_2.x", strings.Repeat("a", 64)} {
		if err := ValidName(n); err != nil {
			t.Errorf("ValidName(%q) = %v", n, err)
		}
	}
	for _, n := range []string{"", "-a", ".a", "a/b", "a b", "../x", strings.Repeat("a", 65)} {
		if ValidName(n) == nil {
			t.Errorf("ValidName(%q) accepted", n)
		}
	}
}

// TestExamples loads every shipped example so the docs cannot drift.
func TestExamples(t *testing.T) {
	dir := filepath.Join("..", "..", "etc", "vservers")
	names, err := Names(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 2 {
		t.Fatalf("found %d examples in %s", len(names), dir)
	}
	for _, n := range names {
		if _, err := Load(dir, n); err != nil {
			t.Errorf("example %s: %v", n, err)
		}
	}
}

func TestLoadMissing(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(dir, "nope")
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want not-exist", err)
	}
	if _, err := Load(dir, "../etc/passwd"); err == nil || !strings.Contains(err.Error(), "invalid guest name") {
		t.Fatalf("got %v", err)
	}
}
