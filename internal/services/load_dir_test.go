package services

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestLoadDirMissingIsEmpty(t *testing.T) {
	cfg := LoadDir(filepath.Join(t.TempDir(), "nope"), testLookup)
	if len(cfg.Errors) != 0 || len(cfg.Services) != 0 || len(cfg.Failed) != 0 || !reflect.DeepEqual(cfg.Global, DefaultGlobal()) {
		t.Errorf("missing dir: %+v", cfg)
	}
}

func TestLoadDirBadFileDoesNotStopOthers(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"vinit.toml":               "log_keep = 9\nlog_max_size = 100\n",
		"services/good.toml":       "command = \"/bin/good\"\n",
		"services/own.toml":        "command = \"/bin/own\"\nlog_keep = 1\n",
		"services/bad.toml":        "command = \"/bin/bad\"\nrestrat = \"always\"\n",
		"services/broken.toml":     "command = \n",
		"services/web.toml":        "command = \"/bin/web\"\nafter = [\"good\"]\nrequires = [\n  \"good\",\n  \"bad\",\n]\n",
		"services/front.toml":      "command = \"/bin/front\"\nrequires = [\"web\"]\n",
		"services/README":          "not a service",
		"services/.hidden.toml":    "garbage = = =",
		"services/x.toml.dpkg-old": "garbage = = =",
	})
	if err := os.Mkdir(filepath.Join(dir, "services", "sub.toml"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := LoadDir(dir, testLookup)
	wantErrs := []string{
		`services/bad.toml:2:1: unknown key "restrat", did you mean "restart"?`,
		`services/broken.toml:1:11: expected value but found '\n' instead`,
		`services/front.toml:2:13: requires: service "web" cannot run`,
		`services/web.toml:5:3: requires: service "bad" cannot run`,
	}
	if got := errStrings(dir, cfg.Errors); !reflect.DeepEqual(got, wantErrs) {
		t.Errorf("errors:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(wantErrs, "\n     "))
	}
	if got := mapKeys(cfg.Services); !reflect.DeepEqual(got, []string{"good", "own"}) {
		t.Errorf("services = %v", got)
	}
	if got := mapKeys(cfg.Failed); !reflect.DeepEqual(got, []string{"bad", "broken", "front", "web"}) {
		t.Errorf("failed = %v", got)
	}
	if !strings.Contains(cfg.Failed["web"].Error(), `requires: service "bad" cannot run`) {
		t.Errorf("failed[web] = %v", cfg.Failed["web"])
	}
	if s := cfg.Services["good"]; s.LogKeep != 9 || s.LogMaxSize != 100 {
		t.Errorf("vinit.toml log defaults not applied: keep %d size %d", s.LogKeep, s.LogMaxSize)
	}
	if s := cfg.Services["own"]; s.LogKeep != 1 || s.LogMaxSize != 100 {
		t.Errorf("explicit log_keep overridden: keep %d size %d", s.LogKeep, s.LogMaxSize)
	}
	var pe *PosError
	if !errors.As(cfg.Errors[0], &pe) || pe.Line != 2 || pe.Col != 1 || pe.File != filepath.Join(dir, "services/bad.toml") {
		t.Errorf("errors are *PosError with fields: %#v", cfg.Errors[0])
	}
}

func TestLoadDirDependencies(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"services/a.toml":   "command = \"x\"\nafter = [\"ghost\"]\n",
		"services/b.toml":   "command = \"x\"\nrequires = [\"phantom\"]\n",
		"services/c.toml":   "command = \"x\"\nrequires = [\"off\"]\n",
		"services/off.toml": "command = \"x\"\nenabled = false\n",
		"services/d.toml":   "command = \"x\"\nafter = [\"a\", \"off\"]\n",
	})
	cfg := LoadDir(dir, testLookup)
	wantErrs := []string{
		`services/a.toml:2:10: after: unknown service "ghost"`,
		`services/b.toml:2:13: requires: unknown service "phantom"`,
		`services/c.toml:2:13: requires: service "off" is disabled (enabled = false)`,
	}
	if got := errStrings(dir, cfg.Errors); !reflect.DeepEqual(got, wantErrs) {
		t.Errorf("errors:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(wantErrs, "\n     "))
	}
	if got := mapKeys(cfg.Services); !reflect.DeepEqual(got, []string{"a", "d", "off"}) {
		t.Errorf("services = %v (an unknown after only orders; it must not fail a)", got)
	}
	if got := cfg.Services["a"].After; len(got) != 0 {
		t.Errorf("unknown after kept: %v", got)
	}
	levels, err := StartOrder(cfg.Services)
	if err != nil || !reflect.DeepEqual(levels, [][]string{{"a", "off"}, {"d"}}) {
		t.Errorf("StartOrder = %v, %v", levels, err)
	}
}

func TestLoadDirCycles(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"services/a.toml":    "command = \"x\"\nafter = [\"b\"]\n",
		"services/b.toml":    "command = \"x\"\n\nrequires = [\"zz\", \"c\"]\n",
		"services/c.toml":    "command = \"x\"\nafter = [\n  \"zz\",\n  \"a\",\n]\n",
		"services/zz.toml":   "command = \"x\"\n",
		"services/dep.toml":  "command = \"x\"\nrequires = [\"c\"]\n",
		"services/loop.toml": "command = \"x\"\nafter = [\"pool\"]\n",
		"services/pool.toml": "command = \"x\"\nrequires = [\"loop\"]\n",
	})
	cfg := LoadDir(dir, testLookup)
	wantErrs := []string{
		`services/a.toml:2:10: after: dependency cycle: a -> b -> c -> a`,
		`services/dep.toml:2:13: requires: service "c" cannot run`,
		`services/loop.toml:2:10: after: dependency cycle: loop -> pool -> loop`,
	}
	if got := errStrings(dir, cfg.Errors); !reflect.DeepEqual(got, wantErrs) {
		t.Errorf("errors:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(wantErrs, "\n     "))
	}
	if got := mapKeys(cfg.Services); !reflect.DeepEqual(got, []string{"zz"}) {
		t.Errorf("services = %v", got)
	}
	for _, n := range []string{"a", "b", "c"} {
		if e := cfg.Failed[n]; e == nil || !strings.Contains(e.Error(), "a -> b -> c -> a") {
			t.Errorf("failed[%s] = %v, want the cycle", n, e)
		}
	}
	if _, err := StartOrder(cfg.Services); err != nil {
		t.Errorf("StartOrder of the runnable services: %v", err)
	}
}

