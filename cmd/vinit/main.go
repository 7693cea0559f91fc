// Command vinit is a minimal PID 1 for virtual servers and containers.
//
//	vinit [--config DIR] [flags]          supervisor mode
//	vinit [flags] -- CMD [ARGS...]        single-command mode (like tini)
//	vinit status|start|stop|restart|reload|log|reboot|halt|poweroff [NAME]
//
// Invoked as reboot, halt, poweroff, shutdown, vreboot or vhalt it is that
// command. See docs/vinit.md.
package main

import (
	"os"

	"github.com/vserver-go/vserver/internal/launch"
	"github.com/vserver-go/vserver/internal/pid1"
)

func main() {
	// A trampoline (vinit's own helper between fork and exec) is not an init:
	// it applies its settings and becomes the real command.
	if launch.Trampoline() {
		return
	}
	sigs := pid1.CatchSignals() // before anything else: see DESIGN §3.3
	os.Exit(run(os.Args, sigs))
}
