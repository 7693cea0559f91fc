package conformance

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// I6: the init is started with a listening socket as fd 3 (LISTEN_FDS=1,
// LISTEN_PID=1: meant for the init's pid) and an unrelated file as fd 5. The
// child gets fd 3 and LISTEN_PID set to its own pid; the init itself keeps
// neither, and fd 5 reaches nobody.
func TestI6InheritedFDs(t *testing.T) {
	need(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sock, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	stray, err := os.Create(filepath.Join(t.TempDir(), "fd5"))
	if err != nil {
		t.Fatal(err)
	}
	defer stray.Close()
	sockID, strayID := fileID(t, sock), fileID(t, stray)

	r := start(t, runConfig{
		cmd:        []string{helper("probe"), "-wait"},
		env:        []string{"LISTEN_FDS=1", "LISTEN_PID=1"},
		extraFiles: []*os.File{sock, nil, stray},
	})
	info := r.probeInfo(10 * time.Second)
	if want := "LISTEN_PID=" + info["pid"]; !strings.Contains(info["env"], want+"\n") {
		t.Errorf("the child (pid %s) sees %q, want %s", info["pid"], info["env"], want)
	}
	childFDs := map[string]string{} // dev:ino -> fd
	for _, l := range strings.Split(strings.TrimSpace(info["fd"]), "\n") {
		if fd, id, ok := strings.Cut(l, " "); ok {
			childFDs[id] = fd
		}
	}
	if fd := childFDs[sockID]; fd != "3" {
		t.Errorf("the child has the listening socket as fd %q, want 3", fd)
	}
	if fd, ok := childFDs[strayID]; ok {
		t.Errorf("the child inherited the stray fd 5 (as fd %s)", fd)
	}
	own := 0
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", r.initPid))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		fd, _ := strconv.Atoi(e.Name())
		id := statID(fmt.Sprintf("/proc/%d/fd/%s", r.initPid, e.Name()))
		switch {
		case id == sockID:
			t.Errorf("the init still holds the listening socket (fd %d)", fd)
		case id == strayID:
			t.Errorf("the init still holds the stray file (fd %d)", fd)
		case fd >= 3:
			own++
		}
	}
	t.Logf("the init holds %d fds >= 3 of its own", own)
	r.stdin.Close()
	r.expectExit(0, 10*time.Second)
}

// I7: started in a directory, the init moves itself to / (so it pins no
// mount) while the child keeps the directory it was started in.
func TestI7WorkingDirectory(t *testing.T) {
	need(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	r := start(t, runConfig{dir: dir, cmd: []string{helper("probe"), "-wait"}})
	info := r.probeInfo(10 * time.Second)
	if info["cwd"] != dir {
		t.Errorf("the child's cwd is %q, want %q", info["cwd"], dir)
	}
	if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", r.initPid)); err != nil || cwd != "/" {
		t.Errorf("the init's cwd is %q (%v), want /", cwd, err)
	}
	r.stdin.Close()
	r.expectExit(0, 10*time.Second)
}

// TestVinitBurstNoLeak (vinit only): after 10,000 orphans have been reaped,
// vinit has no zombie children and as many fds as before the burst.
func TestVinitBurstNoLeak(t *testing.T) {
	need(t)
	if initKind.kind != "vinit" {
		t.Skipf("vinit-only check (init under test: %s)", initKind.kind)
	}
	r := start(t, runConfig{cmd: []string{helper("orphans"), "-n", "10000", "-wait-start", "-wait-end", "-timeout", "25s"}, deadline: 40 * time.Second})
	r.expectLine("ready", 10*time.Second)
	before := countFDs(t, r.initPid)
	fmt.Fprintln(r.stdin)
	l := r.waitLine("the orphans' result", 30*time.Second, func(l string) bool {
		return strings.HasPrefix(l, "reaped") || strings.HasPrefix(l, "timeout")
	})
	t.Log(l)
	if !strings.HasPrefix(l, "reaped") {
		t.Fatalf("orphans: %s", l)
	}
	r.expectLine("done", 5*time.Second)
	if z := zombies(r.initChildren()); len(z) > 0 {
		t.Errorf("vinit has %d zombie children, e.g. %v", len(z), z[0])
	}
	if after := countFDs(t, r.initPid); after != before {
		t.Errorf("vinit has %d fds after the burst, %d before", after, before)
	}
	fmt.Fprintln(r.stdin)
	r.expectExit(0, 10*time.Second)
}

func countFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func fileID(t *testing.T, f *os.File) string {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

func statID(path string) string {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return ""
	}
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}
