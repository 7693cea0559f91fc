package guest

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary text as a guest's NAME.toml (the admin's file,
// also what `vserver check` reads). Parse must not panic; a refusal is a
// list of errors that each carry the file and a line:col inside the text;
// an accepted config satisfies what the launcher relies on.
func FuzzParse(f *testing.F) {
	examples, _ := filepath.Glob(filepath.Join("..", "..", "etc", "vservers", "*.toml"))
	for _, p := range examples {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("g.toml", "g", data)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %T %v; want Errors", err, err)
			}
			lines := strings.Count(string(data), "\n") + 1
			for _, e := range errs {
				var pe *PosError
				if !errors.As(e, &pe) || pe.File != "g.toml" || pe.Line < 1 || pe.Line > lines || pe.Col < 1 {
					t.Fatalf("error without a place in the file: %#v (%d lines)", e, lines)
				}
			}
			return
		}
		if c.Name != "g" || c.File != "g.toml" || !filepath.IsAbs(c.Root) || filepath.Clean(c.Root) != c.Root {
			t.Fatalf("name %q file %q root %q", c.Name, c.File, c.Root)
		}
		switch c.Net.Mode {
		case NetIPv4Root, NetNetns, NetHost, NetNone:
		default:
			t.Fatalf("network mode %q", c.Net.Mode)
		}
		for _, ip := range c.Net.IPs {
			if !ip.IsValid() {
				t.Fatalf("invalid ip %v", ip)
			}
		}
		for _, n := range append(append([]string{}, c.Caps.Add...), c.Caps.Drop...) {
			if !strings.HasPrefix(n, "CAP_") {
				t.Fatalf("capability %q not canonical", n)
			}
		}
		if c.Stop.Timeout <= 0 || c.Hooks.Timeout <= 0 {
			t.Fatalf("timeouts stop %v hooks %v", c.Stop.Timeout, c.Hooks.Timeout)
		}
		if c.Limits.Processes < 0 || c.Limits.Memory < 0 || c.Limits.CPUPercent < 0 || c.Limits.CPUWeight < 0 {
			t.Fatalf("negative limit %+v", c.Limits)
		}
		for phase, cmds := range c.Hooks.Commands {
			for _, argv := range cmds {
				if len(argv) == 0 {
					t.Fatalf("empty %s hook", phase)
				}
			}
		}
		targets := map[string]bool{}
		for _, m := range c.Mounts {
			if !filepath.IsAbs(m.Source) || !filepath.IsAbs(m.Target) || m.Target == "/" || targets[m.Target] {
				t.Fatalf("mount %+v", m)
			}
			targets[m.Target] = true
		}
		again, err := Parse("g.toml", "g", data)
		if err != nil || !reflect.DeepEqual(c, again) {
			t.Fatalf("a second parse differs: %v", err)
		}
	})
}