func TestLoadDirCycleThroughRequires(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"services/a.toml": "command = \"x\"\nrequires = [\"b\"]\n",
		"services/b.toml": "command = \"x\"\nrequires = [\"a\"]\n",
	})
	cfg := LoadDir(dir, testLookup)
	want := []string{`services/a.toml:2:13: requires: dependency cycle: a -> b -> a`}
	if got := errStrings(dir, cfg.Errors); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestLoadDirMain(t *testing.T) {
	t.Run("one service", func(t *testing.T) {
		dir := writeDir(t, map[string]string{
			"services/app.toml": "command = \"x\"\nmain = true\n",
			"services/log.toml": "command = \"x\"\n",
		})
		cfg := LoadDir(dir, testLookup)
		if len(cfg.Errors) != 0 || cfg.Global.Main != "app" || !cfg.Services["app"].Main || cfg.Services["log"].Main {
			t.Errorf("main = %q, errors %v", cfg.Global.Main, cfg.Errors)
		}
	})
	t.Run("from vinit.toml", func(t *testing.T) {
		dir := writeDir(t, map[string]string{
			"vinit.toml":        "main = \"app\"\n",
			"services/app.toml": "command = \"x\"\n",
		})
		cfg := LoadDir(dir, testLookup)
		if len(cfg.Errors) != 0 || cfg.Global.Main != "app" || !cfg.Services["app"].Main {
			t.Errorf("main = %q, errors %v", cfg.Global.Main, cfg.Errors)
		}
	})
	t.Run("two services", func(t *testing.T) {
		dir := writeDir(t, map[string]string{
			"services/a.toml": "command = \"x\"\nmain = true\n",
			"services/b.toml": "command = \"x\"\n  main = true\n",
		})
		cfg := LoadDir(dir, testLookup)
		want := []string{`services/b.toml:2:3: main: "a" is already the main service`}
		if got := errStrings(dir, cfg.Errors); !reflect.DeepEqual(got, want) || cfg.Global.Main != "a" || cfg.Failed["b"] == nil {
			t.Errorf("got %v main %q, want %v", got, cfg.Global.Main, want)
		}
	})
	t.Run("conflicts with vinit.toml", func(t *testing.T) {
		dir := writeDir(t, map[string]string{
			"vinit.toml":      "main = \"a\"\n",
			"services/a.toml": "command = \"x\"\n",
			"services/b.toml": "command = \"x\"\nmain = true\n",
		})
		cfg := LoadDir(dir, testLookup)
		want := []string{`services/b.toml:2:1: main: conflicts with main = "a" in ` + dir + `/vinit.toml`}
		if got := errStrings(dir, cfg.Errors); !reflect.DeepEqual(got, want) || cfg.Global.Main != "a" || !cfg.Services["a"].Main {
			t.Errorf("got %v main %q, want %v", got, cfg.Global.Main, want)
		}
	})
	t.Run("unknown in vinit.toml", func(t *testing.T) {
		dir := writeDir(t, map[string]string{
			"vinit.toml":      "# container mode\nmain = \"nginx\"\n",
			"services/a.toml": "command = \"x\"\n",
		})
		cfg := LoadDir(dir, testLookup)
		want := []string{`vinit.toml:2:8: main: unknown service "nginx"`}
		if got := errStrings(dir, cfg.Errors); !reflect.DeepEqual(got, want) || cfg.Global.Main != "" {
			t.Errorf("got %v main %q, want %v", got, cfg.Global.Main, want)
		}
	})
}

func TestLoadDirUnreadableFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any file regardless of mode")
	}
	dir := writeDir(t, map[string]string{"services/a.toml": "command = \"x\"\n"})
	if err := os.Chmod(filepath.Join(dir, "services/a.toml"), 0); err != nil {
		t.Fatal(err)
	}
	cfg := LoadDir(dir, testLookup)
	if cfg.Failed["a"] == nil || len(cfg.Errors) != 1 {
		t.Errorf("unreadable file: %+v", cfg)
	}
}

// TestExamples loads every file shipped in etc/vinit: all must be valid,
// and the values the docs describe must come out as documented.
func TestExamples(t *testing.T) {
	root := t.TempDir() // a guest root with the accounts the examples use
	writeTestFile(t, filepath.Join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n"+
		"postgres:x:104:110:PostgreSQL administrator:/var/lib/postgresql:/bin/bash\n"+
		"app:x:1000:1000::/srv/app:/usr/sbin/nologin\n")
	writeTestFile(t, filepath.Join(root, "etc/group"), "root:x:0:\nadm:x:4:app\npostgres:x:110:\nssl-cert:x:111:postgres\napp:x:1000:\n")

	dir := filepath.Join("..", "..", "etc", "vinit")
	cfg := LoadDir(dir, SystemLookup(root))
	for _, e := range cfg.Errors {
		t.Errorf("example: %v", e)
	}
	files, err := filepath.Glob(filepath.Join(dir, "services", "*.toml"))
	if err != nil || len(files) < 5 {
		t.Fatalf("want at least 5 example services, found %v (%v)", files, err)
	}
	if len(cfg.Services) != len(files) || len(cfg.Failed) != 0 {
		t.Fatalf("loaded %v, failed %v", mapKeys(cfg.Services), cfg.Failed)
	}

	g := cfg.Global
	if g.ShutdownTimeout != 20*time.Second || g.LogMaxSize != 4<<20 || g.RebootSocket != "/dev/reboot" || g.PrestartFailure != "halt" {
		t.Errorf("vinit.toml: %+v", g)
	}

	web := cfg.Services["web"]
	if web.Ready.Kind != ReadyTCP || web.Ready.Addr != "127.0.0.1:8080" || web.Ready.Interval != 100*time.Millisecond {
		t.Errorf("web ready: %+v", web.Ready)
	}
	wantListen := []Listen{{"tcp", "0.0.0.0:8080", "http"}, {"tcp6", "[::]:8080", "http6"}}
	if !reflect.DeepEqual(web.Listen, wantListen) {
		t.Errorf("web listen: %+v", web.Listen)
	}
	if web.UID != 1000 || web.GID != 1000 || !reflect.DeepEqual(web.Groups, []int{1000, 4}) || web.Umask != 0o27 || !web.UmaskSet {
		t.Errorf("web credentials: uid %d gid %d groups %v umask %o", web.UID, web.GID, web.Groups, web.Umask)
	}
	if web.Stdout.Kind != OutputConsole || web.Stderr != (Output{OutputFile, "/var/log/app/web.err"}) || web.LogMaxSize != 4<<20 {
		t.Errorf("web output: %+v %+v %d", web.Stdout, web.Stderr, web.LogMaxSize)
	}
	if !reflect.DeepEqual(web.After, []string{"db", "migrate"}) || web.Restart != RestartAlways || web.Watchdog != 30*time.Second {
		t.Errorf("web: after %v restart %s watchdog %v", web.After, web.Restart, web.Watchdog)
	}

	sshd := cfg.Services["sshd"]
	if sshd.Type != TypeNotify || sshd.Ready.Kind != ReadyNotify || sshd.ReloadSignal != syscall.SIGHUP || !reflect.DeepEqual(sshd.Argv(), []string{"/usr/sbin/sshd", "-D"}) {
		t.Errorf("sshd: %+v", sshd)
	}

	db := cfg.Services["db"]
	if db.Type != TypeForking || db.PIDFile != "/run/postgresql/15-main.pid" || db.UID != 104 || db.GID != 110 ||
		db.Home != "/var/lib/postgresql" || !reflect.DeepEqual(db.Groups, []int{111}) || db.StopSignal != syscall.SIGINT {
		t.Errorf("db: %+v", db)
	}
	if db.LogMaxSize != 10<<20 || db.LogKeep != 5 || db.Stderr != db.Stdout {
		t.Errorf("db logs: %d %d %+v", db.LogMaxSize, db.LogKeep, db.Stderr)
	}

	migrate := cfg.Services["migrate"]
	if migrate.Type != TypeOneshot || migrate.Ready.Timeout != 5*time.Minute || migrate.Restart != RestartNever ||
		!reflect.DeepEqual(migrate.EnvFiles, []EnvFile{{"/etc/default/app", false}, {"/etc/default/app.local", true}}) ||
		migrate.Argv()[2] != "postgres:///app?host=/run/postgresql" {
		t.Errorf("migrate: %+v", migrate)
	}

	cron := cfg.Services["cron"]
	if cron.StopSignal != syscall.SIGTERM || !reflect.DeepEqual(cron.SuccessExit, []int{0, 143}) || cron.Stdout.Kind != OutputNull || cron.Stderr.Kind != OutputConsole {
		t.Errorf("cron: %+v", cron)
	}

	levels, err := StartOrder(cfg.Services)
	want := [][]string{{"cron", "db", "sshd"}, {"migrate"}, {"web"}}
	if err != nil || !reflect.DeepEqual(levels, want) {
		t.Errorf("StartOrder = %v, %v; want %v", levels, err, want)
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDocsCoverEveryKey keeps docs/services.md and docs/vinit.toml.md in step
// with the keys the loader accepts.
func TestDocsCoverEveryKey(t *testing.T) {
	check := func(doc string, keys ...[]string) {
		data, err := os.ReadFile(filepath.Join("..", "..", "docs", doc))
		if err != nil {
			t.Fatal(err)
		}
		for _, list := range keys {
			for _, k := range list {
				if !strings.Contains(string(data), "`"+k+"`") && !strings.Contains(string(data), "`"+k+" ") {
					t.Errorf("docs/%s does not document %q", doc, k)
				}
			}
		}
	}
	var rl []string
	for n := range rlimitNames {
		rl = append(rl, n)
	}
	sortStrings(rl)
	check("services.md", serviceKeys, readyKeys, startLimitKeys)
	data, _ := os.ReadFile(filepath.Join("..", "..", "docs", "services.md"))
	for _, n := range rl {
		if !strings.Contains(string(data), " "+n+" ") && !strings.Contains(string(data), "`"+n+" ") && !strings.Contains(string(data), " "+n+"`") {
			t.Errorf("docs/services.md does not list rlimit %q", n)
		}
	}
	check("vinit.toml.md", globalKeys)
}
