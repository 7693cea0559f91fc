package main

import (
	"math"
	"strings"
	"testing"
)

func TestQuantile(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		q    float64
		want float64
	}{
		{[]float64{3, 1, 2}, 0.5, 2},
		{[]float64{4, 1, 3, 2}, 0.5, 2.5},
		{[]float64{1, 2, 3, 4, 5}, 0.25, 2},
		{[]float64{1, 2, 3, 4, 5}, 0, 1},
		{[]float64{1, 2, 3, 4, 5}, 1, 5},
		{[]float64{1, math.NaN(), 3}, 0.5, 2},
		{[]float64{7}, 0.75, 7},
	} {
		if got := quantile(tc.xs, tc.q); got != tc.want {
			t.Errorf("quantile(%v, %v) = %v, want %v", tc.xs, tc.q, got, tc.want)
		}
	}
	if got := median([]float64{math.NaN()}); !math.IsNaN(got) {
		t.Errorf("median of no valid samples = %v, want NaN", got)
	}
}

func TestRatio(t *testing.T) {
	// Round 2 is slow for both (drift): paired ratios cancel it, the
	// ratio of medians does not.
	tab := Table{Paired: true, Rows: []Row{
		{Name: "a", Samples: []float64{1, 10, 1.1, math.NaN()}},
		{Name: "b", Samples: []float64{2, 20, 2.2, 3}},
	}}
	if got := tab.Ratio("a", "b"); math.Abs(got-0.5) > 1e-9 {
		t.Errorf("paired ratio = %v, want 0.5", got)
	}
	if got := tab.Ratio("b", "a"); math.Abs(got-2) > 1e-9 {
		t.Errorf("paired ratio b/a = %v, want 2", got)
	}
	tab.Paired = false
	if got, want := tab.Ratio("a", "b"), 1.1/2.6; math.Abs(got-want) > 1e-9 {
		t.Errorf("ratio of medians = %v, want %v", got, want)
	}
	if got := tab.Ratio("a", "missing"); !math.IsNaN(got) {
		t.Errorf("ratio against a missing row = %v, want NaN", got)
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		u    Unit
		v    float64
		want string
	}{
		{Seconds, 0.000407, "407 µs"},
		{Seconds, 0.00819, "8.19 ms"},
		{Seconds, 4.056, "4.06 s"},
		{Bytes, 3 << 20, "3.00 MiB"},
		{Bytes, 27792, "27.1 KiB"},
		{Bytes, 512, "512 B"},
		{Count, 12.345, "12.3"},
		{Seconds, math.NaN(), "–"},
	} {
		tab := Table{Unit: tc.u}
		if got := tab.format(tc.v); got != tc.want {
			t.Errorf("format(%v, %v) = %q, want %q", tc.u, tc.v, got, tc.want)
		}
	}
}

func TestMarkdown(t *testing.T) {
	tab := Table{Title: "run", Unit: Seconds, Baseline: "vinit", Paired: true, Rows: []Row{
		{Name: "vinit", Samples: []float64{0.002, 0.004, 0.003}},
		{Name: "tini", Samples: []float64{0.001, 0.002, math.NaN()}, Note: "some runs failed: x"},
		{Name: "gone", Note: "not available: not in PATH"},
	}}
	md := tab.Markdown()
	for _, want := range []string{
		"**run**",
		"|  | median | min | max | IQR | n | × vinit (median of per-run ratios) |",
		"| vinit | 3.00 ms | 2.00 ms | 4.00 ms | 1.00 ms | 3 | 1.00 |",
		"| tini (some runs failed: x) | 1.50 ms | 1.00 ms | 2.00 ms | 500 µs | 2 | 0.50 |",
		"| gone | not available: not in PATH |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	single := Table{Unit: Bytes, Baseline: "vinit", Rows: []Row{
		{Name: "vinit", Samples: []float64{4 << 20}, Note: "static"},
		{Name: "tini", Samples: []float64{1 << 20}},
	}}
	md = single.Markdown()
	for _, want := range []string{"|  | value | × vinit (ratio) |", "| vinit (static) | 4.00 MiB | 1.00 |", "| tini | 1.00 MiB | 0.25 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestChecks(t *testing.T) {
	tab := Table{Unit: Seconds, Paired: true, Rows: []Row{
		{Name: "vinit", Samples: []float64{1, 1, 1}},
		{Name: "tini", Samples: []float64{1, 2, 0.5}},
	}}
	if c := RatioCheck(&tab, "x", "vinit", "tini", 1.0); !c.Met || !strings.HasPrefix(c.Got, "1.00 ") {
		t.Errorf("ratio 1.00 against limit 1.00: %+v, want met", c)
	}
	if c := RatioCheck(&tab, "x", "vinit", "tini", 0.9); c.Met {
		t.Errorf("ratio 1.00 against limit 0.90: %+v, want missed", c)
	}
	if c := RatioCheck(&tab, "x", "vinit", "catatonit", 2); c.Met || c.Got != "not measured" {
		t.Errorf("missing row: %+v, want not measured", c)
	}
	mem := Table{Unit: Bytes, Rows: []Row{{Name: "vinit", Samples: []float64{4 << 20, 2 << 20, 2 << 20}}}}
	if c := BelowCheck(&mem, "rss", "vinit", 3<<20); !c.Met {
		t.Errorf("median 2 MiB under 3 MiB: %+v, want met", c)
	}
	if c := BelowCheck(&mem, "rss", "vinit", 2<<20); c.Met {
		t.Errorf("median 2 MiB under 2 MiB: %+v, want missed", c)
	}
}

func TestMinusRow(t *testing.T) {
	tab := Table{Unit: Seconds, Baseline: "vinit", Paired: true, Rows: []Row{
		{Name: "vinit", Samples: []float64{5, 6}},
		{Name: "none", Samples: []float64{2, 3}},
	}}
	d := minusRow(tab, "none", "net")
	if len(d.Rows) != 1 || d.Rows[0].Name != "vinit" || d.Rows[0].Samples[0] != 3 || d.Rows[0].Samples[1] != 3 {
		t.Errorf("minusRow = %+v, want vinit [3 3] only", d.Rows)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{5: "5", 999: "999", 1000: "1,000", 50000: "50,000", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
