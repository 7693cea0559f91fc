package netns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Setup creates the veth pair between the calling thread's network
// namespace (the host's) and the one of process pid (the guest's, made
// with CLONE_NEWNET), and configures both ends. On error, what was made is
// removed again.
func Setup(pid int, c Config) (err error) {
	host := HostIfName(c.Name)
	if _, err := netlink.LinkByName(host); err == nil {
		return fmt.Errorf("netns: set up %s: interface %s exists (left over from an earlier run? Teardown removes it)", c.Name, host)
	}
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: host},
		PeerName:      GuestIfName,
		PeerNamespace: netlink.NsPid(pid),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("netns: create veth %s for pid %d: %w", host, pid, err)
	}
	defer func() {
		if err != nil {
			_ = Teardown(c.Name)
		}
	}()
	l, err := netlink.LinkByName(host)
	if err != nil {
		return fmt.Errorf("netns: %w", err)
	}
	if err := netlink.AddrAdd(l, addr(GatewayIPv4, 32)); err != nil {
		return fmt.Errorf("netns: address %s on %s: %w", GatewayIPv4, host, err)
	}
	if err := netlink.AddrAdd(l, addr(GatewayIPv6, 64)); err != nil {
		return fmt.Errorf("netns: address %s on %s: %w", GatewayIPv6, host, err)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("netns: set %s up: %w", host, err)
	}
	for _, ip := range c.IPs {
		r := &netlink.Route{LinkIndex: l.Attrs().Index, Dst: prefix(ip), Scope: netlink.SCOPE_LINK}
		if err := netlink.RouteAdd(r); err != nil {
			return fmt.Errorf("netns: host route to %s via %s: %w", ip, host, err)
		}
	}
	return inNetnsOf(pid, func() error { return configureGuest(c) })
}

func configureGuest(c Config) error {
	if err := loUp(); err != nil {
		return err
	}
	l, err := netlink.LinkByName(GuestIfName)
	if err != nil {
		return fmt.Errorf("guest %s: %w", GuestIfName, err)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("set guest %s up: %w", GuestIfName, err)
	}
	has4, has6 := false, false
	for _, ip := range c.IPs {
		ip = ip.Unmap()
		if err := netlink.AddrAdd(l, addr(ip, ip.BitLen())); err != nil {
			return fmt.Errorf("guest address %s: %w", ip, err)
		}
		has4 = has4 || ip.Is4()
		has6 = has6 || ip.Is6()
	}
	idx := l.Attrs().Index
	if has4 {
		if err := netlink.RouteAdd(&netlink.Route{LinkIndex: idx, Dst: prefix(GatewayIPv4), Scope: netlink.SCOPE_LINK}); err != nil {
			return fmt.Errorf("guest route to %s: %w", GatewayIPv4, err)
		}
		if err := netlink.RouteAdd(&netlink.Route{LinkIndex: idx, Gw: GatewayIPv4.AsSlice()}); err != nil {
			return fmt.Errorf("guest default route: %w", err)
		}
	}
	if has6 {
		if err := netlink.RouteAdd(&netlink.Route{LinkIndex: idx, Gw: GatewayIPv6.AsSlice()}); err != nil {
			return fmt.Errorf("guest IPv6 default route: %w", err)
		}
	}
	return nil
}

// SetupLoopback brings up lo in the netns of pid (network mode none).
func SetupLoopback(pid int) error {
	return inNetnsOf(pid, loUp)
}

func loUp() error {
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	return nil
}

// Teardown removes guest name's host end, which removes the pair and the
// host routes through it. A missing interface is not an error.
func Teardown(name string) error {
	l, err := netlink.LinkByName(HostIfName(name))
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("netns: tear down %s: %w", name, err)
	}
	if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("netns: tear down %s: %w", name, err)
	}
	return nil
}

// inNetnsOf runs fn on a thread that joined pid's network namespace. The
// thread is never handed back to the runtime (it ends with the goroutine),
// so no other goroutine ever runs in the guest's namespace.
func inNetnsOf(pid int, fn func() error) error {
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return fmt.Errorf("netns: %w", err)
	}
	defer f.Close()
	res := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			res <- fmt.Errorf("netns: join netns of pid %d: %w", pid, err)
			return
		}
		if err := fn(); err != nil {
			res <- fmt.Errorf("netns: in netns of pid %d: %w", pid, err)
			return
		}
		res <- nil
	}()
	return <-res
}

func prefix(ip netip.Addr) *net.IPNet {
	ip = ip.Unmap()
	return &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(ip.BitLen(), ip.BitLen())}
}

func addr(ip netip.Addr, bits int) *netlink.Addr {
	ip = ip.Unmap()
	a := &netlink.Addr{IPNet: &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(bits, ip.BitLen())}}
	if ip.Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	return a
}
