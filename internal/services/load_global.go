package services

import "github.com/vserver-go/vserver/internal/tomlcheck"

var globalKeys = []string{
	"shutdown_timeout", "hook_timeout", "prestart_failure", "control_socket",
	"reboot_socket", "main", "log_max_size", "log_keep", "console_buffer",
}

// LoadGlobal parses and validates vinit.toml. Bad or absent values keep
// their defaults; every problem is returned.
func LoadGlobal(path string, data []byte) (Global, []error) {
	g := DefaultGlobal()
	d, m := tomlcheck.NewDecoder(path, data)
	if m == nil {
		return g, d.Errs
	}
	for _, k := range d.SortedKeys(nil, m) {
		p, v := []string{k}, m[k]
		switch k {
		case "shutdown_timeout":
			if dur, ok := d.Duration(p, v); ok {
				g.ShutdownTimeout = dur
			}
		case "hook_timeout":
			if dur, ok := d.Duration(p, v); ok {
				g.HookTimeout = dur
			}
		case "prestart_failure":
			if s, ok := d.OneOf(p, v, "halt", "continue"); ok {
				g.PrestartFailure = s
			}
		case "control_socket":
			if s, ok := d.Str(p, v); ok {
				if err := checkUnixPath(s); err != nil || s[0] != '/' {
					d.ValErr(p, "%q is not an absolute socket path", s)
				} else {
					g.ControlSocket = s
				}
			}
		case "reboot_socket":
			if s, ok := d.Str(p, v); ok {
				if err := checkUnixPath(s); s != "" && (err != nil || s[0] != '/') {
					d.ValErr(p, "%q is not an absolute socket path (\"\" disables it)", s)
				} else {
					g.RebootSocket = s
				}
			}
		case "main":
			if s, ok := d.Str(p, v); ok {
				if s != "" && !serviceName.MatchString(s) {
					d.ValErr(p, "invalid service name %q", s)
				} else {
					g.Main = s
				}
			}
		case "log_max_size":
			if n, ok := d.Size(p, v); ok {
				g.LogMaxSize = n
			}
		case "log_keep":
			if n, ok := d.Integer(p, v, 0, 1000); ok {
				g.LogKeep = int(n)
			}
		case "console_buffer":
			if n, ok := d.Integer(p, v, 1, 1<<24); ok {
				g.ConsoleBuffer = int(n)
			}
		default:
			d.UnknownKey(p, globalKeys)
		}
	}
	return g, d.Sorted()
}
