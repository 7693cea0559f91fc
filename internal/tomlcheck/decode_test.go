package tomlcheck

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestPosErrorString(t *testing.T) {
	if got, want := (&PosError{File: "/etc/a.toml", Line: 3, Col: 7, Msg: "bad"}).Error(), "/etc/a.toml:3:7: bad"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := (&PosError{File: "/etc/a.toml", Msg: "read: permission denied"}).Error(), "/etc/a.toml: read: permission denied"; got != want {
		t.Errorf("Error() without a position = %q, want %q", got, want)
	}
}

func TestParseSyntaxError(t *testing.T) {
	for _, tt := range []struct{ src, want string }{
		{"a = 1\nb = = 2\n", "f.toml:2:5: "},
		{"\xef\xbb\xbfa = = 1\n", "f.toml:1:5: "}, // a BOM does not shift columns
	} {
		m, ix, err := Parse("f.toml", []byte(tt.src))
		var pe *PosError
		if m != nil || ix != nil || !errors.As(err, &pe) {
			t.Fatalf("Parse(%q) = %v, %v, %v; want only a *PosError", tt.src, m, ix, err)
		}
		if !strings.HasPrefix(err.Error(), tt.want) || len(err.Error()) == len(tt.want) {
			t.Errorf("Parse(%q): error %q, want %q and a message", tt.src, err, tt.want)
		}
	}
	d, m := NewDecoder("f.toml", []byte("x = [\n"))
	if m != nil || len(d.Errs) != 1 {
		t.Fatalf("NewDecoder on bad TOML: map %v, errors %v; want nil and one error", m, d.Errs)
	}
}

