package services

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fakeLookup is a passwd/group database for tests.
type fakeLookup struct {
	users  map[string][3]any // name → uid, gid, home
	groups map[string]int
}

var testLookup = fakeLookup{
	users: map[string][3]any{
		"www-data": {33, 33, "/var/www"},
		"app":      {1000, 1000, "/srv/app"},
	},
	groups: map[string]int{"www-data": 33, "adm": 4, "app": 1000},
}

func (l fakeLookup) User(n string) (int, int, string, error) {
	u, ok := l.users[n]
	if !ok {
		return 0, 0, "", fmt.Errorf("unknown user %q", n)
	}
	return u[0].(int), u[1].(int), u[2].(string), nil
}

func (l fakeLookup) Group(n string) (int, error) {
	g, ok := l.groups[n]
	if !ok {
		return 0, fmt.Errorf("unknown group %q", n)
	}
	return g, nil
}

const webFile = "/etc/vinit/services/web.toml"

func loadOK(t *testing.T, src string) *Spec {
	t.Helper()
	s, errs := LoadService(webFile, []byte(src), testLookup)
	for _, e := range errs {
		t.Errorf("unexpected error: %v", e)
	}
	return s
}

func TestLoadServiceDefaults(t *testing.T) {
	s := loadOK(t, `command = "/bin/true"`)
	want := &Spec{
		Name: "web", File: webFile, Command: []string{"/bin/true"}, Type: TypeSimple,
		UID: -1, GID: -1, WorkDir: "/",
		Ready:        Ready{Timeout: 30 * time.Second, Interval: 50 * time.Millisecond},
		NotifyAccess: NotifyMain, Restart: RestartOnFailure, SuccessExit: []int{0},
		RestartDelay: 100 * time.Millisecond, RestartMax: 30 * time.Second, RestartReset: 10 * time.Second,
		StartLimit: StartLimit{Burst: 5, Interval: 10 * time.Second},
		StopSignal: syscall.SIGTERM, StopTimeout: 10 * time.Second, ReloadSignal: syscall.SIGHUP,
		Stdout: Output{Kind: OutputConsole}, Stderr: Output{Kind: OutputConsole},
		LogMaxSize: 1 << 20, LogKeep: 3, Enabled: true,
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", s, want)
	}
}

