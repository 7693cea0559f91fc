// Command tiocsti pushes its argument and a newline into the input of the
// terminal on fd 0 with TIOCSTI, as an attacker inside a guest would to
// type into whatever terminal it was given. Tests copy it into a guest.
package main

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: tiocsti TEXT")
		os.Exit(2)
	}
	for _, b := range []byte(os.Args[1] + "\n") {
		c := b
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, 0, unix.TIOCSTI, uintptr(unsafe.Pointer(&c))); errno != 0 {
			fmt.Fprintf(os.Stderr, "tiocsti: ioctl(TIOCSTI): %v\n", errno)
			os.Exit(1)
		}
	}
}
