package monitor

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vserver-go/vserver/internal/cgroup"
	"github.com/vserver-go/vserver/internal/guest"
)

// netState is what setupNet did for one boot, for teardown.
type netState struct {
	aliases     []string // "dev addr/len" this boot added
	pinDir      string   // BPF links pinned here (ipv4root)
	protections []string // active ipv4root protections, for status
}

// setupNet prepares the guest's network before any guest process exists:
// the address aliases on [net] dev and, in ipv4root mode, the BPF programs
// on the guest's cgroup. netns and none get a new network namespace from
// isolation; host needs nothing. On error, what was done is in the
// returned state (teardown undoes it).
func setupNet(cfg *guest.Config, g *cgroup.Group) (*netState, error) {
	ns := &netState{}
	switch cfg.Net.Mode {
	case guest.NetHost, guest.NetNone:
		return ns, nil
	case guest.NetNetns:
		return ns, errors.New(`net mode "netns" is not implemented yet (use "ipv4root", "host" or "none")`)
	}
	if cfg.Net.Dev != "" {
		if err := ns.addAliases(cfg); err != nil {
			return ns, err
		}
	}
	return ns, attachIPv4Root(ns, cfg, g)
}

func (ns *netState) addAliases(cfg *guest.Config) error {
	link, err := netlink.LinkByName(cfg.Net.Dev)
	if err != nil {
		return fmt.Errorf("add addresses to %s: %w", cfg.Net.Dev, err)
	}
	for _, p := range cfg.Net.IPs {
		ipn := &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
		a := &netlink.Addr{IPNet: ipn}
		if err := netlink.AddrAdd(link, a); err != nil {
			if errors.Is(err, unix.EEXIST) {
				continue // the admin's address: not ours to remove
			}
			return fmt.Errorf("add address %s to %s: %w", p, cfg.Net.Dev, err)
		}
		ns.aliases = append(ns.aliases, cfg.Net.Dev+" "+p.String())
	}
	return nil
}

// teardown undoes setupNet.
func (ns *netState) teardown() error {
	var errs []error
	if err := detachIPv4Root(ns); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, removeAliases(ns.aliases))
	ns.aliases = nil
	return errors.Join(errs...)
}

// removeAliases deletes addresses recorded as "dev addr/len".
func removeAliases(aliases []string) error {
	var errs []error
	for _, s := range aliases {
		dev, addr, ok := strings.Cut(s, " ")
		if !ok {
			continue
		}
		link, err := netlink.LinkByName(dev)
		if err != nil {
			errs = append(errs, fmt.Errorf("remove address %s from %s: %w", addr, dev, err))
			continue
		}
		a, err := netlink.ParseAddr(addr)
		if err != nil {
			continue
		}
		if err := netlink.AddrDel(link, a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			errs = append(errs, fmt.Errorf("remove address %s from %s: %w", addr, dev, err))
		}
	}
	return errors.Join(errs...)
}

func removePinDir(dir string) error {
	if dir == "" {
		return nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove BPF pins %s: %w", dir, err)
	}
	return nil
}
