package conformance

import (
	"fmt"
	"strconv"
	"syscall"
)

// signalMode says where the init should forward signals.
type signalMode int

const (
	modeDefault signalMode = iota // whatever the init does without flags
	modeChild                     // to the child process only
	modeGroup                     // to the child's whole process group
)

// options are the features a scenario asks of the init; the adapter spells
// them for its kind or says why it cannot.
type options struct {
	mode    signalMode
	rewrite [][2]int // forwarded signal FROM becomes TO
	remap   [][2]int // child exit code CODE becomes NEW
	notPID1 bool     // the init runs as a plain child, not PID 1
}

// adapter knows one init's command line and its documented behaviour.
type adapter struct {
	kind string
	// groupDefault: without flags the init signals the child's whole group.
	groupDefault bool
	// cleansUp: after the child exits the init terminates what is left of
	// the child's processes (vinit's --grace) before it exits.
	cleansUp bool
	// notForwarded are signals the init documents it does not forward, with
	// the reason; B1 does not send them.
	notForwarded map[syscall.Signal]string
	argv         func(o options) ([]string, error)
}

var adapters = map[string]*adapter{
	"vinit": {
		kind:     "vinit",
		cleansUp: true,
		notForwarded: map[syscall.Signal]string{
			// DESIGN §3.3: a Go PID 1 cannot tell a sent SIGURG from the
			// runtime's own preemption signals.
			syscall.SIGURG: "SIGURG is the Go runtime's (DESIGN.md §3.3)",
		},
		argv: func(o options) ([]string, error) {
			var a []string
			if o.mode == modeGroup {
				a = append(a, "-g")
			}
			for _, r := range o.rewrite {
				a = append(a, "--rewrite", pair(r))
			}
			for _, r := range o.remap {
				a = append(a, "--remap", pair(r))
			}
			return append(a, "--"), nil
		},
	},
	"tini": {
		kind: "tini",
		argv: func(o options) ([]string, error) {
			var a []string
			if o.notPID1 {
				a = append(a, "-s") // tini only reaps as a subreaper when told
			}
			if o.mode == modeGroup {
				a = append(a, "-g")
			}
			if len(o.rewrite) > 0 {
				return nil, fmt.Errorf("tini cannot rewrite signals")
			}
			for _, r := range o.remap {
				if r[1] != 0 {
					return nil, fmt.Errorf("tini -e can only remap an exit code to 0, not %d to %d", r[0], r[1])
				}
				a = append(a, "-e", strconv.Itoa(r[0]))
			}
			return append(a, "--"), nil
		},
	},
	"dumb-init": {
		kind:         "dumb-init",
		groupDefault: true,
		argv: func(o options) ([]string, error) {
			var a []string
			if o.mode == modeChild {
				a = append(a, "--single-child")
			}
			for _, r := range o.rewrite {
				a = append(a, "-r", pair(r))
			}
			if len(o.remap) > 0 {
				return nil, fmt.Errorf("dumb-init cannot remap exit codes")
			}
			return append(a, "--"), nil
		},
	},
	"catatonit": {
		kind: "catatonit",
		argv: func(o options) ([]string, error) {
			var a []string
			if o.mode == modeGroup {
				a = append(a, "-g")
			}
			if len(o.rewrite) > 0 {
				return nil, fmt.Errorf("catatonit cannot rewrite signals")
			}
			if len(o.remap) > 0 {
				return nil, fmt.Errorf("catatonit cannot remap exit codes")
			}
			return append(a, "--"), nil
		},
	},
}

func pair(p [2]int) string { return fmt.Sprintf("%d:%d", p[0], p[1]) }
