// Package services turns vinit's service files (/etc/vinit/services/*.toml)
// and its global settings (/etc/vinit/vinit.toml) into validated specs the
// supervisor can run directly, and orders services by their dependencies.
//
// Loading is pure: it reads files and the user and group databases through
// an injectable Lookup, and never starts anything. Every problem is reported
// as "file:line:col: message"; a bad file never stops the others.
package services

import (
	"os"
	"reflect"
	"syscall"
	"time"

	"github.com/vserver-go/vserver/internal/tomlcheck"
)

// Type is how a service's start completes.
type Type string

const (
	TypeSimple  Type = "simple"  // started when exec'd (or when ready says so)
	TypeNotify  Type = "notify"  // started when it sends sd_notify READY=1
	TypeOneshot Type = "oneshot" // started when it has exited successfully
	TypeForking Type = "forking" // started when the parent exits and the pidfile names the daemon
)

// RestartPolicy says when a service that ended is started again.
type RestartPolicy string

const (
	RestartAlways    RestartPolicy = "always"     // whenever it ends, unless stopped on purpose
	RestartOnFailure RestartPolicy = "on-failure" // when it ends with a status not in SuccessExit, or by a signal
	RestartNever     RestartPolicy = "never"      // never
)

// NotifyAccess says which processes may send sd_notify messages.
type NotifyAccess string

const (
	NotifyMain NotifyAccess = "main" // only the main process
	NotifyAll  NotifyAccess = "all"  // any process of the service
)

// ReadyKind is how vinit learns that a service is ready.
type ReadyKind string

const (
	ReadyStarted ReadyKind = ""        // no check: ready as the Type says
	ReadyNotify  ReadyKind = "notify"  // sd_notify READY=1 on $NOTIFY_SOCKET
	ReadyFD      ReadyKind = "fd"      // a newline written to file descriptor Ready.FD (s6 style)
	ReadyTCP     ReadyKind = "tcp"     // a TCP connect to Ready.Addr succeeds
	ReadyUnix    ReadyKind = "unix"    // a connect to the unix socket Ready.Addr succeeds
	ReadyFile    ReadyKind = "file"    // the file Ready.Addr exists
	ReadyCommand ReadyKind = "command" // Ready.Command exits 0
)

// Ready is a service's readiness check.
type Ready struct {
	Kind     ReadyKind     // which check; ReadyStarted = none
	FD       int           // ReadyFD: the descriptor number (>= 3) the service writes a newline to
	Addr     string        // ReadyTCP "host:port", ReadyUnix socket path, ReadyFile path
	Command  []string      // ReadyCommand argv
	Timeout  time.Duration // how long to wait for readiness (and for a oneshot to finish); 0 = forever
	Interval time.Duration // poll interval of tcp, unix, file and command checks
}

// OutputKind is where a service's stdout or stderr goes.
type OutputKind string

const (
	OutputConsole OutputKind = "console" // vinit's console, line-tagged with the service name
	OutputNull    OutputKind = "null"    // /dev/null
	OutputFile    OutputKind = "file"    // a size-rotated file at Output.Path
)

// Output is one output stream's destination.
type Output struct {
	Kind OutputKind // console, null or file
	Path string     // OutputFile: absolute path
}

// EnvFile is a file of KEY=VALUE lines added to the environment.
type EnvFile struct {
	Path     string // absolute path
	Optional bool   // written with a leading "-": a missing file is not an error
}

// Rlimit is one resource limit.
type Rlimit struct {
	Name     string // as in the file: "nofile", "core", ...
	Resource int    // unix.RLIMIT_* number
	Cur, Max uint64 // soft and hard limit; RlimInfinity = unlimited
}

// RlimInfinity is the value of an "unlimited" limit (RLIM_INFINITY).
const RlimInfinity = ^uint64(0)

// Listen is one socket vinit opens and passes with LISTEN_FDS.
type Listen struct {
	Network string // "tcp", "tcp6", "udp", "udp6" or "unix", as net.Listen takes it
	Address string // "host:port" for IP sockets (host may be empty), a path or "@abstract" for unix
	Name    string // its LISTEN_FDNAMES entry
}

// StartLimit bounds restarts: more than Burst starts within Interval and the
// service is marked failed.
type StartLimit struct {
	Burst    int           // starts allowed per Interval; 0 = no limit
	Interval time.Duration // the window
}

