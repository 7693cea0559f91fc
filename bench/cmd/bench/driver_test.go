package main

import (
	"math"
	"strings"
	"testing"
)

const goBenchOutput = `goos: linux
goarch: amd64
pkg: github.com/vserver-go/vserver/internal/ipv4root
cpu: AMD EPYC
BenchmarkConnect/plain-2         	  100000	     10000 ns/op	     128 B/op	       2 allocs/op
BenchmarkConnect/ipv4root-2      	  100000	     12000 ns/op	     128 B/op	       2 allocs/op
BenchmarkConnect/plain-2         	  100000	     11000 ns/op	     128 B/op	       2 allocs/op
BenchmarkConnect/ipv4root-2      	  100000	     11000 ns/op	     144 B/op	       3 allocs/op
BenchmarkBind-2                  	   50000	     20000 ns/op	        3.50 binds/conn
PASS
ok  	github.com/vserver-go/vserver/internal/ipv4root	12.3s
`

func TestParseGoBench(t *testing.T) {
	tabs := parseGoBench([]byte(goBenchOutput), "*/plain")
	if len(tabs) != 4 {
		t.Fatalf("got %d tables, want 4 (ns/op, B/op, allocs/op, binds/conn)", len(tabs))
	}
	ns := tabs[0]
	if ns.Unit != Seconds || len(ns.Rows) != 3 {
		t.Fatalf("time table = %+v, want 3 rows in seconds", ns)
	}
	if ns.Rows[0].Name != "Connect/plain" || ns.Rows[2].Name != "Bind" {
		t.Errorf("row names %q %q, want Connect/plain and Bind", ns.Rows[0].Name, ns.Rows[2].Name)
	}
	if got := ns.Median("Connect/plain"); math.Abs(got-10500e-9) > 1e-15 {
		t.Errorf("median plain = %v, want 10.5 µs", got)
	}
	if got := ns.Ratio("Connect/ipv4root", "Connect/plain"); got < 1.095 || got > 1.096 {
		t.Errorf("ipv4root/plain = %v, want 11500/10500", got)
	}
	md := ns.Markdown()
	for _, want := range []string{"× same group/plain (ratio of medians)", "| Connect/ipv4root | 11.5 µs | 11.0 µs | 12.0 µs | 0.500 µs | 2 | 1.10 |", "| Bind | 20.0 µs | 20.0 µs | 20.0 µs | 0.000 µs | 1 | – |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if tabs[1].Unit != Bytes || tabs[2].Title != "allocations per operation" || tabs[3].Unitname != "binds/conn" {
		t.Errorf("tables: %q %q %q", tabs[1].Title, tabs[2].Title, tabs[3].Title)
	}
	if got := parseGoBench([]byte("PASS\nok  \tpkg\t0.01s\n"), ""); len(got) != 0 {
		t.Errorf("output without benchmarks gave %d tables", len(got))
	}
}

func TestChooseSections(t *testing.T) {
	all, err := chooseSections("")
	if err != nil || len(all) != len(sections) {
		t.Fatalf("all sections: %d, %v", len(all), err)
	}
	got, err := chooseSections("reap,lifecycle")
	if err != nil || len(got) != 2 || got[0].Name != "lifecycle" || got[1].Name != "reap" {
		t.Errorf("-only reap,lifecycle = %v, %v; want lifecycle then reap (registry order)", got, err)
	}
	if _, err := chooseSections("reap,nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown section: err = %v", err)
	}
}

func TestInitArgv(t *testing.T) {
	ins, err := knownInits([]string{"tini", "dumb-init"})
	if err != nil {
		t.Fatal(err)
	}
	ins[0].Path, ins[1].Path = "/x/tini", "/x/dumb-init"
	if got := strings.Join(ins[0].Argv("/bin/true"), " "); got != "/x/tini -- /bin/true" {
		t.Errorf("tini argv %q", got)
	}
	if got := strings.Join(ins[1].Argv("/bin/true"), " "); got != "/x/dumb-init /bin/true" {
		t.Errorf("dumb-init argv %q", got)
	}
	if got := strings.Join(noInit.Argv("/bin/true"), " "); got != "/bin/true" {
		t.Errorf("no init argv %q", got)
	}
	if _, err := knownInits([]string{"systemd"}); err == nil {
		t.Error("unknown init accepted")
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{"-runs": "-runs", "^$": "'^$'", "a b": "'a b'", "it's": `'it'\''s'`, "": "''"} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}
