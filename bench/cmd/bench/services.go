package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The supervisor sections (issue #3): vinit in supervisor mode against
// Debian's s6 (s6-svscan) and runit (runsvdir), each as PID 1 of a fresh PID
// namespace, all running the same static helper (bench/helpers/svc) as
// their services, which reports to one unix datagram socket of the driver.

// serviceCount and chainLength are the sizes issue #3 asks for.
const (
	serviceCount = 200
	chainLength  = 50
)

// supervisors are the contenders, in round order. Path is the program
// started as PID 1; the name decides how its configuration is written.
func supervisors(e *Env) []Init {
	var vinit Init
	for _, in := range e.Inits {
		if in.Name == "vinit" {
			vinit = in
		}
	}
	if vinit.Name == "" {
		vinit = Init{Missing: "not available: vinit is not among -inits"}
	}
	out := []Init{
		{Name: "vinit (simple)", Path: vinit.Path, Missing: vinit.Missing},
		{Name: "vinit (notify)", Path: vinit.Path, Missing: vinit.Missing},
	}
	for _, name := range []string{"s6-svscan", "runsvdir"} {
		in := Init{Name: name}
		p, err := exec.LookPath(name)
		if err != nil {
			in.Missing = "not available: " + err.Error()
		}
		in.Path = p
		out = append(out, in)
	}
	return append(out, floorSupervisor)
}

// floorSupervisor is no supervisor: the helper itself as PID 1 starts
// the services at once and only reaps (svc -spawn N). It shows what
// starting 200 Go programs on this machine costs by itself.
var floorSupervisor = Init{Name: "no supervisor (floor)", Path: "svc -spawn"}

// benchService is one service of a run.
type benchService struct {
	Name  string
	After string // the service it waits for ("" = none)
	Crash bool   // exits at once; restarted without delay where the supervisor allows
}

// supervisorRun is one supervisor started on a set of services.
type supervisorRun struct {
	p       *nsInit
	dir     string
	reports *datagramSocket // the helpers' reports
	notify  *datagramSocket // vinit's own READY=1 (nil for the others)
	t0      time.Time       // just before the clone
	helper  string
}

// startSupervisor writes the configuration for svcs into a fresh
// directory and starts the supervisor as PID 1 of a new PID namespace;
// the clock (t0) starts just before the clone, after the files exist.
func startSupervisor(e *Env, sup Init, svcs []benchService) (*supervisorRun, error) {
	helper, err := e.Helper("svc")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(e.Tmp, "sv-")
	if err != nil {
		return nil, fmt.Errorf("create service directory: %w", err)
	}
	r := &supervisorRun{dir: dir, helper: helper}
	ok := false
	defer func() {
		if !ok {
			r.Close()
		}
	}()
	if r.reports, err = listenDatagram(filepath.Join(dir, "report.sock")); err != nil {
		return nil, err
	}
	env := []string{"BENCH_REPORT=" + r.reports.path}
	for _, s := range svcs {
		if s.Crash {
			env = append(env, "BENCH_EXIT=1") // only one service in a crash run
		}
	}
	var argv []string
	switch {
	case strings.HasPrefix(sup.Name, "vinit"):
		if r.notify, err = listenDatagram(filepath.Join(dir, "notify.sock")); err != nil {
			return nil, err
		}
		env = append(env, "NOTIFY_SOCKET="+r.notify.path)
		argv, err = writeVinit(dir, helper, svcs, sup.Name == "vinit (notify)")
		argv = append([]string{sup.Path}, argv...)
	case sup.Name == "s6-svscan":
		argv, err = writeServiceDirs(dir, helper, svcs, true)
		argv = append([]string{sup.Path}, argv...)
	case sup.Name == floorSupervisor.Name:
		argv = []string{helper, "-spawn", strconv.Itoa(len(svcs))}
	case sup.Name == "runsvdir":
		argv, err = writeServiceDirs(dir, helper, svcs, false)
		argv = append([]string{sup.Path}, argv...)
	default:
		err = fmt.Errorf("unknown supervisor %q", sup.Name)
	}
	if err != nil {
		return nil, err
	}
	r.t0 = time.Now()
	if r.p, err = startInitEnv(e.Stage, argv, env, nil, nil); err != nil {
		return nil, err
	}
	ok = true
	return r, nil
}

// writeVinit writes DIR/services/NAME.toml for every service and returns
// vinit's arguments.
func writeVinit(dir, helper string, svcs []benchService, notify bool) ([]string, error) {
	sd := filepath.Join(dir, "services")
	if err := os.MkdirAll(sd, 0o755); err != nil {
		return nil, fmt.Errorf("write vinit services: %w", err)
	}
	for _, s := range svcs {
		var b strings.Builder
		fmt.Fprintf(&b, "command = [%q, %q]\n", helper, s.Name)
		if notify {
			b.WriteString("type = \"notify\"\n")
		}
		if s.After != "" {
			fmt.Fprintf(&b, "after = [%q]\n", s.After)
		}
		if s.Crash {
			b.WriteString("restart = \"always\"\nrestart_delay = \"0\"\n")
		}
		if err := os.WriteFile(filepath.Join(sd, s.Name+".toml"), []byte(b.String()), 0o644); err != nil {
			return nil, fmt.Errorf("write vinit services: %w", err)
		}
	}
	return []string{"--config", dir, "--control", filepath.Join(dir, "ctl.sock"), "--reboot-socket", "none"}, nil
}

// writeServiceDirs writes a scan directory with one service directory per
// service whose run file is the helper itself (a symlink: no shell in
// between), for s6 (with notification-fd 3) or runit. It returns the
// supervisor's arguments. Neither has dependencies: services with After
// are not supported.
func writeServiceDirs(dir, helper string, svcs []benchService, s6 bool) ([]string, error) {
	scan := filepath.Join(dir, "scan")
	for _, s := range svcs {
		if s.After != "" {
			return nil, errors.New("dependencies are not native to s6-svscan or runsvdir")
		}
		sd := filepath.Join(scan, s.Name)
		if err := os.MkdirAll(sd, 0o755); err != nil {
			return nil, fmt.Errorf("write service directory: %w", err)
		}
		if err := os.Symlink(helper, filepath.Join(sd, "run")); err != nil {
			return nil, fmt.Errorf("write service directory: %w", err)
		}
		if s6 && !s.Crash {
			if err := os.WriteFile(filepath.Join(sd, "notification-fd"), []byte("3\n"), 0o644); err != nil {
				return nil, fmt.Errorf("write service directory: %w", err)
			}
		}
	}
	return []string{scan}, nil
}

// Close kills what is left and removes the directory.
func (r *supervisorRun) Close() {
	if r.p != nil {
		r.p.Close()
	}
	if r.reports != nil {
		r.reports.Close()
	}
	if r.notify != nil {
		r.notify.Close()
	}
	os.RemoveAll(r.dir)
}

// waitReports waits for n reports from distinct services and returns the
// time from t0 until the n-th arrived, with the reports' helper timestamps
// (CLOCK_MONOTONIC, ns) in arrival order.
func (r *supervisorRun) waitReports(e *Env, n int, timeout time.Duration) (time.Duration, []report, error) {
	seen := map[string]bool{}
	var got []report
	deadline := time.Now().Add(timeout)
	for len(seen) < n {
		rep, err := r.reports.next(deadline, r.p.done, e.Ctx.Done())
		if err != nil {
			return 0, got, fmt.Errorf("%d of %d services reported: %w%s", len(seen), n, err, r.p.stderrTail())
		}
		seen[rep.name] = true
		got = append(got, rep)
	}
	return got[len(got)-1].at.Sub(r.t0), got, nil
}

// halt sends sig and returns the time until the supervisor was reaped and
// its namespace gone.
func (r *supervisorRun) halt(sig syscall.Signal) (time.Duration, error) {
	t0 := time.Now()
	if err := r.p.Signal(sig); err != nil {
		return 0, err
	}
	if _, err := r.p.Wait(30 * time.Second); err != nil {
		return 0, err
	}
	if err := r.p.Gone(5 * time.Second); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

// haltSignal is the orderly stop of each supervisor. runsvdir exits at
// once on SIGTERM, leaving its runsv processes; SIGHUP makes it send
// SIGTERM to each runsv (which stops its service and exits) and then exit.
func haltSignal(sup Init) syscall.Signal {
	if sup.Name == "runsvdir" {
		return syscall.SIGHUP
	}
	return syscall.SIGTERM
}

// settle polls until every process of the supervisor's tree sleeps (state
// S), so memory is read at rest.
func settle(pid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		pids := tree(pid)
		busy := 0
		for _, p := range pids {
			if _, st, err := procStat(p); err == nil && st != 'S' {
				busy++
			}
		}
		if busy == 0 && len(pids) > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d processes still not asleep after %v", busy, len(pids), timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// tree is pid and all its descendants.
func tree(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		kids, _ := children(out[i])
		out = append(out, kids...)
	}
	return out
}

// supervisorMemory sums VmRSS and Pss over the supervisor's own processes
// (the init and, for s6 and runit, one s6-supervise or runsv per service),
// leaving out the services, and counts those processes.
func supervisorMemory(pid int, helper string) (rss, pss, procs float64, err error) {
	for _, p := range tree(pid) {
		if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", p)); exe == helper {
			continue
		}
		r, s, err := memory(p)
		if err != nil {
			if p == pid {
				return 0, 0, 0, err
			}
			continue
		}
		rss, pss, procs = rss+r, pss+s, procs+1
	}
	return rss, pss, procs, nil
}

const servicesMethod = `
Every supervisor runs as PID 1 of a fresh PID namespace (the stage, as
above) with the same environment plus $BENCH_REPORT. Every service is the
same static Go helper (bench/helpers/svc, built with CGO_ENABLED=0 and
importing only x/sys/unix): it signals readiness the supervisor's native
way, then sends one datagram with its name to a unix socket the driver
listens on, then pauses until a signal kills it. The configuration is
written before the clock starts; the clock runs from just before the
clone of the stage until the driver has received the report of the last
service. Contenders:

* *vinit (simple)*: ` + "`vinit --config DIR --control DIR/ctl.sock --reboot-socket none`" + `,
  DIR/services/NAME.toml = ` + "`command = [HELPER, NAME]`" + ` (a simple service: ready
  when started);
* *vinit (notify)*: the same with ` + "`type = \"notify\"`" + `: the helper sends
  READY=1 to its $NOTIFY_SOCKET before it reports;
* *s6-svscan*: ` + "`s6-svscan SCANDIR`" + ` with one service directory per service,
  ` + "`run`" + ` a symlink to the helper (no shell), ` + "`notification-fd`" + ` = 3: the helper
  writes its readiness newline before it reports;
* *runsvdir*: ` + "`runsvdir SCANDIR`" + ` with the same service directories (runit has
  no readiness protocol: ready = started);
* *no supervisor (floor)*: ` + "`svc -spawn 200`" + `, the helper itself as PID 1,
  fork-execs the 200 services one after the other and only reaps: the cost
  of starting 200 Go programs on this machine, which every other row
  includes (start time only).

For vinit the driver also listens on vinit's own $NOTIFY_SOCKET: vinit sends
READY=1 when every service is ready (the second table). After all reports
the driver polls until every process of the tree sleeps, then reads the
supervisor's memory: VmRSS and Pss summed over the supervisor's own
processes — vinit alone; s6-svscan plus its 200 s6-supervise; runsvdir plus
its 200 runsv — leaving out the services. Then it sends the orderly stop
signal and times until the supervisor has been reaped and its PID
namespace is gone (which includes every service's death: the kernel
empties a PID namespace before its init can be reaped). SIGTERM to vinit
(halt: every service stopped, then reboot(2)); SIGTERM to s6-svscan (the
same as ` + "`s6-svscanctl -t`" + `: SIGTERM to every s6-supervise, which brings its
service down and exits; s6-svscan waits only for loggers, of which there
are none, and exits); SIGHUP to runsvdir (SIGTERM would make it exit at
once without touching its runsv processes; SIGHUP first sends every runsv
a SIGTERM, which stops its service and exits, then runsvdir exits without
waiting for them). So vinit waits for its services itself, s6-svscan and
runsvdir leave whatever is left to the kernel's SIGKILL of the namespace.
The services die of SIGTERM at once. The last table splits vinit's figure:
the time vinit itself logs as "shutdown done in" (halt signal to the end
of its shutdown); the rest is reboot(2) and the kernel tearing down the
namespace.
`

func servicesSection(e *Env) (*Result, error) {
	res := &Result{Method: servicesMethod}
	sups := supervisors(e)
	svcs := make([]benchService, serviceCount)
	for i := range svcs {
		svcs[i] = benchService{Name: fmt.Sprintf("s%03d", i)}
	}
	sets, err := interleaveN(e, "200 services", sups, Plan{Rounds: e.Runs, Warmup: WarmupRound}, 7, func(sup Init) ([]float64, error) {
		r, err := startSupervisor(e, sup, svcs)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		start, _, err := r.waitReports(e, serviceCount, 60*time.Second)
		if err != nil {
			return nil, err
		}
		if sup.Name == floorSupervisor.Name {
			return []float64{start.Seconds(), nan(), nan(), nan(), nan(), nan(), nan()}, nil
		}
		ready := nan()
		if r.notify != nil {
			rep, err := r.notify.next(time.Now().Add(30*time.Second), r.p.done, e.Ctx.Done())
			if err != nil {
				return nil, fmt.Errorf("vinit's READY=1: %w%s", err, r.p.stderrTail())
			}
			if !strings.Contains(rep.text, "READY=1") {
				return nil, fmt.Errorf("vinit sent %q to $NOTIFY_SOCKET first, want READY=1", rep.text)
			}
			ready = rep.at.Sub(r.t0).Seconds()
		}
		if err := settle(r.p.Pid, 30*time.Second); err != nil {
			return nil, err
		}
		rss, pss, procs, err := supervisorMemory(r.p.Pid, r.helper)
		if err != nil {
			return nil, err
		}
		if n := len(tree(r.p.Pid)) - int(procs); n != serviceCount {
			return nil, fmt.Errorf("%d services run, want %d", n, serviceCount)
		}
		halt, err := r.halt(haltSignal(sup))
		if err != nil {
			return nil, err
		}
		own := nan()
		if r.notify != nil {
			d, err := r.p.shutdownDone()
			if err != nil {
				return nil, err
			}
			own = d.Seconds()
		}
		return []float64{start.Seconds(), ready, rss, pss, procs, halt.Seconds(), own}, nil
	})
	start := Table{Title: "200 services: exec → last service reported", Unit: Seconds, Baseline: "vinit (simple)", Paired: true, Rows: sets[0]}
	ready := Table{Title: "200 services: exec → vinit's own READY=1", Unit: Seconds, Baseline: "vinit (simple)", Paired: true, Rows: sets[1][:2]}
	rss := Table{Title: "200 services: VmRSS of the supervisor's own processes", Unit: Bytes, Baseline: "vinit (simple)", Paired: true, Rows: sets[2][:4]}
	pss := Table{Title: "200 services: Pss of the supervisor's own processes", Unit: Bytes, Baseline: "vinit (simple)", Paired: true, Rows: sets[3][:4]}
	procs := Table{Title: "200 services: the supervisor's own processes", Unit: Count, Unitname: "processes", Rows: sets[4][:4]}
	halt := Table{Title: "200 services: stop signal → supervisor reaped, namespace gone", Unit: Seconds, Baseline: "vinit (simple)", Paired: true, Rows: sets[5][:4]}
	own := Table{Title: "200 services: vinit's own \"shutdown done in\" (from the halt signal to the end of its shutdown, before reboot(2))", Unit: Seconds, Baseline: "vinit (simple)", Paired: true, Rows: sets[6][:2]}
	overFloor := minusRow(start, floorSupervisor.Name, "200 services: exec → last reported, minus *no supervisor (floor)* of the same round")
	res.Tables = append(res.Tables, start, overFloor, ready, rss, pss, procs, halt, own)
	if f, v := start.Median(floorSupervisor.Name), start.Median("vinit (simple)"); !math.IsNaN(f) && !math.IsNaN(v) {
		n := fmt.Sprintf("On the start target: with no supervisor at all, starting the 200 helpers took a median %s here (the floor row), against %s under vinit (simple); vinit's own share is the second table (median %s).",
			formatSeconds(f), formatSeconds(v), formatSeconds(overFloor.Median("vinit (simple)")))
		if f >= 0.75*0.2 {
			n += " Most of the 200 ms target thus goes to starting 200 Go programs on these CPUs, whoever starts them."
		}
		res.Notes = append(res.Notes, n)
	}
	if r, n := rss.Median("vinit (notify)"), rss.Median("vinit (simple)"); !math.IsNaN(r) && !math.IsNaN(n) && r-n > 512<<10 {
		res.Notes = append(res.Notes, fmt.Sprintf("On memory: vinit with 200 notify services holds %s more than with 200 simple ones; every notify service keeps its own NOTIFY_SOCKET and a goroutine reading it (with a 4 KiB buffer) for its whole life (internal/services/notify_linux.go), which is likely that difference.", formatBytes(r-n)))
	}
	res.Checks = append(res.Checks,
		BelowCheck(&start, "200 services ready", "vinit (simple)", 0.2),
		RatioCheck(&start, "200 services ready", "vinit (simple)", "s6-svscan", 1.0),
		RatioCheck(&start, "200 services ready", "vinit (simple)", "runsvdir", 1.0),
		BelowCheck(&halt, "halt with 200 services", "vinit (simple)", 0.1),
		BelowCheck(&rss, "vinit RSS with 200 services", "vinit (simple)", 8<<20),
		BelowCheck(&rss, "vinit RSS with 200 services", "vinit (notify)", 8<<20),
	)
	if err != nil {
		return res, err
	}

	// The chain: vinit only (s6-svscan and runsvdir have no dependencies).
	chain := make([]benchService, chainLength)
	for i := range chain {
		chain[i] = benchService{Name: fmt.Sprintf("c%02d", i)}
		if i > 0 {
			chain[i].After = chain[i-1].Name
		}
	}
	chainSets, err := interleaveN(e, "chain of 50", sups[1:2], Plan{Rounds: e.Runs, Warmup: WarmupRound}, 3, func(sup Init) ([]float64, error) {
		r, err := startSupervisor(e, sup, chain)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		last, reps, err := r.waitReports(e, chainLength, 60*time.Second)
		if err != nil {
			return nil, err
		}
		if err := checkChain(chain, reps); err != nil {
			return nil, err
		}
		rep, err := r.notify.next(time.Now().Add(30*time.Second), r.p.done, e.Ctx.Done())
		if err != nil {
			return nil, fmt.Errorf("vinit's READY=1: %w", err)
		}
		halt, err := r.halt(syscall.SIGTERM)
		if err != nil {
			return nil, err
		}
		return []float64{last.Seconds(), rep.at.Sub(r.t0).Seconds(), halt.Seconds()}, nil
	})
	res.Tables = append(res.Tables,
		Table{Title: "chain of 50 notify services (each `after` the previous): exec → last reported", Unit: Seconds, Rows: chainSets[0]},
		Table{Title: "chain of 50 notify services: exec → vinit's own READY=1", Unit: Seconds, Rows: chainSets[1]},
		Table{Title: "chain of 50 notify services: SIGTERM → vinit reaped (stops in reverse order, one after the other)", Unit: Seconds, Rows: chainSets[2]},
	)
	if h := median(chainSets[2][0].Samples); !math.IsNaN(h) && h/chainLength >= 0.015 {
		res.Notes = append(res.Notes, fmt.Sprintf("On the halt target: the chain's halt stops its %d services one after the other in %s, %s per service. After a service's main process has died, vinit looks for leftover processes of the service in a /proc scan it shares for up to 10 ms and, while it finds any, looks again 20 ms later (finishStop in internal/services/unit.go); a scan that still shows the process just reaped costs one such 20 ms wait per stop, which matches. The 200 parallel stops are bounded by the same waits plus the work of 200 stops in one loop; vinit's own \"shutdown done in\" is nearly all of its halt figure.",
			chainLength, formatSeconds(h), formatSeconds(h/chainLength)))
	}
	res.Notes = append(res.Notes, "The chain runs under vinit alone: s6-svscan and runsvdir have no dependencies between services (s6-rc adds them to s6; runit has none), so there is nothing native to compare with. The driver checks from the helpers' CLOCK_MONOTONIC stamps that every service of the chain began only after the previous one was about to send READY=1 (the reports themselves may arrive out of order: a service can be preempted between its READY=1 and its report).")
	if err != nil {
		return res, err
	}

	// Crash-restart: one service that exits at once.
	crashSups := []Init{sups[0], sups[2], sups[3]}
	crashRows, err := interleave(e, "crash-restart", crashSups, Plan{Rounds: e.Runs, Warmup: NoWarmup}, func(sup Init) (float64, error) {
		r, err := startSupervisor(e, sup, []benchService{{Name: "crash", Crash: true}})
		if err != nil {
			return 0, err
		}
		defer r.Close()
		_, reps, err := r.waitReportsN(e, 2, 30*time.Second)
		if err != nil {
			return 0, err
		}
		if _, err := r.halt(haltSignal(sup)); err != nil {
			return 0, err
		}
		return float64(reps[1].ns-reps[0].ns) / 1e9, nil
	})
	crash := Table{Title: "crash-restart: first start → second start of a service that exits at once", Unit: Seconds, Baseline: "vinit (simple)", Paired: true, Rows: crashRows}
	res.Tables = append(res.Tables, crash)
	res.Notes = append(res.Notes, "Crash-restart: the service exits with status 1 right after reporting; vinit has `restart = \"always\"` and `restart_delay = \"0\"`; s6-supervise and runsv restart it by their fixed policy, which waits until one second has passed since the previous start (a policy difference, reported as is). The interval is between the two reports' CLOCK_MONOTONIC stamps taken by the helper.")
	return res, err
}

// checkChain checks that each service began after the one it is after was
// about to signal readiness (the helper's stamp just before READY=1; a
// stamp taken after it could be later than the next service's start, as
// the sender may be preempted right after its send).
func checkChain(chain []benchService, reps []report) error {
	by := map[string]report{}
	for _, r := range reps {
		by[r.name] = r
	}
	for _, s := range chain {
		if s.After == "" {
			continue
		}
		me, prev := by[s.Name], by[s.After]
		if me.ns < 0 || prev.readyNS < 0 || me.ns <= prev.readyNS {
			return fmt.Errorf("service %s began at %d, before %s signalled readiness at %d: the chain was not kept", s.Name, me.ns, s.After, prev.readyNS)
		}
	}
	return nil
}

// waitReportsN waits for n reports, from the same service or not.
func (r *supervisorRun) waitReportsN(e *Env, n int, timeout time.Duration) (time.Duration, []report, error) {
	var got []report
	deadline := time.Now().Add(timeout)
	for len(got) < n {
		rep, err := r.reports.next(deadline, r.p.done, e.Ctx.Done())
		if err != nil {
			return 0, got, fmt.Errorf("%d of %d reports: %w%s", len(got), n, err, r.p.stderrTail())
		}
		got = append(got, rep)
	}
	return got[n-1].at.Sub(r.t0), got, nil
}

// report is one datagram received: its text; for a helper's report
// ("NAME START_NS READYING_NS") the name and the helper's CLOCK_MONOTONIC
// stamps when it began and just before it signalled readiness (-1 for
// other datagrams); and when the driver got it.
type report struct {
	text    string
	name    string
	ns      int64 // started
	readyNS int64 // about to signal readiness
	at      time.Time
}

func parseReport(b []byte, at time.Time) report {
	r := report{text: string(b), name: string(b), at: at, ns: -1, readyNS: -1}
	f := strings.Fields(r.text)
	if len(f) == 3 {
		s, err1 := strconv.ParseInt(f[1], 10, 64)
		d, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 == nil && err2 == nil {
			r.name, r.ns, r.readyNS = f[0], s, d
		}
	}
	return r
}