// Spec is one validated service, ready for the supervisor to use.
type Spec struct {
	Name         string            // the service name: the file's stem
	File         string            // the file it was loaded from
	Description  string            // free text for status output
	Command      []string          // argv; Command[0] is a path or a name looked up in PATH
	Type         Type              // how the start completes
	PIDFile      string            // forking only: absolute path of the daemon's pidfile
	After        []string          // start after these are ready, stop before them (includes Requires)
	Requires     []string          // hard dependencies: not started without them, stopped with them
	User         string            // user as written; "" = run as vinit's user
	UID          int               // resolved user id; -1 = vinit's
	GID          int               // resolved primary group id; -1 = vinit's
	Groups       []int             // supplementary group ids; nil = none (or the user's, see docs)
	Home         string            // the user's home directory ("" without user)
	WorkDir      string            // working directory; default "/"
	Umask        os.FileMode       // umask, if UmaskSet
	UmaskSet     bool              // false = inherit vinit's umask
	Env          map[string]string // environment additions, applied after EnvFiles
	EnvFiles     []EnvFile         // KEY=VALUE files read at each start
	Rlimits      []Rlimit          // resource limits, in file order
	NoNewPrivs   bool              // set PR_SET_NO_NEW_PRIVS before exec
	Ready        Ready             // readiness check
	NotifyAccess NotifyAccess      // who may send sd_notify messages
	Restart      RestartPolicy     // when to restart
	SuccessExit  []int             // exit statuses that count as success; default [0]
	RestartDelay time.Duration     // first restart delay; doubles up to RestartMaxDelay, with jitter
	RestartMax   time.Duration     // cap of the restart delay
	RestartReset time.Duration     // up this long, the backoff starts from RestartDelay again
	StartLimit   StartLimit        // restart rate limit
	StopSignal   syscall.Signal    // sent to stop the service
	StopTimeout  time.Duration     // then SIGKILL to its process group
	ReloadSignal syscall.Signal    // sent by "vinit reload NAME"
	Stdout       Output            // where stdout goes
	Stderr       Output            // where stderr goes; default: as Stdout
	LogMaxSize   int64             // rotate a log file at this size in bytes; 0 = never
	LogKeep      int               // rotated log files kept
	Listen       []Listen          // sockets passed with LISTEN_FDS
	Watchdog     time.Duration     // WATCHDOG=1 expected at least this often; 0 = off
	Main         bool              // container mode: vinit halts when this service ends, with its status
	Enabled      bool              // started at boot; false = only by "vinit start NAME"

	logMaxSizeSet, logKeepSet bool // explicit in the file, so vinit.toml's default does not apply
}

// Argv returns a copy of the command line.
func (s *Spec) Argv() []string { return append([]string(nil), s.Command...) }

// Equal reports whether two specs describe the same service, so a reload can
// leave an unchanged service running.
func (s *Spec) Equal(o *Spec) bool {
	if s == nil || o == nil {
		return s == o
	}
	return reflect.DeepEqual(s, o)
}

// Global holds the settings of vinit.toml.
type Global struct {
	ShutdownTimeout time.Duration // budget for the whole shutdown
	HookTimeout     time.Duration // per hook script
	PrestartFailure string        // "halt" (a failing pre-start hook fails the boot) or "continue"
	ControlSocket   string        // path of the control socket
	RebootSocket    string        // path of the 2003 vreboot socket; "" = disabled
	Main            string        // the main service, from here or a service's main = true; "" = none
	LogMaxSize      int64         // default log_max_size of services
	LogKeep         int           // default log_keep of services
	ConsoleBuffer   int           // console lines buffered before lines are dropped
}

// DefaultGlobal returns the settings used when vinit.toml is absent.
func DefaultGlobal() Global {
	return Global{
		ShutdownTimeout: 10 * time.Second,
		HookTimeout:     30 * time.Second,
		PrestartFailure: "halt",
		ControlSocket:   "/run/vinit/control.sock",
		RebootSocket:    "/dev/reboot",
		LogMaxSize:      1 << 20,
		LogKeep:         3,
		ConsoleBuffer:   1024,
	}
}

// Config is the result of loading a configuration directory.
type Config struct {
	Global   Global           // vinit.toml's settings (defaults where absent or bad)
	Services map[string]*Spec // the services that can run, by name
	Errors   []error          // every problem found, in file order (*PosError)
	Failed   map[string]error // service name → why it cannot run
}

// PosError is a configuration error at a place in a file.
type PosError = tomlcheck.PosError
