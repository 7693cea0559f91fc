package monitor

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/vserver-go/vserver/internal/guest"
)

// byPriority groups guests by priority, lowest first; names sort within a
// group.
func byPriority(cfgs []*guest.Config) [][]*guest.Config {
	sort.SliceStable(cfgs, func(i, j int) bool {
		if cfgs[i].Priority != cfgs[j].Priority {
			return cfgs[i].Priority < cfgs[j].Priority
		}
		return cfgs[i].Name < cfgs[j].Name
	})
	var groups [][]*guest.Config
	for i, c := range cfgs {
		if i == 0 || c.Priority != cfgs[i-1].Priority {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], c)
	}
	return groups
}

// parallel runs fn over cfgs, at most j at a time, and joins the errors.
func parallel(cfgs []*guest.Config, j int, fn func(*guest.Config) error) error {
	if j < 1 {
		j = 1
	}
	sem := make(chan struct{}, j)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, c := range cfgs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(c); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// loadAll loads every configured guest; invalid files are errors.
func loadAll(d Dirs) ([]*guest.Config, error) {
	names, err := guest.Names(d.Config)
	if err != nil {
		return nil, err
	}
	var cfgs []*guest.Config
	var errs []error
	for _, n := range names {
		c, err := guest.Load(d.Config, n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cfgs = append(cfgs, c)
	}
	return cfgs, errors.Join(errs...)
}

// StartAll starts the onboot guests that are not running, by priority
// (lower first; a priority group starts when the previous one is ready),
// equal priorities in parallel, at most j at once. out gets one line per
// guest.
func StartAll(d Dirs, j int, opt StartOptions, out io.Writer) error {
	cfgs, loadErr := loadAll(d)
	var onboot []*guest.Config
	for _, c := range cfgs {
		if c.OnBoot {
			onboot = append(onboot, c)
		}
	}
	var mu sync.Mutex
	say := func(f string, a ...any) { mu.Lock(); fmt.Fprintf(out, f+"\n", a...); mu.Unlock() }
	errs := []error{loadErr}
	for _, group := range byPriority(onboot) {
		errs = append(errs, parallel(group, j, func(c *guest.Config) error {
			if Running(d, c.Name) {
				say("%s: already running", c.Name)
				return nil
			}
			if err := Start(c, d, opt); err != nil {
				say("%s: failed", c.Name)
				return err
			}
			say("%s: started", c.Name)
			return nil
		}))
	}
	return errors.Join(errs...)
}

// StopAll stops every running guest: priority groups in reverse order,
// each group in parallel (at most j at once), all under one deadline (the
// longest stop timeout plus a margin, or timeout if set).
func StopAll(d Dirs, j int, timeout time.Duration, out io.Writer) error {
	infos, err := List(d)
	if err != nil {
		return err
	}
	var running []*guest.Config
	longest := guest.DefaultStopTimeout
	for _, i := range infos {
		if !i.Running {
			continue
		}
		c := i.Config
		if c == nil {
			c = guest.Default(i.Name)
		}
		running = append(running, c)
		if c.Stop.Timeout > longest {
			longest = c.Stop.Timeout
		}
	}
	if timeout <= 0 {
		timeout = longest + 2*guest.DefaultHookTimeout + 10*time.Second
	}
	deadline := time.Now().Add(timeout)
	groups := byPriority(running)
	var mu sync.Mutex
	say := func(f string, a ...any) { mu.Lock(); fmt.Fprintf(out, f+"\n", a...); mu.Unlock() }
	var errs []error
	for g := len(groups) - 1; g >= 0; g-- {
		errs = append(errs, parallel(groups[g], j, func(c *guest.Config) error {
			left := time.Until(deadline)
			if left <= 0 {
				say("%s: not stopped (deadline passed)", c.Name)
				return fmt.Errorf("stop %s: the stop-all deadline passed", c.Name)
			}
			if err := Stop(d, c.Name, left); err != nil && !errors.Is(err, ErrNotRunning) {
				say("%s: failed", c.Name)
				return err
			}
			say("%s: stopped", c.Name)
			return nil
		}))
	}
	return errors.Join(errs...)
}
