package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Unit says how a table's values (stored in base units) are printed.
type Unit int

const (
	Seconds Unit = iota // printed as µs/ms/s
	Bytes               // printed as B/KiB/MiB
	Count               // printed as a plain number
)

// Row is one contender's samples. Samples[i] comes from round i of an
// interleaved run, so the rows of a paired table can be compared round by
// round; a round that failed for this row holds NaN.
type Row struct {
	Name    string
	Samples []float64
	Note    string // shown instead of figures when there are no samples
}

// Table is the figures of one measurement.
type Table struct {
	Title    string
	Unit     Unit
	Unitname string // for Count: what is counted ("ns/op", "allocs/op")
	// Baseline names the row the ratio column is against ("" = no ratio
	// column). "*/NAME" pairs each row "GROUP/x" with "GROUP/NAME" (go
	// sub-benchmarks such as Connect/with against Connect/without). Paired: the ratio is the median of per-round ratios, which
	// cancels drift that hits both rows of a round; otherwise the ratio of
	// the medians.
	Baseline string
	Paired   bool
	Rows     []Row
}

// Check is a target from an issue, evaluated against the figures.
type Check struct {
	What string
	Met  bool
	Got  string
}

// Result is what a section produces.
type Result struct {
	Method string // how it was measured (markdown)
	Tables []Table
	Checks []Check
	Notes  []string
}

// valid returns the samples that are not NaN.
func valid(xs []float64) []float64 {
	var out []float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			out = append(out, x)
		}
	}
	return out
}

