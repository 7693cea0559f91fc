// Command probe prints what it inherited, one "key value" line each, then
// "ready": pid, ppid, pgid, sid, cwd, the LISTEN_* environment, every open fd
// as "fd N DEV:INO", and for a terminal on stdin "tty_fg PGID" (its
// foreground process group) and "ctty yes|no" (whether /dev/tty opens).
// With -wait it then reads stdin until EOF or a line "exit N" and exits with N
// (0 on EOF); it leaves every signal at its default action, so a forwarded
// SIGTERM kills it.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

func main() {
	wait := flag.Bool("wait", false, "read stdin until EOF or \"exit N\" before exiting")
	flag.Parse()

	// The fds first, before this program opens any of its own.
	fds := listFDs()
	fmt.Printf("pid %d\nppid %d\npgid %d\n", os.Getpid(), os.Getppid(), syscall.Getpgrp())
	sid, _ := unix.Getsid(0)
	fmt.Printf("sid %d\n", sid)
	wd, _ := os.Getwd()
	fmt.Printf("cwd %s\n", wd)
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		if v, ok := os.LookupEnv(k); ok {
			fmt.Printf("env %s=%s\n", k, v)
		}
	}
	for _, l := range fds {
		fmt.Println(l)
	}
	if pg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP); err == nil {
		fmt.Printf("tty_fg %d\n", pg)
		if f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err == nil {
			fmt.Println("ctty yes")
			f.Close()
		} else {
			fmt.Println("ctty no")
		}
	}
	fmt.Println("ready")
	if !*wait {
		return
	}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "exit "); ok {
			code, _ := strconv.Atoi(rest)
			os.Exit(code)
		}
	}
}

// listFDs lists the open fds by number with the device and inode they refer
// to, from fstat, so the caller can compare them with files it passed in.
func listFDs() []string {
	var out []string
	for fd := 0; fd < 1024; fd++ {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil {
			out = append(out, fmt.Sprintf("fd %d %d:%d", fd, st.Dev, st.Ino))
		}
	}
	return out
}
