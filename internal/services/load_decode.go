package services

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"
)

// decoder checks the values of one parsed file and collects every error with
// its position.
type decoder struct {
	file string
	ix   *posIndex
	errs []error
}

// parseTOML parses data; a syntax error comes back as one PosError.
func parseTOML(file string, data []byte) (map[string]any, *posIndex, []error) {
	src := string(data)
	// Drop a byte-order mark as the TOML library does, so columns on line 1
	// agree with its syntax errors (and with what an editor shows).
	if strings.HasPrefix(src, "\xff\xfe") || strings.HasPrefix(src, "\xfe\xff") {
		src = src[2:]
	} else {
		src = strings.TrimPrefix(src, "\xef\xbb\xbf")
	}
	m := map[string]any{}
	if _, err := toml.Decode(src, &m); err != nil {
		e := &PosError{File: file, Line: 1, Col: 1, Msg: err.Error()}
		var pe toml.ParseError
		if errors.As(err, &pe) {
			e.Msg = strings.TrimSpace(pe.Message)
			if pe.Position.Line >= 1 {
				e.Line, e.Col = pe.Position.Line, max(pe.Position.Col, 1)
			}
		}
		return nil, nil, []error{e}
	}
	return m, newPosIndex(src), nil
}

// sorted returns the errors in file order.
func (d *decoder) sorted() []error {
	sort.SliceStable(d.errs, func(i, j int) bool {
		a, b := d.errs[i].(*PosError), d.errs[j].(*PosError)
		return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
	})
	return d.errs
}

func (d *decoder) errorf(p pos, format string, args ...any) {
	if p.Line < 1 {
		p = pos{1, 1}
	}
	d.errs = append(d.errs, &PosError{File: d.file, Line: p.Line, Col: p.Col, Msg: fmt.Sprintf(format, args...)})
}

// keyErr reports a problem with the key itself (unknown, not allowed here).
func (d *decoder) keyErr(path []string, format string, args ...any) {
	d.errorf(d.ix.keyPos(path), format, args...)
}

// valErr reports a problem with the value at path, prefixed by its name.
func (d *decoder) valErr(path []string, format string, args ...any) {
	d.errorf(d.ix.valPos(path), name(path)+": "+format, args...)
}

// name is the dotted name of a path for messages: "ready.tcp", "listen[1]".
func name(path []string) string {
	var b strings.Builder
	for i, p := range path {
		switch {
		case strings.HasPrefix(p, "#"):
			b.WriteString("[" + p[1:] + "]")
		case i > 0:
			b.WriteString("." + p)
		default:
			b.WriteString(p)
		}
	}
	return b.String()
}

func sub(path []string, s ...string) []string {
	return append(append([]string(nil), path...), s...)
}

// typeName describes a decoded TOML value for "expected X, found Y".
func typeName(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("string %q", v)
	case int64:
		return fmt.Sprintf("integer %d", v)
	case float64:
		return "a float"
	case bool:
		return fmt.Sprintf("boolean %t", v)
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	default:
		return "a date/time"
	}
}

func (d *decoder) wrongType(path []string, want string, v any) {
	d.valErr(path, "expected %s, found %s", want, typeName(v))
}

// sortedKeys returns the keys of a table in file order.
func (d *decoder) sortedKeys(path []string, m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := d.ix.keyPos(sub(path, keys[i])), d.ix.keyPos(sub(path, keys[j]))
		if a != b {
			return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
		}
		return keys[i] < keys[j]
	})
	return keys
}

// unknownKey reports a key that is not one of known.
func (d *decoder) unknownKey(path []string, known []string) {
	k := path[len(path)-1]
	full := name(path)
	if s := suggest(k, known); s != "" {
		d.keyErr(path, "unknown key %q, did you mean %q?", full, name(sub(path[:len(path)-1], s)))
		return
	}
	d.keyErr(path, "unknown key %q", full)
}

func (d *decoder) str(path []string, v any) (string, bool) {
	s, ok := v.(string)
	if !ok {
		d.wrongType(path, "a string", v)
	}
	return s, ok
}

