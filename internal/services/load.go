package services

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vserver-go/vserver/internal/tomlcheck"
)

// loaded is one service file during LoadDir.
type loaded struct {
	spec *Spec
	m    map[string]any // the parsed file, for positions of list elements
	ix   *tomlcheck.Index
	bad  bool // the file itself has errors
}

// LoadDir loads dir/vinit.toml and dir/services/*.toml. A missing directory
// or file is an empty configuration, not an error. Files whose names do not
// end in ".toml", hidden files and directories are ignored.
//
// Services holds the services that can run: their files are valid, every
// Requires is itself in Services, and After names only loaded files
// (possibly failed ones, which only order). Everything else is in Failed,
// with the reason, and every problem is in Errors. A nil lookup means
// SystemLookup("/").
func LoadDir(dir string, lookup Lookup) *Config {
	if lookup == nil {
		lookup = SystemLookup("/")
	}
	cfg := &Config{Global: DefaultGlobal(), Services: map[string]*Spec{}, Failed: map[string]error{}}
	order := map[string]int{} // file → rank, for sorting errors
	var errs []error
	add := func(es ...error) { errs = append(errs, es...) }

	gpath := filepath.Join(dir, "vinit.toml")
	order[gpath] = 0
	var gix *tomlcheck.Index
	if data, err := os.ReadFile(gpath); err == nil {
		var gerrs []error
		cfg.Global, gerrs = LoadGlobal(gpath, data)
		add(gerrs...)
		if _, ix, err := tomlcheck.Parse(gpath, data); err == nil {
			gix = ix
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		add(&PosError{File: gpath, Msg: fmt.Sprintf("read: %v", unwrapPath(err))})
	}

	files := map[string]*loaded{}
	sdir := filepath.Join(dir, "services")
	entries, err := os.ReadDir(sdir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		add(&PosError{File: sdir, Msg: fmt.Sprintf("read: %v", unwrapPath(err))})
	}
	for _, e := range entries {
		fname := e.Name()
		if !strings.HasSuffix(fname, ".toml") || strings.HasPrefix(fname, ".") {
			continue
		}
		path := filepath.Join(sdir, fname)
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			continue
		}
		order[path] = len(order)
		name, _ := ServiceName(path)
		data, err := os.ReadFile(path)
		if err != nil {
			e := &PosError{File: path, Msg: fmt.Sprintf("read: %v", unwrapPath(err))}
			add(e)
			cfg.Failed[name] = e
			continue
		}
		spec, serrs := LoadService(path, data, lookup)
		l := &loaded{spec: spec, bad: len(serrs) > 0}
		l.m, l.ix, _ = tomlcheck.Parse(path, data)
		files[name] = l
		if l.bad {
			add(serrs...)
			cfg.Failed[name] = errors.Join(serrs...)
		}
		if !spec.logMaxSizeSet {
			spec.LogMaxSize = cfg.Global.LogMaxSize
		}
		if !spec.logKeepSet {
			spec.LogKeep = cfg.Global.LogKeep
		}
	}

	g := &graphCheck{cfg: cfg, files: files, add: add}
	g.main(gpath, gix)
	g.unknownDeps()
	g.cycles()
	g.failedRequires()

	for name, l := range files {
		if _, failed := cfg.Failed[name]; !failed {
			cfg.Services[name] = l.spec
		}
	}
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i].(*PosError), errs[j].(*PosError)
		if order[a.File] != order[b.File] {
			return order[a.File] < order[b.File]
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	cfg.Errors = errs
	return cfg
}

// unwrapPath drops the path an *fs.PathError repeats.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// graphCheck does the checks that span files.
type graphCheck struct {
	cfg   *Config
	files map[string]*loaded
	add   func(...error)
}

