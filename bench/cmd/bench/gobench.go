package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// GoBench runs a package's Go benchmarks,
//
//	go test -run '^$' -bench REGEX -benchmem -count RUNS [-benchtime T] PKG
//
// and folds the output into one table per metric (time/op, B/op, allocs/op
// and any custom metric), one row per benchmark (name without "Benchmark"
// and the -GOMAXPROCS suffix). baseline names the benchmark the ratio column
// is against ("" = none). A package that does not exist, does not build or
// has no benchmarks yet gives a section that says so, not an error.
func GoBench(e *Env, pkg, regex, baseline string) (*Result, error) {
	args := []string{"test", "-run", "^$", "-bench", regex, "-benchmem", "-count", strconv.Itoa(e.Runs)}
	if e.BenchTime != "" {
		args = append(args, "-benchtime", e.BenchTime)
	}
	args = append(args, pkg)
	shown := make([]string, len(args))
	for i, a := range args {
		shown[i] = shellQuote(a)
	}
	res := &Result{Method: "`go " + strings.Join(shown, " ") + "`; the benchmarks of one package run one after the other (not interleaved), so ratios are ratios of medians."}
	cmd := exec.CommandContext(e.Ctx, goTool(), args...)
	cmd.Dir = e.ModRoot
	fmt.Fprintf(e.Log, "go %s\n", strings.Join(shown, " "))
	out, err := cmd.CombinedOutput()
	tables := parseGoBench(out, baseline)
	if err != nil {
		if e.Ctx.Err() != nil {
			return res, e.Ctx.Err()
		}
		res.Notes = append(res.Notes, "Not available yet: `go test` failed: "+firstLines(out, 3))
		return res, nil
	}
	if len(tables) == 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("Not available yet: %s has no benchmarks matching %q.", pkg, regex))
		return res, nil
	}
	res.Tables = tables
	return res, nil
}

// parseGoBench turns `go test -bench` output into tables, one per unit, in
// the order the units first appear.
func parseGoBench(out []byte, baseline string) []Table {
	var tables []Table
	index := map[string]int{}
	s := bufio.NewScanner(bytes.NewReader(out))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			unit := f[i+1]
			ti, ok := index[unit]
			if !ok {
				t := Table{Title: unit, Unit: Count, Unitname: unit, Baseline: baseline}
				switch unit {
				case "ns/op":
					t.Title, t.Unit = "time per operation", Seconds
				case "B/op":
					t.Title, t.Unit = "bytes allocated per operation", Bytes
				case "allocs/op":
					t.Title = "allocations per operation"
				}
				ti = len(tables)
				index[unit] = ti
				tables = append(tables, t)
			}
			if unit == "ns/op" {
				v *= 1e-9
			}
			t := &tables[ti]
			r := t.row(name)
			if r == nil {
				t.Rows = append(t.Rows, Row{Name: name})
				r = &t.Rows[len(t.Rows)-1]
			}
			r.Samples = append(r.Samples, v)
		}
	}
	return tables
}

func firstLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return "`" + strings.Join(lines, " / ") + "`"
}

// shellQuote quotes an argument for the command shown in the report.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
