package pid1

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vserver-go/vserver/internal/control"
)

// fakeAccounts is a services.MemberLookup over a fixed table.
type fakeAccounts map[string]struct {
	uid, gid int
	home     string
	groups   []int
}

func (f fakeAccounts) User(name string) (int, int, string, error) {
	a, ok := f[name]
	if !ok {
		return 0, 0, "", errors.New("unknown user \"" + name + "\"")
	}
	return a.uid, a.gid, a.home, nil
}

func (f fakeAccounts) Group(string) (int, error) { return 0, errors.New("no groups") }

func (f fakeAccounts) Memberships(name string) ([]int, error) { return f[name].groups, nil }

func TestExecCommand(t *testing.T) {
	root := t.TempDir()
	home := filepath.Join(root, "home-web")
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	passwd := "root:x:0:0:root:/root:/bin/ash\nweb:x:33:33:web:" + home + ":/bin/sh\nnologin:x:40:40::/nonexistent:\n"
	if err := os.WriteFile(filepath.Join(root, "etc/passwd"), []byte(passwd), 0o644); err != nil {
		t.Fatal(err)
	}
	lk := fakeAccounts{
		"root":    {0, 0, "/root", nil},
		"web":     {33, 33, home, []int{4, 33, 100}},
		"nologin": {40, 40, "/nonexistent", nil},
	}

	cmd, _, err := execCommand(&control.Exec{Argv: []string{"sh", "-c", "true"}, User: "web", Env: []string{"A=1", "HOME=/elsewhere"}}, lk, root)
	if err != nil {
		t.Fatal(err)
	}
	c := cmd.SysProcAttr.Credential
	if c.Uid != 33 || c.Gid != 33 || !slices.Equal(c.Groups, []uint32{33, 4, 100}) {
		t.Errorf("credential %+v, want 33/33 groups [33 4 100]", c)
	}
	if !strings.HasSuffix(cmd.Path, "/sh") || cmd.Args[0] != "sh" || cmd.Dir != home {
		t.Errorf("path %q args %q dir %q", cmd.Path, cmd.Args, cmd.Dir)
	}
	for _, want := range []string{"USER=web", "LOGNAME=web", "SHELL=/bin/sh", "A=1", "HOME=/elsewhere"} {
		if !slices.Contains(cmd.Env, want) {
			t.Errorf("env lacks %q: %q", want, cmd.Env)
		}
	}
	if slices.ContainsFunc(cmd.Env, func(s string) bool { return strings.HasPrefix(s, "TERM=") }) {
		t.Errorf("exec without a tty got a TERM: %q", cmd.Env)
	}
	if n := len(slices.DeleteFunc(slices.Clone(cmd.Env), func(s string) bool { return !strings.HasPrefix(s, "HOME=") })); n != 1 {
		t.Errorf("%d HOME entries: %q", n, cmd.Env)
	}

	// enter: the user's login shell as a login shell, TERM set; no user = root.
	cmd, _, err = execCommand(&control.Exec{TTY: true}, lk, root)
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Path != "/bin/ash" || cmd.Args[0] != "-ash" || len(cmd.Args) != 1 || !slices.Contains(cmd.Env, "TERM=xterm") {
		t.Errorf("login shell: path %q args %q env %q", cmd.Path, cmd.Args, cmd.Env)
	}
	if c := cmd.SysProcAttr.Credential; c.Uid != 0 || c.Gid != 0 {
		t.Errorf("default user: %+v", c)
	}
	// No shell in passwd: /bin/sh; a missing home: cwd "/".
	cmd, _, err = execCommand(&control.Exec{TTY: true, User: "nologin", Env: []string{"TERM=vt100"}}, lk, root)
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Path != "/bin/sh" || cmd.Dir != "/" || !slices.Contains(cmd.Env, "TERM=vt100") || slices.Contains(cmd.Env, "TERM=xterm") {
		t.Errorf("nologin: path %q dir %q env %q", cmd.Path, cmd.Dir, cmd.Env)
	}
	// A guest without /etc/passwd still has root.
	if cmd, _, err := execCommand(&control.Exec{Argv: []string{"/bin/true"}}, fakeAccounts{}, t.TempDir()); err != nil || cmd.Dir == "" {
		t.Errorf("no passwd: %v", err)
	}

	for _, tc := range []struct {
		e      control.Exec
		status int
		err    string
	}{
		{control.Exec{Argv: []string{"no-such-program-here"}}, 127, "exec no-such-program-here: command not found"},
		{control.Exec{Argv: []string{"true"}, Env: []string{"PATH=/nonexistent"}}, 127, "command not found"},
		{control.Exec{Argv: []string{"true"}, User: "nobody"}, 1, `exec: user nobody: unknown user "nobody"`},
		{control.Exec{Argv: []string{"true"}, Cwd: "/nonexistent"}, 1, "exec: working directory: no such file or directory"},
		{control.Exec{Argv: []string{"true"}, Cwd: "/etc/passwd"}, 1, "not a directory"},
	} {
		_, status, err := execCommand(&tc.e, lk, root)
		if err == nil || status != tc.status || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%+v: status %d, err %v; want %d, %q", tc.e, status, err, tc.status, tc.err)
		}
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"A=1", "B=2"}, []string{"B=3", "C=4", "A=", "D==x"})
	if want := []string{"A=", "B=3", "C=4", "D==x"}; !slices.Equal(got, want) {
		t.Errorf("mergeEnv: %q, want %q", got, want)
	}
}

func TestOpenGuestPTY(t *testing.T) {
	if _, err := os.Stat("/dev/ptmx"); err != nil {
		t.Skip("no /dev/ptmx")
	}
	m, s, err := openGuestPTY(24, 80)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	defer s.Close()
	if _, err := s.Write([]byte("x\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, err := m.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "x") {
		t.Fatalf("master read %q %v", buf[:n], err)
	}
}