func (g *graphCheck) names() []string {
	names := make([]string, 0, len(g.files))
	for n := range g.files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// usable reports whether name's file is valid and not yet failed.
func (g *graphCheck) usable(name string) bool {
	_, failed := g.cfg.Failed[name]
	l, ok := g.files[name]
	return ok && !failed && !l.bad
}

func (g *graphCheck) fail(name string, e *PosError) {
	g.add(e)
	if _, ok := g.cfg.Failed[name]; !ok {
		g.cfg.Failed[name] = e
	}
}

// errAt makes an error at path in name's file.
func (g *graphCheck) errAt(name string, val bool, path []string, format string, args ...any) *PosError {
	l := g.files[name]
	p := l.ix.KeyPos(path)
	if val {
		p = l.ix.ValPos(path)
	}
	return &PosError{File: l.spec.File, Line: p.Line, Col: p.Col, Msg: fmt.Sprintf(format, args...)}
}

// depPath is the path of the element naming dep in name's key list, or of
// the key itself.
func (g *graphCheck) depPath(name, key, dep string) []string {
	if list, ok := g.files[name].m[key].([]any); ok {
		for i, e := range list {
			if e == dep {
				return []string{key, tomlcheck.Elem(i)}
			}
		}
	}
	return []string{key}
}

// main settles which service is the main one: vinit.toml's main, else the
// first (by name) service file with main = true. Any other main = true is an
// error that fails its service.
func (g *graphCheck) main(gpath string, gix *tomlcheck.Index) {
	want := g.cfg.Global.Main
	if _, failed := g.cfg.Failed[want]; want != "" && g.files[want] == nil && !failed {
		p := tomlcheck.Pos{Line: 1, Col: 1}
		if gix != nil {
			p = gix.ValPos([]string{"main"})
		}
		g.add(&PosError{File: gpath, Line: p.Line, Col: p.Col, Msg: fmt.Sprintf("main: unknown service %q", want)})
		want = ""
	}
	fromGlobal := want != ""
	for _, n := range g.names() {
		l := g.files[n]
		if !l.spec.Main || l.bad || n == want {
			continue
		}
		switch {
		case fromGlobal:
			g.fail(n, g.errAt(n, false, []string{"main"}, "main: conflicts with main = %q in %s", want, gpath))
		case want != "":
			g.fail(n, g.errAt(n, false, []string{"main"}, "main: %q is already the main service", want))
		default:
			want = n
			continue
		}
		l.spec.Main = false
	}
	g.cfg.Global.Main = want
	if l, ok := g.files[want]; ok {
		l.spec.Main = true
	}
}

// unknownDeps reports dependencies on services that have no file.
// A required one fails the service; an unknown "after" only orders, so it is
// reported and dropped.
func (g *graphCheck) unknownDeps() {
	for _, n := range g.names() {
		l := g.files[n]
		if l.bad {
			continue
		}
		var after []string
		for _, a := range l.spec.After {
			if _, ok := g.files[a]; ok {
				after = append(after, a)
				continue
			}
			if _, ok := g.cfg.Failed[a]; ok { // unreadable file
				after = append(after, a)
				continue
			}
			if !contains(l.spec.Requires, a) {
				g.add(g.errAt(n, true, g.depPath(n, "after", a), "after: unknown service %q", a))
			}
		}
		l.spec.After = after
		for _, r := range l.spec.Requires {
			switch dep, ok := g.files[r]; {
			case !ok && g.cfg.Failed[r] == nil:
				g.fail(n, g.errAt(n, true, g.depPath(n, "requires", r), "requires: unknown service %q", r))
			case ok && !dep.bad && !dep.spec.Enabled:
				g.fail(n, g.errAt(n, true, g.depPath(n, "requires", r), "requires: service %q is disabled (enabled = false)", r))
			}
		}
	}
}

// cycles fails every service in a dependency cycle, reporting each cycle
// once, at the dependency of its first service that closes it.
func (g *graphCheck) cycles() {
	deps := func(n string) []string {
		var out []string
		for _, a := range g.files[n].spec.After {
			if l, ok := g.files[a]; ok && !l.bad {
				out = append(out, a)
			}
		}
		return out
	}
	var names []string
	for _, n := range g.names() {
		if !g.files[n].bad {
			names = append(names, n)
		}
	}
	for _, c := range findCycles(names, deps) {
		first, next := c[0], c[1]
		key := "after"
		if contains(g.files[first].spec.Requires, next) && !contains(listOf(g.files[first].m["after"]), next) {
			key = "requires"
		}
		e := g.errAt(first, true, g.depPath(first, key, next), "%s: dependency cycle: %s", key, strings.Join(c, " -> "))
		g.add(e)
		for _, n := range c[:len(c)-1] {
			if _, ok := g.cfg.Failed[n]; !ok {
				g.cfg.Failed[n] = e
			}
		}
	}
}

// failedRequires fails, until nothing changes, every service that requires
// one that cannot run.
func (g *graphCheck) failedRequires() {
	for changed := true; changed; {
		changed = false
		for _, n := range g.names() {
			if !g.usable(n) {
				continue
			}
			for _, r := range g.files[n].spec.Requires {
				if _, failed := g.cfg.Failed[r]; failed {
					g.fail(n, g.errAt(n, true, g.depPath(n, "requires", r), "requires: service %q cannot run", r))
					changed = true
					break
				}
			}
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

func listOf(v any) []string {
	a, _ := v.([]any)
	var out []string
	for _, e := range a {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