func TestLoadServiceFields(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		check func(*Spec) any // returns the value compared with want
		want  any
	}{
		{"command string quoted", `command = "/usr/sbin/nginx -g 'daemon off;' \"a b\""`,
			func(s *Spec) any { return s.Argv() }, []string{"/usr/sbin/nginx", "-g", "daemon off;", "a b"}},
		{"command array", `command = ["/bin/sh", "-c", "echo $HOME"]`,
			func(s *Spec) any { return s.Argv() }, []string{"/bin/sh", "-c", "echo $HOME"}},
		{"description", "command = \"x\"\ndescription = \"web server\"",
			func(s *Spec) any { return s.Description }, "web server"},
		{"type notify implies ready notify", "command = \"x\"\ntype = \"notify\"",
			func(s *Spec) any { return []any{s.Type, s.Ready.Kind} }, []any{TypeNotify, ReadyNotify}},
		{"type oneshot", "command = \"x\"\ntype = \"oneshot\"",
			func(s *Spec) any { return s.Type }, TypeOneshot},
		{"forking with pidfile", "command = \"x\"\ntype = \"forking\"\npidfile = \"/run/x.pid\"",
			func(s *Spec) any { return []any{s.Type, s.PIDFile} }, []any{TypeForking, "/run/x.pid"}},
		{"requires implies after", "command = \"x\"\nafter = [\"a\", \"b\"]\nrequires = [\"c\", \"a\"]",
			func(s *Spec) any { return [][]string{s.After, s.Requires} }, [][]string{{"a", "b", "c"}, {"c", "a"}}},
		{"duplicate deps collapse", "command = \"x\"\nafter = [\"a\", \"a\"]",
			func(s *Spec) any { return s.After }, []string{"a"}},
		{"user sets uid gid home and group", "command = \"x\"\nuser = \"www-data\"",
			func(s *Spec) any { return []any{s.User, s.UID, s.GID, s.Home} }, []any{"www-data", 33, 33, "/var/www"}},
		{"user and group", "command = \"x\"\nuser = \"app\"\ngroup = \"adm\"",
			func(s *Spec) any { return []int{s.UID, s.GID} }, []int{1000, 4}},
		{"numeric user unknown to the lookup", "command = \"x\"\nuser = 4242",
			func(s *Spec) any { return []any{s.User, s.UID, s.GID} }, []any{"4242", 4242, 4242}},
		{"numeric group string", "command = \"x\"\ngroup = \"77\"",
			func(s *Spec) any { return []int{s.UID, s.GID} }, []int{-1, 77}},
		{"groups", "command = \"x\"\ngroups = [\"adm\", 99]",
			func(s *Spec) any { return s.Groups }, []int{4, 99}},
		{"workdir", "command = \"x\"\nworkdir = \"/srv\"",
			func(s *Spec) any { return s.WorkDir }, "/srv"},
		{"umask string", "command = \"x\"\numask = \"027\"",
			func(s *Spec) any { return []any{s.Umask, s.UmaskSet} }, []any{os.FileMode(0o27), true}},
		{"umask toml octal", "command = \"x\"\numask = 0o077",
			func(s *Spec) any { return s.Umask }, os.FileMode(0o77)},
		{"env", "command = \"x\"\nenv = { LANG = \"C.UTF-8\", \"A.B\" = \"\" }",
			func(s *Spec) any { return s.Env }, map[string]string{"LANG": "C.UTF-8", "A.B": ""}},
		{"env table form", "command = \"x\"\n[env]\nX = \"1\"",
			func(s *Spec) any { return s.Env }, map[string]string{"X": "1"}},
		{"env_file string", "command = \"x\"\nenv_file = \"/etc/default/x\"",
			func(s *Spec) any { return s.EnvFiles }, []EnvFile{{Path: "/etc/default/x"}}},
		{"env_file optional", "command = \"x\"\nenv_file = [\"/a\", \"-/b\"]",
			func(s *Spec) any { return s.EnvFiles }, []EnvFile{{Path: "/a"}, {Path: "/b", Optional: true}}},
		{"rlimits", "command = \"x\"\nrlimits = { nofile = 1024, nproc = \"unlimited\", core = [0, \"unlimited\"] }",
			func(s *Spec) any { return s.Rlimits }, []Rlimit{
				{"nofile", unix.RLIMIT_NOFILE, 1024, 1024},
				{"nproc", unix.RLIMIT_NPROC, RlimInfinity, RlimInfinity},
				{"core", unix.RLIMIT_CORE, 0, RlimInfinity}}},
		{"no_new_privs", "command = \"x\"\nno_new_privs = true",
			func(s *Spec) any { return s.NoNewPrivs }, true},
		{"ready tcp", "command = \"x\"\nready = { tcp = \"127.0.0.1:80\", timeout = \"5s\", interval = \"1s\" }",
			func(s *Spec) any { return s.Ready }, Ready{Kind: ReadyTCP, Addr: "127.0.0.1:80", Timeout: 5 * time.Second, Interval: time.Second}},
		{"ready fd", "command = \"x\"\n[ready]\nfd = 3",
			func(s *Spec) any { return []any{s.Ready.Kind, s.Ready.FD} }, []any{ReadyFD, 3}},
		{"ready unix", "command = \"x\"\nready.unix = \"/run/x.sock\"",
			func(s *Spec) any { return []any{s.Ready.Kind, s.Ready.Addr} }, []any{ReadyUnix, "/run/x.sock"}},
		{"ready file", "command = \"x\"\nready = { file = \"/run/x.ready\" }",
			func(s *Spec) any { return []any{s.Ready.Kind, s.Ready.Addr} }, []any{ReadyFile, "/run/x.ready"}},
		{"ready command", "command = \"x\"\nready = { command = \"pg_isready -q\" }",
			func(s *Spec) any { return []any{s.Ready.Kind, s.Ready.Command} }, []any{ReadyCommand, []string{"pg_isready", "-q"}}},
		{"ready notify on simple", "command = \"x\"\nready = { notify = true }",
			func(s *Spec) any { return s.Ready.Kind }, ReadyNotify},
		{"notify_access", "command = \"x\"\nnotify_access = \"all\"",
			func(s *Spec) any { return s.NotifyAccess }, NotifyAll},
		{"restart", "command = \"x\"\nrestart = \"always\"",
			func(s *Spec) any { return s.Restart }, RestartAlways},
		{"success_exit", "command = \"x\"\nsuccess_exit = [0, 143]",
			func(s *Spec) any { return s.SuccessExit }, []int{0, 143}},
		{"restart timing", "command = \"x\"\nrestart_delay = \"1s\"\nrestart_max_delay = \"1m30s\"\nrestart_reset = \"0\"",
			func(s *Spec) any { return []time.Duration{s.RestartDelay, s.RestartMax, s.RestartReset} },
			[]time.Duration{time.Second, 90 * time.Second, 0}},
		{"start_limit", "command = \"x\"\nstart_limit = { burst = 0, interval = \"1m\" }",
			func(s *Spec) any { return s.StartLimit }, StartLimit{0, time.Minute}},
		{"stop_signal name", "command = \"x\"\nstop_signal = \"INT\"",
			func(s *Spec) any { return s.StopSignal }, syscall.SIGINT},
		{"stop_signal number", "command = \"x\"\nstop_signal = 9",
			func(s *Spec) any { return s.StopSignal }, syscall.SIGKILL},
		{"stop_signal realtime", "command = \"x\"\nstop_signal = \"SIGRTMIN+3\"",
			func(s *Spec) any { return s.StopSignal }, syscall.Signal(37)},
		{"stop_timeout", "command = \"x\"\nstop_timeout = \"2s\"",
			func(s *Spec) any { return s.StopTimeout }, 2 * time.Second},
		{"reload_signal", "command = \"x\"\nreload_signal = \"SIGUSR1\"",
			func(s *Spec) any { return s.ReloadSignal }, syscall.SIGUSR1},
		{"stdout file, stderr follows", "command = \"x\"\nstdout = \"/var/log/x.log\"",
			func(s *Spec) any { return []Output{s.Stdout, s.Stderr} },
			[]Output{{OutputFile, "/var/log/x.log"}, {OutputFile, "/var/log/x.log"}}},
		{"stderr own", "command = \"x\"\nstdout = \"null\"\nstderr = \"console\"",
			func(s *Spec) any { return []Output{s.Stdout, s.Stderr} },
			[]Output{{Kind: OutputNull}, {Kind: OutputConsole}}},
		{"log sizes", "command = \"x\"\nlog_max_size = \"10M\"\nlog_keep = 0",
			func(s *Spec) any { return []any{s.LogMaxSize, s.LogKeep} }, []any{int64(10 << 20), 0}},
		{"log size bytes", "command = \"x\"\nlog_max_size = 4096",
			func(s *Spec) any { return s.LogMaxSize }, int64(4096)},
		{"listen", "command = \"x\"\nlisten = [\"tcp:0.0.0.0:80\", \"tcp6:[::1]:80\", \"udp::53\", \"unix:/run/x.sock\", \"unix:@abs\"]",
			func(s *Spec) any { return s.Listen }, []Listen{
				{"tcp", "0.0.0.0:80", "web"}, {"tcp6", "[::1]:80", "web"}, {"udp", ":53", "web"},
				{"unix", "/run/x.sock", "web"}, {"unix", "@abs", "web"}}},
		{"listen_names", "command = \"x\"\nlisten = [\"tcp:127.0.0.1:80\"]\nlisten_names = [\"http\"]",
			func(s *Spec) any { return s.Listen[0].Name }, "http"},
		{"watchdog", "command = \"x\"\nwatchdog = \"30s\"",
			func(s *Spec) any { return s.Watchdog }, 30 * time.Second},
		{"main", "command = \"x\"\nmain = true",
			func(s *Spec) any { return s.Main }, true},
		{"enabled", "command = \"x\"\nenabled = false",
			func(s *Spec) any { return s.Enabled }, false},
		{"dotted keys and comments", "command = \"x\" # the program\nstart_limit.burst = 2 # two\nstart_limit.interval = \"5s\"",
			func(s *Spec) any { return s.StartLimit }, StartLimit{2, 5 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := loadOK(t, tt.src)
			if got := tt.check(s); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

// TestLoadServiceErrors asserts the exact message and position of each class
// of error.
func TestLoadServiceErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"syntax", "command = \"x\"\nrestart = = 1\n",
			[]string{"2:11: expected value but found '=' instead"}},
		{"unknown key with suggestion", "command = \"x\"\nrestrat = \"always\"",
			[]string{`2:1: unknown key "restrat", did you mean "restart"?`}},
		{"unknown key without suggestion", "command = \"x\"\n  frobnicate = 1",
			[]string{`2:3: unknown key "frobnicate"`}},
		{"unknown nested key", "command = \"x\"\n[ready]\n  tpc = \"127.0.0.1:1\"",
			[]string{`3:3: unknown key "ready.tpc", did you mean "ready.tcp"?`}},
		{"unknown key in inline table", "command = \"x\"\nstart_limit = { burst = 1, intervl = \"1s\" }",
			[]string{`2:28: unknown key "start_limit.intervl", did you mean "start_limit.interval"?`}},
		{"unknown rlimit", "command = \"x\"\nrlimits = { nofiles = 1 }",
			[]string{`2:13: unknown key "rlimits.nofiles", did you mean "rlimits.nofile"?`}},
		{"missing command", "description = \"x\"",
			[]string{"1:1: command: required (the program to run)"}},
		{"empty command", `command = ""`, []string{"1:11: command: empty command"}},
		{"empty command array", `command = []`, []string{"1:11: command: empty command"}},
		{"unterminated quote", `command = "/bin/echo 'a"`, []string{"1:11: command: unterminated single-quoted string"}},
		{"command wrong type", `command = 5`, []string{"1:11: command: expected a string or an array of strings, found integer 5"}},
		{"command element wrong type", "command = [\n  \"/bin/echo\",\n  true,\n]",
			[]string{"3:3: command[1]: expected a string, found boolean true"}},
		{"wrong type", "command = \"x\"\ndescription = 3",
			[]string{"2:15: description: expected a string, found integer 3"}},
		{"bad enum", "command = \"x\"\nrestart = \"sometimes\"",
			[]string{`2:11: restart: unknown value "sometimes" (want "always", "on-failure", "never")`}},
		{"bad enum suggestion", "command = \"x\"\ntype = \"notfy\"",
			[]string{`2:8: type: unknown value "notfy" (want "simple", "notify", "oneshot", "forking"), did you mean "notify"?`}},
		{"bad duration", "command = \"x\"\nstop_timeout = \"10 sec\"",
			[]string{`2:16: stop_timeout: invalid duration "10 sec" (use Go syntax such as "100ms", "10s" or "1m30s")`}},
		{"negative duration", "command = \"x\"\nrestart_delay = \"-1s\"",
			[]string{`2:17: restart_delay: negative duration "-1s"`}},
		{"duration as number", "command = \"x\"\nwatchdog = 30",
			[]string{`2:12: watchdog: expected a duration string such as "10s", found integer 30`}},
		{"nested duration", "command = \"x\"\n\n[ready]\ntcp = \"localhost:80\"\ntimeout = \"soon\"",
			[]string{`5:11: ready.timeout: invalid duration "soon" (use Go syntax such as "100ms", "10s" or "1m30s")`}},
		{"unknown signal", "command = \"x\"\nstop_signal = \"SIGFOO\"",
			[]string{`2:15: stop_signal: unknown signal "SIGFOO"`}},
		{"signal out of range", "command = \"x\"\nreload_signal = 65",
			[]string{`2:17: reload_signal: signal number 65 is out of range (want 1 to 64)`}},
		{"unknown user", "command = \"x\"\nuser = \"nobody2\"",
			[]string{`2:8: user: unknown user "nobody2"`}},
		{"unknown group", "command = \"x\"\ngroup = \"wheel\"",
			[]string{`2:9: group: unknown group "wheel"`}},
		{"unknown supplementary group", "command = \"x\"\ngroups = [\"adm\", \"staff\"]",
			[]string{`2:18: groups[1]: unknown group "staff"`}},
		{"relative workdir", "command = \"x\"\nworkdir = \"srv\"",
			[]string{`2:11: workdir: "srv" is not an absolute path`}},
		{"bad umask", "command = \"x\"\numask = \"089\"",
			[]string{`2:9: umask: invalid umask "089" (want octal such as "022")`}},
		{"bad env name", "command = \"x\"\nenv = { \"A=B\" = \"x\" }",
			[]string{`2:9: env: invalid variable name "A=B"`}},
		{"env value type", "command = \"x\"\nenv = { A = 1 }",
			[]string{`2:13: env.A: expected a string, found integer 1`}},
		{"env_file relative", "command = \"x\"\nenv_file = [\"/a\", \"-b\"]",
			[]string{`2:19: env_file[1]: "b" is not an absolute path`}},
		{"rlimit soft above hard", "command = \"x\"\nrlimits = { nofile = [10, 5] }",
			[]string{`2:22: rlimits.nofile: soft limit is above the hard limit`}},
		{"rlimit bad value", "command = \"x\"\nrlimits = { core = \"lots\" }",
			[]string{`2:20: rlimits.core: invalid limit "lots" (want a number or "unlimited")`}},
		{"rlimit pair length", "command = \"x\"\nrlimits = { core = [1] }",
			[]string{`2:20: rlimits.core: expected [soft, hard], found 1 values`}},
		{"ready two kinds", "command = \"x\"\nready = { tcp = \"127.0.0.1:1\", file = \"/x\" }",
			[]string{`2:32: ready: only one of notify, fd, tcp, unix, file, command may be set (found tcp and file)`}},
		{"ready fd too low", "command = \"x\"\nready = { fd = 2 }",
			[]string{`2:16: ready.fd: 2 is out of range (want 3 to 1048576)`}},
		{"ready tcp without port", "command = \"x\"\nready = { tcp = \"127.0.0.1\" }",
			[]string{`2:17: ready.tcp: invalid address "127.0.0.1" (want HOST:PORT, [IPv6]:PORT)`}},
		{"ready interval zero", "command = \"x\"\nready = { file = \"/x\", interval = \"0s\" }",
			[]string{`2:35: ready.interval: must be more than 0`}},
		{"notify type with tcp ready", "command = \"x\"\ntype = \"notify\"\nready = { tcp = \"127.0.0.1:1\" }",
			[]string{`3:11: ready.tcp: type = "notify" is ready when it sends READY=1; remove ready.tcp or change type`}},
		{"oneshot with ready kind", "command = \"x\"\ntype = \"oneshot\"\nready = { file = \"/x\" }",
			[]string{`3:11: ready.file: a oneshot service is ready when it exits 0; only ready.timeout applies`}},
		{"oneshot restart always", "command = \"x\"\ntype = \"oneshot\"\nrestart = \"always\"",
			[]string{`3:11: restart: "always" would run a oneshot service in a loop; use "on-failure" or "never"`}},
		{"forking without pidfile", "command = \"x\"\ntype = \"forking\"",
			[]string{`2:8: type: "forking" needs a pidfile`}},
		{"pidfile without forking", "command = \"x\"\npidfile = \"/run/x.pid\"",
			[]string{`2:1: pidfile: only used with type = "forking"`}},
		{"pidfile relative", "command = \"x\"\ntype = \"forking\"\npidfile = \"x.pid\"",
			[]string{`3:11: pidfile: "x.pid" is not an absolute path`}},
		{"success_exit range", "command = \"x\"\nsuccess_exit = [0, 256]",
			[]string{`2:20: success_exit[1]: 256 is out of range (want 0 to 255)`}},
		{"max delay below delay", "command = \"x\"\nrestart_delay = \"5s\"\nrestart_max_delay = \"1s\"",
			[]string{`3:21: restart_max_delay: 1s is less than restart_delay (5s)`}},
		{"start_limit negative burst", "command = \"x\"\nstart_limit = { burst = -1 }",
			[]string{`2:25: start_limit.burst: -1 is out of range (want 0 to 1048576)`}},
		{"bad output", "command = \"x\"\nstdout = \"journal\"",
			[]string{`2:10: stdout: invalid output "journal" (want "console", "null" or an absolute file path)`}},
		{"bad size", "command = \"x\"\nlog_max_size = \"1 parsec\"",
			[]string{`2:16: log_max_size: invalid size "1 parsec" (use bytes or a unit: "512K", "1MiB", "10M", "1G")`}},
		{"bad listen network", "command = \"x\"\nlisten = [\"sctp:1.2.3.4:5\"]",
			[]string{`2:11: listen[0]: invalid listen address "sctp:1.2.3.4:5": unknown network "sctp" (want tcp, tcp6, udp, udp6 or unix)`}},
		{"bad listen port", "command = \"x\"\nlisten = [\"tcp:127.0.0.1:80\", \"tcp:127.0.0.1:0\"]",
			[]string{`2:31: listen[1]: invalid listen address "tcp:127.0.0.1:0": port must be 1 to 65535`}},
		{"listen v6 on tcp", "command = \"x\"\nlisten = [\"tcp:[::]:80\"]",
			[]string{`2:11: listen[0]: invalid listen address "tcp:[::]:80": tcp needs an IPv4 address; use tcp6:[ADDR]:PORT`}},
		{"listen host name", "command = \"x\"\nlisten = [\"tcp:localhost:80\"]",
			[]string{`2:11: listen[0]: invalid listen address "tcp:localhost:80": "localhost" is not an IP address`}},
		{"listen relative unix", "command = \"x\"\nlisten = [\"unix:x.sock\"]",
			[]string{`2:11: listen[0]: invalid listen address "unix:x.sock": "x.sock" is not an absolute path or @abstract name`}},
		{"listen duplicate", "command = \"x\"\nlisten = [\"tcp:127.0.0.1:80\", \"udp:127.0.0.1:80\", \"tcp:127.0.0.1:80\"]",
			[]string{`2:51: listen[2]: "tcp:127.0.0.1:80" is already listen[0]`}},
		{"listen_names length", "command = \"x\"\nlisten = [\"tcp::80\"]\nlisten_names = [\"a\", \"b\"]",
			[]string{`3:16: listen_names: has 2 names for 1 listen sockets`}},
		{"depends on itself", "command = \"x\"\nrequires = [\"web\"]",
			[]string{`2:13: requires[0]: service "web" cannot depend on itself`}},
		{"bad dependency name", "command = \"x\"\nafter = [\"../x\"]",
			[]string{`2:10: after[0]: invalid service name "../x"`}},
		{"bool type", "command = \"x\"\nenabled = \"yes\"",
			[]string{`2:11: enabled: expected true or false, found string "yes"`}},
		{"table expected", "command = \"x\"\nready = \"tcp\"",
			[]string{`2:9: ready: expected a table, found string "tcp"`}},
		{"all errors collected in file order", "restrat = 1\ntype = \"x\"\nstop_signal = \"NOPE\"\n[env]\n\"\" = \"a\"\n",
			[]string{
				`1:1: unknown key "restrat", did you mean "restart"?`,
				"1:1: command: required (the program to run)",
				`2:8: type: unknown value "x" (want "simple", "notify", "oneshot", "forking")`,
				`3:15: stop_signal: unknown signal "NOPE"`,
				`5:1: env: invalid variable name ""`,
			}},
		{"multi-line strings keep positions", "description = \"\"\"\nline one\nline two\n\"\"\"\ncommand = 'x'\nrestart = '''\nnope'''",
			[]string{"6:11: restart: unknown value \"nope\" (want \"always\", \"on-failure\", \"never\")"}},
		{"quoted and dotted keys", "command = \"x\"\n\"ready\" . 'tcp' = \"nohost\"",
			[]string{`2:19: ready.tcp: invalid address "nohost" (want HOST:PORT, [IPv6]:PORT)`}},
		{"crlf", "command = \"x\"\r\nrestrat = 1\r\n",
			[]string{`2:1: unknown key "restrat", did you mean "restart"?`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := LoadService(webFile, []byte(tt.src), testLookup)
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			var want []string
			for _, w := range tt.want {
				want = append(want, webFile+":"+w)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("errors:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
			}
		})
	}
}

func TestLoadServiceInvalidName(t *testing.T) {
	_, errs := LoadService("/x/-bad name.toml", []byte(`command = "x"`), testLookup)
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), `/x/-bad name.toml:1:1: invalid service name "-bad name"`) {
		t.Errorf("got %v", errs)
	}
}

