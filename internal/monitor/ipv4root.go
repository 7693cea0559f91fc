package monitor

import (
	"errors"

	"github.com/vserver-go/vserver/internal/cgroup"
	"github.com/vserver-go/vserver/internal/guest"
)

// attachIPv4Root attaches the ipv4root programs to the guest's cgroup.
// TODO(ipv4root): wire ipv4root.Attach once the package has it.
func attachIPv4Root(ns *netState, cfg *guest.Config, g *cgroup.Group) error {
	return errors.New(`net mode "ipv4root" is not available in this build yet (use "host" or "none")`)
}

// detachIPv4Root undoes attachIPv4Root.
func detachIPv4Root(ns *netState) error {
	return removePinDir(ns.pinDir)
}

// probeIPv4Root says whether ipv4root mode can work here.
func probeIPv4Root() error {
	return errors.New("not available in this build yet")
}
