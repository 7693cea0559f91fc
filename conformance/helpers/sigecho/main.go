// Command sigecho catches every catchable signal from 1 to 31 (except
// SIGCHLD) and prints each one it receives as its number on a line of its
// own. It prints "ready" once the handlers are installed.
//
// With arguments it first starts them as a command (which gets default
// dispositions, as exec resets caught signals) and exits 0 when that command
// ends. With -stdin it exits when stdin reaches EOF (status 0) or reads a line
// "exit N" (status N). With -exit-on SIG it exits 0 after printing SIG.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	// The Go runtime preempts goroutines with SIGURG; a caught SIGURG must
	// only ever be one that somebody sent.
	if !strings.Contains(os.Getenv("GODEBUG"), "asyncpreemptoff=1") {
		env := append(os.Environ(), "GODEBUG=asyncpreemptoff=1")
		err := syscall.Exec("/proc/self/exe", os.Args, env)
		fmt.Fprintln(os.Stderr, "sigecho: re-exec:", err)
		os.Exit(2)
	}
	stdin := flag.Bool("stdin", false, "exit on stdin EOF (0) or on a line \"exit N\" (N)")
	exitOn := flag.Int("exit-on", 0, "exit 0 after printing this signal number")
	flag.Parse()

	ch := make(chan os.Signal, 64)
	for s := 1; s <= 31; s++ {
		switch syscall.Signal(s) {
		case syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGCHLD:
			continue
		}
		signal.Notify(ch, syscall.Signal(s))
	}
	done := make(chan int, 1)
	if flag.NArg() > 0 {
		cmd := exec.Command(flag.Arg(0), flag.Args()[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "sigecho:", err)
			os.Exit(2)
		}
		go func() {
			cmd.Wait()
			done <- 0
		}()
	}
	if *stdin {
		go func() {
			sc := bufio.NewScanner(os.Stdin)
			for sc.Scan() {
				if rest, ok := strings.CutPrefix(sc.Text(), "exit "); ok {
					code, _ := strconv.Atoi(rest)
					done <- code
					return
				}
			}
			done <- 0
		}()
	}
	fmt.Println("ready")
	for {
		select {
		case s := <-ch:
			n := int(s.(syscall.Signal))
			fmt.Println(n)
			if n == *exitOn {
				os.Exit(0)
			}
		case code := <-done:
			os.Exit(code)
		}
	}
}
