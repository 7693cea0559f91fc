package ipv4root

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// AddAliases puts the guest's addresses on the host device dev (the
// `[net] dev` option) via netlink. An address already on dev is left
// alone and not returned; the result is what the caller must hand to
// RemoveAliases at stop, so a stop never removes an address the admin
// configured. A bare address (prefix length = full) is added as /32 or /128.
func AddAliases(dev string, addrs []netip.Prefix) (added []netip.Prefix, err error) {
	l, err := netlink.LinkByName(dev)
	if err != nil {
		return nil, fmt.Errorf("add addresses to %s: %w", dev, err)
	}
	defer func() {
		if err != nil {
			_ = removeFrom(l, added)
			added = nil
		}
	}()
	for _, p := range addrs {
		a := toNetlinkAddr(p)
		err := netlink.AddrAdd(l, a)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return added, fmt.Errorf("add %s to %s: %w", p, dev, err)
		}
		added = append(added, p)
	}
	return added, nil
}

// RemoveAliases takes addrs off dev again; addresses already gone (or a
// device gone) are not an error.
func RemoveAliases(dev string, addrs []netip.Prefix) error {
	l, err := netlink.LinkByName(dev)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("remove addresses from %s: %w", dev, err)
	}
	return removeFrom(l, addrs)
}

func removeFrom(l netlink.Link, addrs []netip.Prefix) error {
	var errs []error
	for _, p := range addrs {
		err := netlink.AddrDel(l, toNetlinkAddr(p))
		if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("remove %s from %s: %w", p, l.Attrs().Name, err))
		}
	}
	return errors.Join(errs...)
}

func toNetlinkAddr(p netip.Prefix) *netlink.Addr {
	a := p.Addr().Unmap()
	bits := p.Bits()
	if bits < 0 || !p.IsValid() {
		bits = a.BitLen()
	}
	if a.Is4() && bits > 32 {
		bits -= 96
	}
	ipn := &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(bits, a.BitLen())}
	na := &netlink.Addr{IPNet: ipn}
	if a.Is6() {
		na.Flags = unix.IFA_F_NODAD
	}
	return na
}
