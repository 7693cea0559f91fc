package main

import "golang.org/x/sys/unix"

// archSpecific tries raw port I/O, which only x86 has.
func archSpecific(res map[string]string) {
	res["iopl"] = errName(unix.Iopl(3))
	res["ioperm"] = errName(unix.Ioperm(0x80, 1, 1))
}
