package tomlcheck

import (
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

const posDoc = `# comment with "quotes" and [brackets]
a = "x # not a comment" # comment
"quoted.key" = 'lit\'
b.c . d = 1
arr = [
  1, # one
  [2, 3],
  { x = 1, y.z = "}" },
]
ml = """
a ] } "" \"""
"""
lit = '''
[not a table]'''
date = 1979-05-27 07:32:00Z
[tbl]
  k = true
[tbl.sub]
k2 = {in = [1]}
[[aot]]
n = 1
[[aot]]
n = 2
[aot.inner]
m = 3
`

func TestPosIndex(t *testing.T) {
	var m map[string]any
	if _, err := toml.Decode(posDoc, &m); err != nil {
		t.Fatalf("test document is not valid TOML: %v", err)
	}
	ix := NewIndex(posDoc)
	tests := []struct {
		path     []string
		key, val Pos
	}{
		{[]string{"a"}, Pos{2, 1}, Pos{2, 5}},
		{[]string{"quoted.key"}, Pos{3, 1}, Pos{3, 16}},
		{[]string{"b"}, Pos{4, 1}, Pos{4, 1}},
		{[]string{"b", "c"}, Pos{4, 3}, Pos{4, 3}},
		{[]string{"b", "c", "d"}, Pos{4, 7}, Pos{4, 11}},
		{[]string{"arr"}, Pos{5, 1}, Pos{5, 7}},
		{[]string{"arr", "#0"}, Pos{6, 3}, Pos{6, 3}},
		{[]string{"arr", "#1", "#1"}, Pos{7, 7}, Pos{7, 7}},
		{[]string{"arr", "#2", "x"}, Pos{8, 5}, Pos{8, 9}},
		{[]string{"arr", "#2", "y", "z"}, Pos{8, 14}, Pos{8, 18}},
		{[]string{"ml"}, Pos{10, 1}, Pos{10, 6}},
		{[]string{"lit"}, Pos{13, 1}, Pos{13, 7}},
		{[]string{"date"}, Pos{15, 1}, Pos{15, 8}},
		{[]string{"tbl"}, Pos{16, 2}, Pos{16, 1}},
		{[]string{"tbl", "k"}, Pos{17, 3}, Pos{17, 7}},
		{[]string{"tbl", "sub", "k2", "in", "#0"}, Pos{19, 13}, Pos{19, 13}},
		{[]string{"aot", "#0", "n"}, Pos{21, 1}, Pos{21, 5}},
		{[]string{"aot", "#1", "n"}, Pos{23, 1}, Pos{23, 5}},
		{[]string{"aot", "#1", "inner", "m"}, Pos{25, 1}, Pos{25, 5}},
		// unknown paths fall back to the nearest known ancestor
		{[]string{"tbl", "nope"}, Pos{16, 2}, Pos{16, 2}},
		{[]string{"nope"}, Pos{1, 1}, Pos{1, 1}},
	}
	for _, tt := range tests {
		if got := ix.KeyPos(tt.path); got != tt.key {
			t.Errorf("KeyPos(%s) = %v, want %v", Name(tt.path), got, tt.key)
		}
		if got := ix.ValPos(tt.path); got != tt.val {
			t.Errorf("ValPos(%s) = %v, want %v", Name(tt.path), got, tt.val)
		}
	}
}

// checkKeyPositions asserts that every key of a document outside arrays
// has a recorded position where its text (or its opening quote) is.
func checkKeyPositions(t *testing.T, src string) {
	src = strings.TrimPrefix(src, "\xef\xbb\xbf")
	var m map[string]any
	md, err := toml.Decode(src, &m)
	if err != nil {
		return
	}
	ix := NewIndex(src)
	lines := strings.Split(src, "\n")
	for _, k := range md.Keys() {
		inArray := false
		for n := 1; n < len(k); n++ {
			if typ := md.Type(k[:n]...); typ == "Array" || typ == "ArrayHash" {
				inArray = true
			}
		}
		if inArray || len(k) > maxPathDepth {
			continue
		}
		e, ok := ix.entries[pathKey(k)]
		if !ok {
			t.Errorf("no position for key %q in %q", k, src)
			continue
		}
		if e.key.Line < 1 || e.key.Line > len(lines) || e.key.Col < 1 || e.key.Col > len(lines[e.key.Line-1]) {
			t.Errorf("key %q: position %v outside the text", k, e.key)
			continue
		}
		at := lines[e.key.Line-1][e.key.Col-1:]
		last := k[len(k)-1]
		if !strings.HasPrefix(at, last) && at[0] != '"' && at[0] != '\'' {
			t.Errorf("key %q: position %v points at %q", k, e.key, at)
		}
	}
}

func TestPosIndexKeys(t *testing.T) {
	checkKeyPositions(t, posDoc)
	checkKeyPositions(t, "a = 1\r\n[b]\r\nc = 'x'\r\n")
}

// TestPosIndexArrayOfTables checks that each [[x]] header starts a new
// element x.#N (a second header once became x.#0.#0), also when nested in
// another array of tables and when a [x.sub] table follows.
func TestPosIndexArrayOfTables(t *testing.T) {
	const doc = `[[x]]
a = 1
[[x]]
a = 2
[x.sub]
b = 3
[[x]]
[[x.y]]
c = 4
[[x.y]]
c = 5
[[ z ]]
d = [1, { e = 6 }]
`
	var m map[string]any
	if _, err := toml.Decode(doc, &m); err != nil {
		t.Fatalf("test document is not valid TOML: %v", err)
	}
	// The document really has three x and two x[2].y, as the positions say.
	xs, _ := m["x"].([]map[string]any)
	if len(xs) != 3 {
		t.Fatalf("TOML library sees %d elements of x, want 3", len(xs))
	}
	if ys, _ := xs[2]["y"].([]map[string]any); len(ys) != 2 {
		t.Fatalf("TOML library sees %d elements of x[2].y, want 2", len(ys))
	}
	ix := NewIndex(doc)
	tests := []struct {
		path     []string
		key, val Pos
	}{
		{[]string{"x"}, Pos{7, 3}, Pos{7, 1}}, // the array: its last header
		{[]string{"x", "#0"}, Pos{1, 1}, Pos{1, 1}},
		{[]string{"x", "#0", "a"}, Pos{2, 1}, Pos{2, 5}},
		{[]string{"x", "#1"}, Pos{3, 1}, Pos{3, 1}},
		{[]string{"x", "#1", "a"}, Pos{4, 1}, Pos{4, 5}},
		{[]string{"x", "#1", "sub"}, Pos{5, 4}, Pos{5, 1}},
		{[]string{"x", "#1", "sub", "b"}, Pos{6, 1}, Pos{6, 5}},
		{[]string{"x", "#2"}, Pos{7, 1}, Pos{7, 1}},
		{[]string{"x", "#2", "y", "#0"}, Pos{8, 1}, Pos{8, 1}},
		{[]string{"x", "#2", "y", "#0", "c"}, Pos{9, 1}, Pos{9, 5}},
		{[]string{"x", "#2", "y", "#1"}, Pos{10, 1}, Pos{10, 1}},
		{[]string{"x", "#2", "y", "#1", "c"}, Pos{11, 1}, Pos{11, 5}},
		{[]string{"z", "#0", "d", "#1", "e"}, Pos{13, 11}, Pos{13, 15}},
	}
	for _, tt := range tests {
		if got := ix.KeyPos(tt.path); got != tt.key {
			t.Errorf("KeyPos(%s) = %v, want %v", Name(tt.path), got, tt.key)
		}
		if got := ix.ValPos(tt.path); got != tt.val {
			t.Errorf("ValPos(%s) = %v, want %v", Name(tt.path), got, tt.val)
		}
	}
	for _, bad := range [][]string{{"x", "#0", "#0"}, {"x", "#1", "#0"}, {"x", "#2", "y", "#0", "#0"}} {
		if _, ok := ix.entries[pathKey(bad)]; ok {
			t.Errorf("index has a path %s that the document does not", Name(bad))
		}
	}
}

func TestName(t *testing.T) {
	tests := []struct {
		path []string
		want string
	}{
		{nil, ""},
		{[]string{"ready", "tcp"}, "ready.tcp"},
		{[]string{"listen", Elem(1)}, "listen[1]"},
		{[]string{"mount", Elem(0), "source"}, "mount[0].source"},
	}
	for _, tt := range tests {
		if got := Name(tt.path); got != tt.want {
			t.Errorf("Name(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}
