package main

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Init is one init under test and how it is told to run a command.
type Init struct {
	Name    string
	Path    string // "" = not installed
	Missing string // why Path is empty
	dashes  bool   // takes "--" before the command
}

// Argv is the init's command line for running cmd as its main process.
// The "no init" contender runs cmd itself.
func (in Init) Argv(cmd ...string) []string {
	if in.Path == "" {
		return cmd
	}
	argv := []string{in.Path}
	if in.dashes {
		argv = append(argv, "--")
	}
	return append(argv, cmd...)
}

// Available reports whether the init can run.
func (in Init) Available() bool { return in.Path != "" }

// noInit is the contender without an init: the stage executes the command
// itself as PID 1. It shows the fixed cost of the namespace and the stage.
var noInit = Init{Name: "no init", Path: ""}

// knownInits are the inits the driver knows how to call, in the order of
// every interleaved round. vinit comes from $VINIT_BIN (make bench sets it)
// or ./bin/vinit; the peers from PATH (Debian's packages).
func knownInits(names []string) ([]Init, error) {
	var out []Init
	for _, name := range names {
		in := Init{Name: name, dashes: true}
		var err error
		switch name {
		case "vinit":
			p := os.Getenv("VINIT_BIN")
			if p == "" {
				p = "bin/vinit"
			}
			in.Path, err = filepath.Abs(p)
			if err == nil {
				_, err = os.Stat(in.Path)
			}
			if err != nil {
				err = fmt.Errorf("%s (run make build, or set VINIT_BIN)", err)
			}
		case "tini", "catatonit":
			in.Path, err = exec.LookPath(name)
		case "dumb-init":
			in.dashes = false // dumb-init CMD: "--" would be taken as the command
			in.Path, err = exec.LookPath(name)
		default:
			return nil, fmt.Errorf("unknown init %q (known: vinit, tini, dumb-init, catatonit)", name)
		}
		if err != nil {
			in.Path, in.Missing = "", "not available: "+err.Error()
		}
		out = append(out, in)
	}
	return out, nil
}

// binaryInfo describes an executable for the report: "static" or "dynamic
// (+ libc …)".
func binaryInfo(path string) string {
	f, err := elf.Open(path)
	if err != nil {
		return "not ELF"
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			libs, _ := f.ImportedLibraries()
			return "dynamic, needs " + strings.Join(libs, " ")
		}
	}
	return "static"
}