func TestSpecEqual(t *testing.T) {
	src := "command = \"/bin/x -a\"\nenv = { A = \"1\" }\nafter = [\"db\"]"
	a, b := loadOK(t, src), loadOK(t, src)
	if !a.Equal(b) {
		t.Error("identical files: not Equal")
	}
	c := loadOK(t, src+"\nstop_timeout = \"1s\"")
	if a.Equal(c) {
		t.Error("different stop_timeout: Equal")
	}
	d := loadOK(t, "command = [\"/bin/x\", \"-a\"]\nafter = [\"db\"]\n[env]\nA = \"1\"")
	if !a.Equal(d) {
		t.Error("same meaning, other spelling: not Equal")
	}
	if a.Equal(nil) || !(*Spec)(nil).Equal(nil) {
		t.Error("nil handling")
	}
	argv := a.Argv()
	argv[0] = "changed"
	if a.Command[0] != "/bin/x" {
		t.Error("Argv returned the spec's own slice")
	}
}

func TestLoadGlobal(t *testing.T) {
	g, errs := LoadGlobal("vinit.toml", nil)
	if len(errs) != 0 || !reflect.DeepEqual(g, DefaultGlobal()) {
		t.Fatalf("empty file: %+v %v", g, errs)
	}
	g, errs = LoadGlobal("vinit.toml", []byte(`shutdown_timeout = "1m"
hook_timeout = "5s"
prestart_failure = "continue"
control_socket = "/run/c.sock"
reboot_socket = ""
main = "app"
log_max_size = "2MiB"
log_keep = 7
console_buffer = 10
`))
	want := Global{time.Minute, 5 * time.Second, "continue", "/run/c.sock", "", "app", 2 << 20, 7, 10}
	if len(errs) != 0 || !reflect.DeepEqual(g, want) {
		t.Fatalf("got %+v %v, want %+v", g, errs, want)
	}
	g, errs = LoadGlobal("vinit.toml", []byte(`shutdown_timout = "1m"
hook_timeout = "5 s"
prestart_failure = "ignore"
control_socket = "run/c.sock"
console_buffer = 0
`))
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	wantErrs := []string{
		`vinit.toml:1:1: unknown key "shutdown_timout", did you mean "shutdown_timeout"?`,
		`vinit.toml:2:16: hook_timeout: invalid duration "5 s" (use Go syntax such as "100ms", "10s" or "1m30s")`,
		`vinit.toml:3:20: prestart_failure: unknown value "ignore" (want "halt", "continue")`,
		`vinit.toml:4:18: control_socket: "run/c.sock" is not an absolute socket path`,
		`vinit.toml:5:18: console_buffer: 0 is out of range (want 1 to 16777216)`,
	}
	if !reflect.DeepEqual(got, wantErrs) {
		t.Errorf("errors:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(wantErrs, "\n     "))
	}
	if !reflect.DeepEqual(g, DefaultGlobal()) {
		t.Errorf("bad values must keep defaults: %+v", g)
	}
}

// writeDir makes a config directory from file name → content.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func errStrings(dir string, errs []error) []string {
	var out []string
	for _, e := range errs {
		out = append(out, strings.TrimPrefix(e.Error(), dir+"/"))
	}
	return out
}

func mapKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sortStrings(out)
	return out
}
