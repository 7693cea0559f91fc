// Package tomlcheck decodes TOML configuration files strictly: every value
// is checked for its type and range, unknown keys are errors with a "did you
// mean", and every error carries the file, line and column of the key or
// value it is about. vserver's guest files and vinit's service files use it,
// so both report configuration errors alike.
package tomlcheck

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// PosError is a configuration error at a place in a file.
type PosError struct {
	File      string
	Line, Col int // 1-based; 0 when the error has no position (the file is unreadable)
	Msg       string
}

func (e *PosError) Error() string {
	if e.Line <= 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// Parse parses data, the text of file, and indexes its positions. A syntax
// error comes back as a *PosError (and a nil map and index).
func Parse(file string, data []byte) (map[string]any, *Index, error) {
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
		return nil, nil, e
	}
	return m, NewIndex(src), nil
}

// Decoder checks the values of one parsed file and collects every error with
// its position. Its methods take the path of the value they check and report
// whether it was valid; an invalid value has been reported.
type Decoder struct {
	File  string
	Index *Index  // where the keys are; nil is an empty file
	Errs  []error // every *PosError so far, in the order found
}

// NewDecoder parses data, the text of file. On a syntax error the map is
// nil and the error is the decoder's only one.
func NewDecoder(file string, data []byte) (*Decoder, map[string]any) {
	m, ix, err := Parse(file, data)
	d := &Decoder{File: file, Index: ix}
	if err != nil {
		d.Errs = []error{err}
		return d, nil
	}
	return d, m
}

// Sorted returns the errors in file order.
func (d *Decoder) Sorted() []error {
	SortErrors(d.Errs)
	return d.Errs
}

// SortErrors sorts errors of one file, all *PosError, by line and column,
// keeping the order of errors at the same place.
func SortErrors(errs []error) {
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i].(*PosError), errs[j].(*PosError)
		return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
	})
}

func (d *Decoder) index() *Index {
	if d.Index == nil {
		d.Index = NewIndex("")
	}
	return d.Index
}

// Errorf reports an error at p (1:1 when p is unknown).
func (d *Decoder) Errorf(p Pos, format string, args ...any) {
	if p.Line < 1 {
		p = Pos{1, 1}
	}
	d.Errs = append(d.Errs, &PosError{File: d.File, Line: p.Line, Col: p.Col, Msg: fmt.Sprintf(format, args...)})
}

// KeyErr reports a problem with the key itself (unknown, not allowed here).
func (d *Decoder) KeyErr(path []string, format string, args ...any) {
	d.Errorf(d.index().KeyPos(path), format, args...)
}

// ValErr reports a problem with the value at path, prefixed by its name.
func (d *Decoder) ValErr(path []string, format string, args ...any) {
	d.Errorf(d.index().ValPos(path), Name(path)+": "+format, args...)
}

// TypeName describes a decoded TOML value for "expected X, found Y".
func TypeName(v any) string {
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

// WrongType reports that the value at path is not what was wanted.
func (d *Decoder) WrongType(path []string, want string, v any) {
	d.ValErr(path, "expected %s, found %s", want, TypeName(v))
}

// SortedKeys returns the keys of the table at path in file order.
func (d *Decoder) SortedKeys(path []string, m map[string]any) []string {
	ix := d.index()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := ix.KeyPos(Sub(path, keys[i])), ix.KeyPos(Sub(path, keys[j]))
		if a != b {
			return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
		}
		return keys[i] < keys[j]
	})
	return keys
}

// UnknownKey reports the key at path, which is not one of known.
func (d *Decoder) UnknownKey(path []string, known []string) {
	k := path[len(path)-1]
	full := Name(path)
	if s := Suggest(k, known); s != "" {
		d.KeyErr(path, "unknown key %q, did you mean %q?", full, Name(Sub(path[:len(path)-1], s)))
		return
	}
	d.KeyErr(path, "unknown key %q", full)
}

// Str checks v is a string.
func (d *Decoder) Str(path []string, v any) (string, bool) {
	s, ok := v.(string)
	if !ok {
		d.WrongType(path, "a string", v)
	}
	return s, ok
}

// Boolean checks v is true or false.
func (d *Decoder) Boolean(path []string, v any) (bool, bool) {
	b, ok := v.(bool)
	if !ok {
		d.WrongType(path, "true or false", v)
	}
	return b, ok
}

// Integer checks v is an integer in [lo, hi].
func (d *Decoder) Integer(path []string, v any, lo, hi int64) (int64, bool) {
	n, ok := v.(int64)
	if !ok {
		d.WrongType(path, "an integer", v)
		return 0, false
	}
	if n < lo || n > hi {
		switch {
		case hi == math.MaxInt64:
			d.ValErr(path, "%d is out of range (want >= %d)", n, lo)
		default:
			d.ValErr(path, "%d is out of range (want %d to %d)", n, lo, hi)
		}
		return 0, false
	}
	return n, true
}

// Table checks v is a table.
func (d *Decoder) Table(path []string, v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		d.WrongType(path, "a table", v)
	}
	return m, ok
}

// Array accepts a TOML array (of anything) and returns its elements.
func (d *Decoder) Array(path []string, v any) ([]any, bool) {
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
	d.WrongType(path, "an array", v)
	return nil, false
}

// StrList checks v is an array of strings; it returns the valid ones and
// reports each invalid one.
func (d *Decoder) StrList(path []string, v any) ([]string, bool) {
	a, ok := d.Array(path, v)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(a))
	for i, e := range a {
		s, ok2 := d.Str(Sub(path, Elem(i)), e)
		if !ok2 {
			ok = false
			continue
		}
		out = append(out, s)
	}
	return out, ok
}

// OneOf checks v is one of the allowed strings.
func (d *Decoder) OneOf(path []string, v any, allowed ...string) (string, bool) {
	s, ok := d.Str(path, v)
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
	if sg := Suggest(s, allowed); sg != "" {
		hint = fmt.Sprintf(", did you mean %q?", sg)
	}
	d.ValErr(path, "unknown value %q (want %s)%s", s, strings.Join(q, ", "), hint)
	return "", false
}

// Duration checks v is a duration string (see ParseDuration).
func (d *Decoder) Duration(path []string, v any) (time.Duration, bool) {
	s, ok := v.(string)
	if !ok {
		d.WrongType(path, `a duration string such as "10s"`, v)
		return 0, false
	}
	dur, err := ParseDuration(s)
	if err != nil {
		d.ValErr(path, "%v", err)
		return 0, false
	}
	return dur, true
}

// Size checks v is a byte count: an integer or a string (see ParseSize).
func (d *Decoder) Size(path []string, v any) (int64, bool) {
	var n int64
	switch v := v.(type) {
	case int64:
		n = v
	case string:
		var err error
		if n, err = ParseSize(v); err != nil {
			d.ValErr(path, "%v", err)
			return 0, false
		}
	default:
		d.WrongType(path, `a size such as 1048576 or "1MiB"`, v)
		return 0, false
	}
	if n < 0 {
		d.ValErr(path, "negative size %d", n)
		return 0, false
	}
	return n, true
}

// AbsPath checks v is an absolute path.
func (d *Decoder) AbsPath(path []string, v any) (string, bool) {
	s, ok := d.Str(path, v)
	if !ok {
		return "", false
	}
	if !strings.HasPrefix(s, "/") {
		d.ValErr(path, "%q is not an absolute path", s)
		return "", false
	}
	if strings.ContainsRune(s, 0) {
		d.ValErr(path, "path contains a NUL byte")
		return "", false
	}
	return s, true
}
