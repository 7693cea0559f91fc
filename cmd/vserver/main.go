// Command vserver is the host launcher: it creates guests from
// /etc/vservers/NAME.toml, runs vinit as their PID 1 and monitors them.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "usage: vserver NAME start|stop|restart|running|status|enter|exec|reboot|halt|logs")
	os.Exit(2)
}
