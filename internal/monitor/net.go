package monitor

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/vserver-go/vserver/internal/cgroup"
	"github.com/vserver-go/vserver/internal/guest"
	"github.com/vserver-go/vserver/internal/ipv4root"
)

// netState is what setupNet did for one boot, for teardown.
type netState struct {
	aliases     []string // "dev addr/len" this boot added
	pinDir      string   // BPF links pinned here (ipv4root)
	protections []string // active ipv4root protections, for status
}

// setupNet prepares the guest's network before any guest process exists:
// the address aliases on [net] dev and, in ipv4root mode, the BPF programs
// on the guest's cgroup (a guest whose programs cannot be attached does not
// start). none gets a new network namespace from isolation; host needs
// nothing. On error, what was done is in the returned state (teardown
// undoes it).
func setupNet(cfg *guest.Config, g *cgroup.Group) (*netState, error) {
	ns := &netState{}
	switch cfg.Net.Mode {
	case guest.NetHost, guest.NetNone:
		return ns, nil
	case guest.NetNetns:
		return ns, errors.New(`net mode "netns" is not implemented yet (use "ipv4root", "host" or "none")`)
	}
	if cfg.Net.Dev != "" {
		added, err := ipv4root.AddAliases(cfg.Net.Dev, cfg.Net.IPs)
		for _, p := range added {
			ns.aliases = append(ns.aliases, cfg.Net.Dev+" "+p.String())
		}
		if err != nil {
			return ns, err
		}
	}
	v4, v6 := cfg.Net.Addrs()
	ns.pinDir = PinDir(cfg.Name)
	a, err := ipv4root.Attach(g.Path(), ns.pinDir, ipv4root.Policy{
		IPv4: v4, IPv6: v6, Loopback: ipv4root.LoopbackFor(cfg.Context)})
	if err != nil {
		return ns, err
	}
	ns.protections = a.Active()
	// The links are pinned: they stay attached after our handles close.
	return ns, a.Close()
}

// teardown undoes setupNet.
func (ns *netState) teardown() error {
	var errs []error
	if ns.pinDir != "" {
		errs = append(errs, ipv4root.Detach(ns.pinDir))
	}
	errs = append(errs, removeAliases(ns.aliases))
	ns.aliases, ns.pinDir = nil, ""
	return errors.Join(errs...)
}

// removeAliases deletes addresses recorded as "dev addr/len".
func removeAliases(aliases []string) error {
	var errs []error
	for _, s := range aliases {
		dev, addr, ok := strings.Cut(s, " ")
		p, err := netip.ParsePrefix(addr)
		if !ok || err != nil {
			errs = append(errs, fmt.Errorf("bad alias record %q", s))
			continue
		}
		errs = append(errs, ipv4root.RemoveAliases(dev, []netip.Prefix{p}))
	}
	return errors.Join(errs...)
}

// probeIPv4Root says whether ipv4root mode can work here.
func probeIPv4Root() error {
	f := ipv4root.Probe()
	if m := f.Missing(); len(m) > 0 {
		return fmt.Errorf("kernel %s lacks %s", f.Kernel, strings.Join(m, ", "))
	}
	return nil
}

// ipv4rootFeatures describes the kernel's ipv4root support for check.
func ipv4rootFeatures() string { return ipv4root.Probe().String() }
