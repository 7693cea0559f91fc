package monitor

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/vserver-go/vserver/internal/cgroup"
	"github.com/vserver-go/vserver/internal/guest"
	"github.com/vserver-go/vserver/internal/ipv4root"
	"github.com/vserver-go/vserver/internal/netns"
)

// netState is what setupNet did for one boot, for teardown.
type netState struct {
	aliases     []string // "dev addr/len" this boot added
	pinDir      string   // BPF links pinned here (ipv4root)
	protections []string // active ipv4root protections, for status
	netnsName   string   // guest whose veth pair this boot makes (netns)
	veth        string   // its host end, for state and status

	// prepare configures the guest's own network namespace (netns, none)
	// from the host, between the creation of the guest's first process and
	// its setup (isolation.Spec.Prepare).
	prepare func(pid int) error
	// scopeAbstract: the guest shares the host's network namespace and
	// its abstract unix sockets; its init scopes them away with Landlock.
	scopeAbstract bool
}

// setupNet prepares the guest's network before any guest process exists:
// the address aliases on [net] dev and, in ipv4root mode, the BPF programs
// on the guest's cgroup (a guest whose programs cannot be attached does not
// start). netns and none get a new network namespace from isolation, which
// prepare configures before the guest's setup goes on; host needs nothing.
// On error, what was done is in the returned state (teardown undoes it).
func setupNet(cfg *guest.Config, g *cgroup.Group) (*netState, error) {
	ns := &netState{}
	switch cfg.Net.Mode {
	case guest.NetHost:
		return ns, nil
	case guest.NetNone:
		ns.prepare = netns.SetupLoopback
		return ns, nil
	case guest.NetNetns:
		var ips []netip.Addr
		for _, p := range cfg.Net.IPs {
			ips = append(ips, p.Addr())
		}
		ns.netnsName, ns.veth = cfg.Name, netns.HostIfName(cfg.Name)
		ns.prepare = func(pid int) error {
			return netns.Setup(pid, netns.Config{Name: cfg.Name, IPs: ips})
		}
		return ns, nil
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
	ns.scopeAbstract = true
	a, err := ipv4root.Attach(g.Path(), ns.pinDir, ipv4root.Policy{
		IPv4: v4, IPv6: v6, Loopback: ipv4root.LoopbackFor(cfg.Context), DenyAbstractUnix: true})
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
	if ns.netnsName != "" {
		// Usually gone with the guest's namespace already; the kernel
		// frees a namespace asynchronously, so remove it for sure.
		errs = append(errs, netns.Teardown(ns.netnsName))
	}
	ns.aliases, ns.pinDir, ns.netnsName, ns.veth = nil, "", "", ""
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
