// Command vserver is the host launcher: it creates guests from
// /etc/vservers/NAME.toml, runs vinit as their PID 1 and monitors them.
// See docs/vserver.md.
package main

import (
	"os"

	"github.com/vserver-go/vserver/internal/isolation"
)

func main() {
	// The guest's first process is a re-execution of this binary; it must
	// not get past this line.
	if isolation.Reexec() {
		return
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
