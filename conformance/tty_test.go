package conformance

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// E1: on a terminal, `tac` reads until EOF (^D) and prints the lines
// reversed; the init exits 0.
func TestE1TTYInput(t *testing.T) {
	r := start(t, runConfig{tty: true, cmd: []string{"/usr/bin/tac"}})
	r.pty.Write([]byte("1\n2\n3\n\x04"))
	r.waitOutput("3\r\n2\r\n1\r\n", 5*time.Second)
	r.expectExit(0, 10*time.Second)
}

// E2: the child owns the terminal: it is in the terminal's foreground
// process group and /dev/tty opens; an interactive bash gets job control.
func TestE2ChildGetsTTY(t *testing.T) {
	t.Run("probe", func(t *testing.T) {
		r := start(t, runConfig{tty: true, cmd: []string{helper("probe")}})
		r.waitOutput("ready", 10*time.Second)
		r.expectExit(0, 10*time.Second)
		info := map[string]string{}
		for _, l := range strings.Split(r.ptyOut.String(), "\r\n") {
			if k, v, ok := strings.Cut(l, " "); ok {
				info[k] = v
			}
		}
		if info["tty_fg"] != info["pgid"] {
			t.Errorf("the terminal's foreground group is %s, the child's group %s", info["tty_fg"], info["pgid"])
		}
		if info["ctty"] != "yes" {
			t.Errorf("the child cannot open /dev/tty: no controlling terminal")
		}
	})
	t.Run("bash-m", func(t *testing.T) {
		bash, err := exec.LookPath("bash")
		if err != nil {
			t.Skip("no bash")
		}
		r := start(t, runConfig{tty: true, cmd: []string{bash, "--norc", "--noprofile", "-i"}})
		r.pty.Write([]byte("echo \"flags=$-\"\nexit 0\n"))
		waitFor(t, 10*time.Second, "bash's flags line", func() bool {
			out := r.ptyOut.String()
			i := strings.Index(out, "flags=")
			return i >= 0 && strings.Contains(out[i:], "\n")
		}, r.ptyOut.String)
		r.expectExit(0, 10*time.Second)
		out := r.ptyOut.String()
		i := strings.Index(out, "flags=")
		flags := strings.Fields(out[i+len("flags="):])[0]
		if !strings.Contains(flags, "m") || strings.Contains(out, "no job control") {
			t.Errorf("bash has no job control: flags %q, output %q", flags, out)
		}
	})
}

// E4: an interactive shell on the terminal: "exit 0" ends it with 0; in a
// looping shell Ctrl-C ends it with 130.
func TestE4Interactive(t *testing.T) {
	t.Run("exit", func(t *testing.T) {
		r := start(t, runConfig{tty: true, cmd: []string{"/bin/sh", "-i"}})
		r.pty.Write([]byte("exit 0\n"))
		r.expectExit(0, 10*time.Second)
	})
	t.Run("ctrl-c", func(t *testing.T) {
		r := start(t, runConfig{tty: true, cmd: []string{"/bin/sh", "-c", "echo looping; while :; do sleep 1; done"}})
		r.waitOutput("looping", 10*time.Second)
		waitFor(t, 10*time.Second, "the loop's sleep", func() bool { return len(r.procs()) >= 2 })
		r.pty.Write([]byte{3})
		r.expectExit(130, 10*time.Second)
	})
}

// E5: TSTP, TTIN and TTOU sent to the init stop the child; CONT resumes it.
// Both on a terminal (the init's controlling terminal, as with docker run -t)
// and without one.
func TestE5JobControlSignals(t *testing.T) {
	for _, tty := range []bool{true, false} {
		for _, sig := range []syscall.Signal{syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU} {
			name := map[bool]string{true: "tty/", false: "no-tty/"}[tty] + strings.TrimPrefix(sigName(sig), "SIG")
			t.Run(name, func(t *testing.T) {
				r := start(t, runConfig{tty: tty, cmd: []string{"/bin/sleep", "1000"}})
				var child int
				// Wait for the exec: before it the init may still be
				// setting the child up (its own group or session).
				waitFor(t, 10*time.Second, "the child to run sleep", func() bool {
					c := r.initChildren()
					if len(c) == 1 && c[0].comm == "sleep" {
						child = c[0].pid
					}
					return child != 0
				})
				state := func() byte { p, _ := readProc(child); return p.state }
				r.signal(sig)
				waitFor(t, 5*time.Second, "the child to stop after "+sigName(sig), func() bool { return state() == 'T' })
				r.signal(syscall.SIGCONT)
				waitFor(t, 5*time.Second, "the child to resume after SIGCONT", func() bool { return state() != 'T' })
				r.signal(syscall.SIGTERM)
				r.expectExit(143, 10*time.Second)
			})
		}
	}
}
