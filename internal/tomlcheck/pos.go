package tomlcheck

import (
	"sort"
	"strconv"
	"strings"
)

// The TOML library reports positions for syntax errors but keeps the
// positions of keys and values to itself, and only per whole key. Errors about
// a key, an element of an array or a key of an inline table need their own
// line and column, so Index re-reads the (already validated) text with a
// small scanner and records where every key and value starts.
//
// Paths are the key segments; an array element adds a segment "#N" (N from
// 0), an array of tables likewise. Columns count bytes from 1, as Go's own
// tools do.

// Pos is a 1-based line and column; the zero Pos means "unknown".
type Pos struct{ Line, Col int }

type posEntry struct {
	key Pos // where the (last segment of the) key starts
	val Pos // where the value starts
}

// Index holds where the keys and values of one TOML text start.
type Index struct {
	src        string
	lineStarts []int
	entries    map[string]posEntry
}

func pathKey(path []string) string { return strings.Join(path, "\x1f") }

// Elem is the path segment for element i of an array.
func Elem(i int) string { return "#" + strconv.Itoa(i) }

// Sub is path extended by the segments s, in a new slice.
func Sub(path []string, s ...string) []string {
	return append(append([]string(nil), path...), s...)
}

// Name is the dotted name of a path for messages: "ready.tcp", "listen[1]".
func Name(path []string) string {
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

// NewIndex scans src, which must be valid TOML (as the TOML library has
// accepted it); on invalid text it records what it can and stops.
func NewIndex(src string) *Index {
	ix := &Index{src: src, entries: map[string]posEntry{}, lineStarts: []int{0}}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			ix.lineStarts = append(ix.lineStarts, i+1)
		}
	}
	s := &posScanner{ix: ix, src: src, aot: map[string]int{}}
	s.scan()
	return ix
}

func (ix *Index) at(off int) Pos {
	if off < 0 {
		off = 0
	}
	if off > len(ix.src) {
		off = len(ix.src)
	}
	line := sort.Search(len(ix.lineStarts), func(i int) bool { return ix.lineStarts[i] > off }) - 1
	if line < 0 {
		line = 0
	}
	return Pos{Line: line + 1, Col: off - ix.lineStarts[line] + 1}
}

// KeyPos is where the key at path is written; if that path is unknown (an
// implicit table), the nearest known ancestor; else 1:1.
func (ix *Index) KeyPos(path []string) Pos {
	for n := len(path); n > 0; n-- {
		if e, ok := ix.entries[pathKey(path[:n])]; ok && e.key.Line > 0 {
			return e.key
		}
	}
	return Pos{1, 1}
}

// ValPos is where the value at path starts, falling back like KeyPos.
func (ix *Index) ValPos(path []string) Pos {
	if e, ok := ix.entries[pathKey(path)]; ok && e.val.Line > 0 {
		return e.val
	}
	return ix.KeyPos(path)
}

type posScanner struct {
	ix  *Index
	src string
	i   int
	aot map[string]int // array-of-tables path → index of its last element
}

// maxPathDepth bounds the paths recorded: no configuration key is nested
// deeper, and copying ever longer paths would make absurd nesting quadratic.
const maxPathDepth = 16

func (s *posScanner) peek(k int) byte {
	if s.i+k < len(s.src) {
		return s.src[s.i+k]
	}
	return 0
}

func (s *posScanner) eof() bool { return s.i >= len(s.src) }

// skipSpace skips blanks and, if nl, newlines and comments too.
func (s *posScanner) skipSpace(nl bool) {
	for !s.eof() {
		switch c := s.src[s.i]; {
		case c == ' ' || c == '\t' || c == '\r':
			s.i++
		case nl && c == '\n':
			s.i++
		case nl && c == '#':
			for !s.eof() && s.src[s.i] != '\n' {
				s.i++
			}
		default:
			return
		}
	}
}

func (s *posScanner) record(path []string, key, val int) {
	if len(path) > maxPathDepth {
		return
	}
	e := posEntry{}
	if key >= 0 {
		e.key = s.ix.at(key)
	}
	if val >= 0 {
		e.val = s.ix.at(val)
	}
	k := pathKey(path)
	if old, ok := s.ix.entries[k]; ok && key < 0 {
		e.key = old.key
	}
	s.ix.entries[k] = e
}

func (s *posScanner) scan() {
	var table []string
	for guard := 0; guard <= len(s.src)+1; guard++ {
		s.skipSpace(true)
		if s.eof() {
			return
		}
		start := s.i
		if s.src[s.i] == '[' {
			if !s.header(start, &table) {
				return
			}
			s.skipLine()
			continue
		}
		if !s.keyValue(table) {
			return
		}
		s.skipLine()
	}
}

// header scans a [table] or [[array of tables]] header starting at start and
// sets *table to the path later keys belong to.
func (s *posScanner) header(start int, table *[]string) bool {
	double := s.peek(1) == '['
	s.i++
	if double {
		s.i++
	}
	s.skipSpace(false)
	keys, offs, ok := s.key()
	if !ok {
		return false
	}
	keyOff := offs[len(offs)-1]
	if !double {
		*table = s.resolveTable(keys)
		s.record(*table, keyOff, start)
		return true
	}
	// The header names the array itself, not its last element: resolving
	// the whole path would turn a second [[x]] into x.#0.#0 instead of x.#1.
	arr := append(s.resolveTable(keys[:len(keys)-1]), keys[len(keys)-1])
	k := pathKey(arr)
	n, seen := s.aot[k]
	if seen {
		n++
	}
	s.aot[k] = n
	s.record(arr, keyOff, start)
	*table = append(arr, Elem(n))
	s.record(*table, start, start)
	return true
}

