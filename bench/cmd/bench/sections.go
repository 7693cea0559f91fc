package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Env is what every section gets.
type Env struct {
	Ctx       context.Context // cancelled on SIGINT/SIGTERM
	Runs      int             // measured rounds per measurement
	Inits     []Init          // in interleaving order, vinit first
	Stage     string          // the nsstage helper
	Orphans   string          // the orphans helper
	BenchTime string          // go test -benchtime for GoBench sections ("" = go's default)
	ModRoot   string          // the module's root directory
	Tmp       string          // the driver's scratch directory (removed at the end)
	Log       io.Writer       // progress, not the report
}

// Section is one part of RESULTS.md. Later issues add theirs to sections.
type Section struct {
	Name  string // for -only
	Title string
	Run   func(e *Env) (*Result, error)
}

// sections run in this order. Add new ones here.
var sections = []Section{
	// The latency-sensitive PID-1 sections first, before the orphan bursts
	// load the machine.
	{Name: "idle", Title: "Idle memory and binary size", Run: idleSection},
	{Name: "lifecycle", Title: "Start-to-exit and stop-to-gone", Run: lifecycleSection},
	{Name: "reap", Title: "Reaping bursts of orphans", Run: reapSection},
	{Name: "services", Title: "Supervising 200 services: vinit, s6, runit", Run: servicesSection},
	{Name: "launcher", Title: "Guest start and stop: vserver, systemd-nspawn, unshare", Run: launcherSection},
	{Name: "ipv4root", Title: "ipv4root: socket programs and loopback throughput", Run: ipv4rootSection},
}

func nan() float64 { return math.NaN() }

// Plan says how often a measurement runs.
type Plan struct {
	Rounds int    // measured rounds
	Warmup Warmup // unrecorded runs before them
}

// Warmup is what runs, unrecorded, before the measured rounds: it fills the
// page cache and the kernel's caches so the first recorded run is not the
// odd one out.
type Warmup int

const (
	NoWarmup    Warmup = iota
	WarmupFirst        // one run of the first contender (for expensive runs)
	WarmupRound        // one run of every contender
)

// interleave runs measure for plan.Rounds rounds after plan.Warmup; within a
// round every contender runs once, in order, so drift over the run hits all
// of them alike. It returns one row per contender with Samples[i] from round
// i (NaN where that run failed; the first error of each contender is kept as
// the row's note).
func interleave(e *Env, label string, who []Init, plan Plan, measure func(Init) (float64, error)) ([]Row, error) {
	sets, err := interleaveN(e, label, who, plan, 1, func(in Init) ([]float64, error) {
		v, err := measure(in)
		return []float64{v}, err
	})
	return sets[0], err
}

// interleaveN is interleave for a measurement that yields k figures per
// run; it returns k sets of rows.
func interleaveN(e *Env, label string, who []Init, plan Plan, k int, measure func(Init) ([]float64, error)) ([][]Row, error) {
	sets := make([][]Row, k)
	for j := range sets {
		sets[j] = make([]Row, len(who))
		for i, in := range who {
			sets[j][i] = Row{Name: in.Name, Note: in.Missing}
		}
	}
	start := 0
	if plan.Warmup != NoWarmup {
		start = -1
	}
	var ctxErr error
rounds:
	for r := start; r < plan.Rounds; r++ {
		warmed := false
		for i, in := range who {
			if in.Missing != "" || r < 0 && plan.Warmup == WarmupFirst && warmed {
				continue
			}
			warmed = true
			if ctxErr = e.Ctx.Err(); ctxErr != nil {
				break rounds
			}
			t0 := time.Now()
			vs, err := measure(in)
			if err == nil && len(vs) != k {
				err = fmt.Errorf("measured %d figures, want %d", len(vs), k)
			}
			if r < 0 {
				if err != nil {
					fmt.Fprintf(e.Log, "%s: warm-up %s: %v\n", label, in.Name, err)
				}
				continue
			}
			if err != nil {
				fmt.Fprintf(e.Log, "%s: round %d/%d %s: %v\n", label, r+1, plan.Rounds, in.Name, err)
				vs = make([]float64, k)
				for j := range vs {
					vs[j] = nan()
				}
			} else {
				fmt.Fprintf(e.Log, "%s: round %d/%d %-10s %.4g (%.2fs)\n", label, r+1, plan.Rounds, in.Name, vs[0], time.Since(t0).Seconds())
			}
			for j := range sets {
				row := &sets[j][i]
				row.Samples = append(row.Samples, vs[j])
				if err != nil && row.Note == "" {
					row.Note = "failed: " + err.Error()
				}
			}
		}
	}
	for j := range sets {
		for i := range sets[j] {
			if r := &sets[j][i]; len(valid(r.Samples)) > 0 && strings.HasPrefix(r.Note, "failed:") {
				r.Note = "some runs " + r.Note
			}
		}
	}
	return sets, ctxErr
}