func TestParseBOMColumns(t *testing.T) {
	d, m := NewDecoder("f.toml", []byte("\xef\xbb\xbfmode = 1\n"))
	d.Str([]string{"mode"}, m["mode"])
	if got, want := errText(d.Sorted()), "f.toml:1:8: mode: expected a string, found integer 1"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

const decodeDoc = `name = 5
on = "yes"
count = 70000
neg = -3
mode = "strict"
tags = ["a", 2, "c", false]
wait = "10 s"
grace = 5
size = "1 parsec"
small = -1
dir = "relative/path"
nul = "/a\u0000b"
tbl = 1
arr = "x"
[net]
moed = "x"
frobnicate = 1
`

// TestDecoder checks every helper's message and position on a bad value.
func TestDecoder(t *testing.T) {
	d, m := NewDecoder("/etc/g.toml", []byte(decodeDoc))
	if m == nil {
		t.Fatalf("parse: %v", d.Errs)
	}
	p := func(k ...string) []string { return k }
	if _, ok := d.Str(p("name"), m["name"]); ok {
		t.Error("Str accepted an integer")
	}
	if _, ok := d.Boolean(p("on"), m["on"]); ok {
		t.Error("Boolean accepted a string")
	}
	if _, ok := d.Integer(p("count"), m["count"], 0, 65535); ok {
		t.Error("Integer accepted 70000 for 0 to 65535")
	}
	if _, ok := d.Integer(p("neg"), m["neg"], 0, math.MaxInt64); ok {
		t.Error("Integer accepted -3 for >= 0")
	}
	if _, ok := d.OneOf(p("mode"), m["mode"], "strcit", "loose"); ok {
		t.Error("OneOf accepted a value not allowed")
	}
	if list, ok := d.StrList(p("tags"), m["tags"]); ok || strings.Join(list, ",") != "a,c" {
		t.Errorf("StrList = %q, %v; want the strings a, c and false", list, ok)
	}
	if _, ok := d.Duration(p("wait"), m["wait"]); ok {
		t.Error(`Duration accepted "10 s"`)
	}
	if _, ok := d.Duration(p("grace"), m["grace"]); ok {
		t.Error("Duration accepted an integer")
	}
	if _, ok := d.Size(p("size"), m["size"]); ok {
		t.Error(`Size accepted "1 parsec"`)
	}
	if _, ok := d.Size(p("small"), m["small"]); ok {
		t.Error("Size accepted -1")
	}
	if _, ok := d.AbsPath(p("dir"), m["dir"]); ok {
		t.Error("AbsPath accepted a relative path")
	}
	if _, ok := d.AbsPath(p("nul"), m["nul"]); ok {
		t.Error("AbsPath accepted a NUL byte")
	}
	if _, ok := d.Table(p("tbl"), m["tbl"]); ok {
		t.Error("Table accepted an integer")
	}
	if _, ok := d.Array(p("arr"), m["arr"]); ok {
		t.Error("Array accepted a string")
	}
	net, ok := d.Table(p("net"), m["net"])
	if !ok {
		t.Fatal("Table refused [net]")
	}
	if got := d.SortedKeys(p("net"), net); strings.Join(got, ",") != "moed,frobnicate" {
		t.Errorf("SortedKeys = %q, want file order moed, frobnicate", got)
	}
	for _, k := range d.SortedKeys(p("net"), net) {
		d.UnknownKey(p("net", k), []string{"mode", "ips", "dev"})
	}
	want := []string{
		`/etc/g.toml:1:8: name: expected a string, found integer 5`,
		`/etc/g.toml:2:6: on: expected true or false, found string "yes"`,
		`/etc/g.toml:3:9: count: 70000 is out of range (want 0 to 65535)`,
		`/etc/g.toml:4:7: neg: -3 is out of range (want >= 0)`,
		`/etc/g.toml:5:8: mode: unknown value "strict" (want "strcit", "loose"), did you mean "strcit"?`,
		`/etc/g.toml:6:14: tags[1]: expected a string, found integer 2`,
		`/etc/g.toml:6:22: tags[3]: expected a string, found boolean false`,
		`/etc/g.toml:7:8: wait: invalid duration "10 s" (use Go syntax such as "100ms", "10s" or "1m30s")`,
		`/etc/g.toml:8:9: grace: expected a duration string such as "10s", found integer 5`,
		`/etc/g.toml:9:8: size: invalid size "1 parsec" (use bytes or a unit: "512K", "1MiB", "10M", "1G")`,
		`/etc/g.toml:10:9: small: negative size -1`,
		`/etc/g.toml:11:7: dir: "relative/path" is not an absolute path`,
		`/etc/g.toml:12:7: nul: path contains a NUL byte`,
		`/etc/g.toml:13:7: tbl: expected a table, found integer 1`,
		`/etc/g.toml:14:7: arr: expected an array, found string "x"`,
		`/etc/g.toml:16:1: unknown key "net.moed", did you mean "net.mode"?`,
		`/etc/g.toml:17:1: unknown key "net.frobnicate"`,
	}
	if got := errText(d.Sorted()); got != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// TestDecoderValid checks the helpers return good values and report nothing.
func TestDecoderValid(t *testing.T) {
	d, m := NewDecoder("f.toml", []byte(`s = "x"
b = true
n = 7
o = "b"
l = ["p", "q"]
dur = "1m30s"
sz = "4MiB"
szn = 4096
ap = "/srv"
t = { k = 1 }
aot = [{ k = 1 }, { k = 2 }]
`))
	if s, ok := d.Str([]string{"s"}, m["s"]); !ok || s != "x" {
		t.Errorf("Str = %q, %v", s, ok)
	}
	if b, ok := d.Boolean([]string{"b"}, m["b"]); !ok || !b {
		t.Errorf("Boolean = %v, %v", b, ok)
	}
	if n, ok := d.Integer([]string{"n"}, m["n"], 7, 7); !ok || n != 7 {
		t.Errorf("Integer = %d, %v", n, ok)
	}
	if o, ok := d.OneOf([]string{"o"}, m["o"], "a", "b"); !ok || o != "b" {
		t.Errorf("OneOf = %q, %v", o, ok)
	}
	if l, ok := d.StrList([]string{"l"}, m["l"]); !ok || strings.Join(l, ",") != "p,q" {
		t.Errorf("StrList = %q, %v", l, ok)
	}
	if v, ok := d.Duration([]string{"dur"}, m["dur"]); !ok || v != 90*time.Second {
		t.Errorf("Duration = %v, %v", v, ok)
	}
	if v, ok := d.Size([]string{"sz"}, m["sz"]); !ok || v != 4<<20 {
		t.Errorf("Size = %d, %v", v, ok)
	}
	if v, ok := d.Size([]string{"szn"}, m["szn"]); !ok || v != 4096 {
		t.Errorf("Size = %d, %v", v, ok)
	}
	if v, ok := d.AbsPath([]string{"ap"}, m["ap"]); !ok || v != "/srv" {
		t.Errorf("AbsPath = %q, %v", v, ok)
	}
	if v, ok := d.Table([]string{"t"}, m["t"]); !ok || v["k"] != int64(1) {
		t.Errorf("Table = %v, %v", v, ok)
	}
	if v, ok := d.Array([]string{"aot"}, m["aot"]); !ok || len(v) != 2 {
		t.Errorf("Array = %v, %v", v, ok)
	}
	if len(d.Errs) != 0 {
		t.Errorf("errors on valid values: %v", d.Errs)
	}
}

func errText(errs []error) string {
	s := make([]string, len(errs))
	for i, e := range errs {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}