// resolveTable maps a header's key path onto the last element of any array
// of tables on the way, as TOML does.
func (s *posScanner) resolveTable(keys []string) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k)
		if n, ok := s.aot[pathKey(out)]; ok {
			out = append(out, Elem(n))
		}
	}
	return out
}

func (s *posScanner) skipLine() {
	for !s.eof() && s.src[s.i] != '\n' {
		s.i++
	}
}

// keyValue scans "a.b = value" and records it under prefix.
func (s *posScanner) keyValue(prefix []string) bool {
	keys, offs, ok := s.key()
	if !ok {
		return false
	}
	s.skipSpace(false)
	if s.peek(0) != '=' {
		return false
	}
	s.i++
	s.skipSpace(false)
	path := append(append([]string{}, prefix...), keys...)
	if len(prefix) > maxPathDepth {
		path = prefix
	}
	for n := 1; n < len(keys) && len(prefix)+n <= maxPathDepth; n++ { // dotted key: each part is a table
		p := append(append([]string{}, prefix...), keys[:n]...)
		if _, seen := s.ix.entries[pathKey(p)]; !seen {
			s.record(p, offs[n-1], offs[n-1])
		}
	}
	s.record(path, offs[len(offs)-1], s.i)
	return s.value(path)
}

// key scans a possibly dotted, possibly quoted key and returns its segments
// and where each starts.
func (s *posScanner) key() ([]string, []int, bool) {
	var keys []string
	var offs []int
	for {
		s.skipSpace(false)
		if s.eof() {
			return nil, nil, false
		}
		offs = append(offs, s.i)
		switch c := s.src[s.i]; c {
		case '"', '\'':
			str, ok := s.str()
			if !ok {
				return nil, nil, false
			}
			keys = append(keys, str)
		default:
			st := s.i
			for !s.eof() && isBareKey(s.src[s.i]) {
				s.i++
			}
			if st == s.i {
				return nil, nil, false
			}
			keys = append(keys, s.src[st:s.i])
		}
		s.skipSpace(false)
		if s.peek(0) != '.' {
			return keys, offs, true
		}
		s.i++
	}
}

func isBareKey(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// value scans one value at path (its start is already recorded).
func (s *posScanner) value(path []string) bool {
	switch s.peek(0) {
	case '"', '\'':
		_, ok := s.str()
		return ok
	case '[':
		s.i++
		for n := 0; ; n++ {
			s.skipSpace(true)
			if s.eof() {
				return false
			}
			if s.src[s.i] == ']' {
				s.i++
				return true
			}
			p := path
			if len(path) <= maxPathDepth {
				p = append(append([]string{}, path...), Elem(n))
			}
			s.record(p, s.i, s.i)
			if !s.value(p) {
				return false
			}
			s.skipSpace(true)
			if s.peek(0) == ',' {
				s.i++
			}
		}
	case '{':
		s.i++
		for {
			s.skipSpace(true)
			if s.eof() {
				return false
			}
			if s.src[s.i] == '}' {
				s.i++
				return true
			}
			if !s.keyValue(path) {
				return false
			}
			s.skipSpace(true)
			if s.peek(0) == ',' {
				s.i++
			}
		}
	default: // number, boolean, date: runs to a delimiter
		st := s.i
		for !s.eof() && !strings.ContainsRune(",]}#\n", rune(s.src[s.i])) {
			s.i++
		}
		return s.i > st
	}
}

// str scans a basic, literal or multi-line string and returns its raw body
// with escapes undone only as far as key lookup needs.
func (s *posScanner) str() (string, bool) {
	q := s.src[s.i]
	if strings.HasPrefix(s.src[s.i:], strings.Repeat(string(q), 3)) {
		s.i += 3
		end := strings.Index(s.src[s.i:], strings.Repeat(string(q), 3))
		for q == '"' && end > 0 && escaped(s.src[s.i:s.i+end]) {
			next := strings.Index(s.src[s.i+end+1:], `"""`)
			if next < 0 {
				return "", false
			}
			end += 1 + next
		}
		if end < 0 {
			return "", false
		}
		body := s.src[s.i : s.i+end]
		s.i += end + 3
		for s.peek(0) == q { // up to two quotes may end the body
			s.i++
		}
		return body, true
	}
	s.i++
	st := s.i
	for !s.eof() {
		c := s.src[s.i]
		switch {
		case c == '\\' && q == '"':
			s.i += 2
			continue
		case c == q:
			body := s.src[st:s.i]
			s.i++
			if q == '"' && strings.Contains(body, `\`) {
				if u, err := strconv.Unquote(`"` + body + `"`); err == nil {
					body = u
				}
			}
			return body, true
		case c == '\n':
			return "", false
		}
		s.i++
	}
	return "", false
}

// escaped reports whether the text ends in an odd number of backslashes.
func escaped(t string) bool {
	n := 0
	for i := len(t) - 1; i >= 0 && t[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}
