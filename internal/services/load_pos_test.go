package services

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
	ix := newPosIndex(posDoc)
	tests := []struct {
		path     []string
		key, val pos
	}{
		{[]string{"a"}, pos{2, 1}, pos{2, 5}},
		{[]string{"quoted.key"}, pos{3, 1}, pos{3, 16}},
		{[]string{"b"}, pos{4, 1}, pos{4, 1}},
		{[]string{"b", "c"}, pos{4, 3}, pos{4, 3}},
		{[]string{"b", "c", "d"}, pos{4, 7}, pos{4, 11}},
		{[]string{"arr"}, pos{5, 1}, pos{5, 7}},
		{[]string{"arr", "#0"}, pos{6, 3}, pos{6, 3}},
		{[]string{"arr", "#1", "#1"}, pos{7, 7}, pos{7, 7}},
		{[]string{"arr", "#2", "x"}, pos{8, 5}, pos{8, 9}},
		{[]string{"arr", "#2", "y", "z"}, pos{8, 14}, pos{8, 18}},
		{[]string{"ml"}, pos{10, 1}, pos{10, 6}},
		{[]string{"lit"}, pos{13, 1}, pos{13, 7}},
		{[]string{"date"}, pos{15, 1}, pos{15, 8}},
		{[]string{"tbl"}, pos{16, 2}, pos{16, 1}},
		{[]string{"tbl", "k"}, pos{17, 3}, pos{17, 7}},
		{[]string{"tbl", "sub", "k2", "in", "#0"}, pos{19, 13}, pos{19, 13}},
		{[]string{"aot", "#0", "n"}, pos{21, 1}, pos{21, 5}},
		{[]string{"aot", "#1", "n"}, pos{23, 1}, pos{23, 5}},
		{[]string{"aot", "#1", "inner", "m"}, pos{25, 1}, pos{25, 5}},
		// unknown paths fall back to the nearest known ancestor
		{[]string{"tbl", "nope"}, pos{16, 2}, pos{16, 2}},
		{[]string{"nope"}, pos{1, 1}, pos{1, 1}},
	}
	for _, tt := range tests {
		if got := ix.keyPos(tt.path); got != tt.key {
			t.Errorf("keyPos(%s) = %v, want %v", name(tt.path), got, tt.key)
		}
		if got := ix.valPos(tt.path); got != tt.val {
			t.Errorf("valPos(%s) = %v, want %v", name(tt.path), got, tt.val)
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
	ix := newPosIndex(src)
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