// quantile is the q-quantile of xs with linear interpolation (NaN when empty).
func quantile(xs []float64, q float64) float64 {
	v := valid(xs)
	if len(v) == 0 {
		return math.NaN()
	}
	sort.Float64s(v)
	pos := q * float64(len(v)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return v[lo] + (v[hi]-v[lo])*(pos-float64(lo))
}

func median(xs []float64) float64 { return quantile(xs, 0.5) }

// row returns the named row, or nil.
func (t *Table) row(name string) *Row {
	for i := range t.Rows {
		if t.Rows[i].Name == name {
			return &t.Rows[i]
		}
	}
	return nil
}

// Ratio is a's figure over b's: the median of per-round ratios when the
// table is paired, the ratio of medians otherwise; NaN if either is missing.
func (t *Table) Ratio(a, b string) float64 {
	ra, rb := t.row(a), t.row(b)
	if ra == nil || rb == nil {
		return math.NaN()
	}
	if !t.Paired {
		return median(ra.Samples) / median(rb.Samples)
	}
	var rs []float64
	for i := 0; i < len(ra.Samples) && i < len(rb.Samples); i++ {
		if x, y := ra.Samples[i], rb.Samples[i]; !math.IsNaN(x) && !math.IsNaN(y) && y != 0 {
			rs = append(rs, x/y)
		}
	}
	return median(rs)
}

// Median is the named row's median (NaN if absent).
func (t *Table) Median(name string) float64 {
	if r := t.row(name); r != nil {
		return median(r.Samples)
	}
	return math.NaN()
}

// baselineFor is the row a row's ratio is against ("" = none).
func (t *Table) baselineFor(name string) string {
	suffix, ok := strings.CutPrefix(t.Baseline, "*/")
	if !ok {
		return t.Baseline
	}
	group, _, found := strings.Cut(name, "/")
	if !found {
		return ""
	}
	return group + "/" + suffix
}

func (t *Table) format(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	switch t.Unit {
	case Seconds:
		return formatSeconds(v)
	case Bytes:
		return formatBytes(v)
	}
	return sig3(v)
}

func formatSeconds(s float64) string {
	switch {
	case s >= 1:
		return sig3(s) + " s"
	case s >= 1e-3:
		return sig3(s*1e3) + " ms"
	}
	return sig3(s*1e6) + " µs"
}

func formatBytes(b float64) string {
	switch {
	case b >= 1<<20:
		return sig3(b/(1<<20)) + " MiB"
	case b >= 1<<10:
		return sig3(b/(1<<10)) + " KiB"
	}
	return fmt.Sprintf("%.0f B", b)
}

// sig3 prints three significant digits (integers stay whole).
func sig3(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

// Markdown renders the table: median, min, max, interquartile range and the
// ratio against the baseline. A table whose rows have one sample each (a
// file size) shows just the value.
func (t *Table) Markdown() string {
	var b strings.Builder
	if t.Title != "" {
		fmt.Fprintf(&b, "**%s**", t.Title)
		if t.Unit == Count && t.Unitname != "" && t.Unitname != t.Title {
			fmt.Fprintf(&b, " (%s)", t.Unitname)
		}
		b.WriteString("\n\n")
	}
	single := true
	for _, r := range t.Rows {
		if len(valid(r.Samples)) > 1 {
			single = false
		}
	}
	ratio := false
	for _, r := range t.Rows {
		if b := t.row(t.baselineFor(r.Name)); b != nil && len(valid(b.Samples)) > 0 {
			ratio = true
		}
	}
	head := []string{"", "median", "min", "max", "IQR", "n"}
	if single {
		head = []string{"", "value"}
	}
	if ratio {
		how := "median of per-run ratios"
		if !t.Paired {
			how = "ratio of medians"
		}
		if single {
			how = "ratio"
		}
		head = append(head, fmt.Sprintf("× %s (%s)", strings.Replace(t.Baseline, "*", "same group", 1), how))
	}
	b.WriteString("| " + strings.Join(head, " | ") + " |\n|")
	for i := range head {
		if i == 0 {
			b.WriteString("---|")
		} else {
			b.WriteString("---:|")
		}
	}
	b.WriteString("\n")
	for _, r := range t.Rows {
		v := valid(r.Samples)
		cells := []string{r.Name}
		switch {
		case len(v) == 0:
			note := r.Note
			if note == "" {
				note = "no data"
			}
			cells = append(cells, note)
			for len(cells) < len(head) {
				cells = append(cells, "")
			}
		case single:
			cells = append(cells, t.format(v[0]))
		default:
			cells = append(cells, t.format(median(v)), t.format(quantile(v, 0)), t.format(quantile(v, 1)),
				t.format(quantile(v, 0.75)-quantile(v, 0.25)), fmt.Sprint(len(v)))
		}
		if ratio && len(v) > 0 {
			x := t.Ratio(r.Name, t.baselineFor(r.Name))
			if math.IsNaN(x) {
				cells = append(cells, "–")
			} else {
				cells = append(cells, fmt.Sprintf("%.2f", x))
			}
		}
		if len(v) > 0 && r.Note != "" {
			cells[0] += " (" + r.Note + ")"
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String()
}

// RatioCheck checks that a/b (paired per round when the table is) is at
// most limit.
func RatioCheck(t *Table, what, a, b string, limit float64) Check {
	r := t.Ratio(a, b)
	c := Check{What: fmt.Sprintf("%s: %s/%s ≤ %.2f", what, a, b, limit)}
	if math.IsNaN(r) {
		c.Got = "not measured"
		return c
	}
	c.Met = r <= limit
	c.Got = fmt.Sprintf("%.2f (%s %s, %s %s)", r, a, t.format(t.Median(a)), b, t.format(t.Median(b)))
	return c
}

// BelowCheck checks that the named row's median is under limit.
func BelowCheck(t *Table, what, name string, limit float64) Check {
	m := t.Median(name)
	c := Check{What: fmt.Sprintf("%s: %s < %s", what, name, t.format(limit))}
	if math.IsNaN(m) {
		c.Got = "not measured"
		return c
	}
	c.Met = m < limit
	c.Got = fmt.Sprintf("median %s (max %s)", t.format(m), t.format(quantile(t.row(name).Samples, 1)))
	return c
}

// Markdown renders a section's result under its heading.
func (r *Result) Markdown(title string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n", title)
	if r.Method != "" {
		b.WriteString(strings.TrimSpace(r.Method) + "\n\n")
	}
	for i := range r.Tables {
		b.WriteString(r.Tables[i].Markdown() + "\n")
	}
	if len(r.Checks) > 0 {
		b.WriteString("Targets:\n\n")
		for _, c := range r.Checks {
			mark := "**missed**"
			if c.Met {
				mark = "met"
			}
			fmt.Fprintf(&b, "* %s — %s: %s\n", c.What, mark, c.Got)
		}
		b.WriteString("\n")
	}
	for _, n := range r.Notes {
		b.WriteString(strings.TrimSpace(n) + "\n\n")
	}
	return b.String()
}