func (d *decoder) boolean(path []string, v any) (bool, bool) {
	b, ok := v.(bool)
	if !ok {
		d.wrongType(path, "true or false", v)
	}
	return b, ok
}

// integer checks v is an integer in [lo, hi].
func (d *decoder) integer(path []string, v any, lo, hi int64) (int64, bool) {
	n, ok := v.(int64)
	if !ok {
		d.wrongType(path, "an integer", v)
		return 0, false
	}
	if n < lo || n > hi {
		switch {
		case hi == math.MaxInt64:
			d.valErr(path, "%d is out of range (want >= %d)", n, lo)
		default:
			d.valErr(path, "%d is out of range (want %d to %d)", n, lo, hi)
		}
		return 0, false
	}
	return n, true
}

func (d *decoder) table(path []string, v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		d.wrongType(path, "a table", v)
	}
	return m, ok
}

// array accepts a TOML array (of anything) and returns its elements.
func (d *decoder) array(path []string, v any) ([]any, bool) {
	switch a := v.(type) {
	case []any:
		return a, true
	case []map[string]any:
		out := make([]any, len(a))
		for i := range a {
			out[i] = a[i]
		}
		return out, true
	}
	d.wrongType(path, "an array", v)
	return nil, false
}

func (d *decoder) strList(path []string, v any) ([]string, bool) {
	a, ok := d.array(path, v)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(a))
	for i, e := range a {
		s, ok2 := d.str(sub(path, elem(i)), e)
		if !ok2 {
			ok = false
			continue
		}
		out = append(out, s)
	}
	return out, ok
}

// oneOf checks v is one of the allowed strings.
func (d *decoder) oneOf(path []string, v any, allowed ...string) (string, bool) {
	s, ok := d.str(path, v)
	if !ok {
		return "", false
	}
	for _, a := range allowed {
		if s == a {
			return s, true
		}
	}
	q := make([]string, len(allowed))
	for i, a := range allowed {
		q[i] = fmt.Sprintf("%q", a)
	}
	hint := ""
	if sg := suggest(s, allowed); sg != "" {
		hint = fmt.Sprintf(", did you mean %q?", sg)
	}
	d.valErr(path, "unknown value %q (want %s)%s", s, strings.Join(q, ", "), hint)
	return "", false
}

func (d *decoder) duration(path []string, v any) (time.Duration, bool) {
	s, ok := v.(string)
	if !ok {
		d.wrongType(path, `a duration string such as "10s"`, v)
		return 0, false
	}
	dur, err := parseDuration(s)
	if err != nil {
		d.valErr(path, "%v", err)
		return 0, false
	}
	return dur, true
}

func (d *decoder) signal(path []string, v any) (syscall.Signal, bool) {
	var sig syscall.Signal
	var err error
	switch v := v.(type) {
	case string:
		sig, err = parseSignal(v)
	case int64:
		sig, err = parseSignal(fmt.Sprint(v))
	default:
		d.wrongType(path, `a signal name such as "SIGTERM"`, v)
		return 0, false
	}
	if err != nil {
		d.valErr(path, "%v", err)
		return 0, false
	}
	return sig, true
}

func (d *decoder) size(path []string, v any) (int64, bool) {
	var n int64
	switch v := v.(type) {
	case int64:
		n = v
	case string:
		var err error
		if n, err = parseSize(v); err != nil {
			d.valErr(path, "%v", err)
			return 0, false
		}
	default:
		d.wrongType(path, `a size such as 1048576 or "1MiB"`, v)
		return 0, false
	}
	if n < 0 {
		d.valErr(path, "negative size %d", n)
		return 0, false
	}
	return n, true
}

// absPath checks v is an absolute path.
func (d *decoder) absPath(path []string, v any) (string, bool) {
	s, ok := d.str(path, v)
	if !ok {
		return "", false
	}
	if !strings.HasPrefix(s, "/") {
		d.valErr(path, "%q is not an absolute path", s)
		return "", false
	}
	if strings.ContainsRune(s, 0) {
		d.valErr(path, "path contains a NUL byte")
		return "", false
	}
	return s, true
}
