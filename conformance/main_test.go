package conformance

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Set up by TestMain for every test.
var (
	initBin   string // absolute path of the init under test
	initKind  *adapter
	helperDir string // the built helper programs
	skipWhy   string // why the suite cannot run here ("" = it can)
	setupErr  error  // the suite should run but could not be set up
)

func TestMain(m *testing.M) {
	if stage := os.Getenv(stageEnv); stage != "" {
		runStage(stage) // inside the new namespaces; never returns
	}
	os.Exit(setupAndRun(m))
}

func setupAndRun(m *testing.M) int {
	flag.Parse()
	if f := flag.Lookup("test.list"); f != nil && f.Value.String() != "" {
		return m.Run() // listing tests needs no helpers and no init
	}
	tmp, err := os.MkdirTemp("", "conformance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	// Helpers and inits are run inside the namespaces by path.
	os.Chmod(tmp, 0o755)
	setupErr = setup(tmp)
	if setupErr == nil && skipWhy == "" {
		fmt.Fprintf(os.Stderr, "conformance: init %s (%s)\n", initBin, initKind.kind)
	}
	return m.Run()
}

func setup(tmp string) error {
	if os.Geteuid() != 0 {
		skipWhy = "not root: the suite needs CLONE_NEWPID and mounts"
		return nil
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("the helpers are built with go: %w", err)
	}
	helperDir = filepath.Join(tmp, "helpers")
	if err := goBuild(gobin, helperDir+"/", "./helpers/..."); err != nil {
		return err
	}
	initBin = os.Getenv("INIT_BIN")
	if initBin == "" {
		initBin = os.Getenv("VINIT_BIN")
	}
	if initBin == "" {
		initBin = filepath.Join(tmp, "vinit")
		if err := goBuild(gobin, initBin, "../cmd/vinit"); err != nil {
			return err
		}
	}
	if p, err := exec.LookPath(initBin); err == nil {
		initBin = p
	}
	if initBin, err = filepath.Abs(initBin); err != nil {
		return err
	}
	if _, err := os.Stat(initBin); err != nil {
		return fmt.Errorf("init under test: %w", err)
	}
	kind := os.Getenv("INIT_KIND")
	if kind == "" {
		kind = kindFromName(filepath.Base(initBin))
	}
	a, ok := adapters[kind]
	if !ok {
		return fmt.Errorf("INIT_KIND %q: want one of vinit, tini, dumb-init, catatonit", kind)
	}
	initKind = a
	return nil
}

func goBuild(gobin, out, pkg string) error {
	cmd := exec.Command(gobin, "build", "-trimpath", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

func kindFromName(base string) string {
	for _, k := range []string{"dumb-init", "catatonit", "tini", "vinit"} {
		if strings.Contains(base, k) {
			return k
		}
	}
	return base
}

// need skips the test when the suite cannot run here and fails it when the
// suite could not be set up.
func need(t *testing.T) {
	t.Helper()
	if skipWhy != "" {
		t.Skip(skipWhy)
	}
	if setupErr != nil {
		t.Fatalf("conformance setup: %v", setupErr)
	}
}

// helper returns the path of a built helper program.
func helper(name string) string { return filepath.Join(helperDir, name) }
