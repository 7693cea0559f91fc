package ipv4root

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
)

// Policy says which addresses a cgroup's sockets may use.
type Policy struct {
	// IPv4 are the guest's IPv4 addresses; the first is where 0.0.0.0
	// lands and the source of outgoing IPv4 traffic.
	IPv4 []netip.Addr
	// IPv6 are the guest's IPv6 addresses; the first is where :: lands
	// and the source of outgoing IPv6 traffic. Without any, :: becomes a
	// v4-mapped listener on the first IPv4 address.
	IPv6 []netip.Addr
	// Loopback is the guest's own loopback address (127.x.y.z): binds to
	// and connects to 127.0.0.1 are mapped to it. Zero derives one from
	// the cgroup directory (use LoopbackFor(contextID) to get a stable
	// one). 127.0.0.1 means "share the host's loopback" (what Chbind uses
	// for host daemons).
	Loopback netip.Addr
	// DenyAbstractUnix asks for the host's abstract unix sockets to be out
	// of the guest's reach. That is not a cgroup program: the guest's first
	// process scopes itself with Landlock before exec'ing vinit (Linux 6.12;
	// the launcher sets isolation.Spec.ScopeAbstractUnix). Attach only
	// reports in Active() whether the kernel can.
	DenyAbstractUnix bool
}

// Limits of the generated programs: each owned address is one compare.
const (
	maxIPv4 = 64
	maxIPv6 = 32
)

var (
	localhost4 = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	// LoopbackRange holds every per-guest loopback address LoopbackFor
	// hands out; a guest may use its own and no other one in it.
	LoopbackRange = netip.MustParsePrefix("127.64.0.0/10")
)

// LoopbackFor returns the per-guest loopback address of context id: an
// address in 127.64.0.0/10 (22 bits of the id; ids 2^22 apart share one).
func LoopbackFor(id uint32) netip.Addr {
	v := id & (1<<22 - 1)
	return netip.AddrFrom4([4]byte{127, byte(0x40 | v>>16), byte(v >> 8), byte(v)})
}

// loopbackForPath derives a loopback address from a cgroup path, for a
// Policy that left Loopback zero.
func loopbackForPath(p string) netip.Addr {
	h := fnv.New32a()
	h.Write([]byte(p))
	return LoopbackFor(h.Sum32())
}

// normalize checks p and fills in the derived loopback address.
func (p Policy) normalize(cgroupDir string) (Policy, error) {
	if len(p.IPv4) == 0 && len(p.IPv6) == 0 {
		return p, errors.New("policy: no IP addresses")
	}
	if len(p.IPv4) > maxIPv4 || len(p.IPv6) > maxIPv6 {
		return p, fmt.Errorf("policy: too many addresses (at most %d IPv4 and %d IPv6)", maxIPv4, maxIPv6)
	}
	out := p
	out.IPv4, out.IPv6 = nil, nil
	for _, a := range p.IPv4 {
		a = a.Unmap()
		if !a.Is4() || a.IsUnspecified() {
			return p, fmt.Errorf("policy: %s is not a usable IPv4 address", a)
		}
		out.IPv4 = append(out.IPv4, a)
	}
	for _, a := range p.IPv6 {
		if !a.Is6() || a.Is4In6() || a.IsUnspecified() || a.IsLoopback() || a.Zone() != "" {
			return p, fmt.Errorf("policy: %s is not a usable IPv6 address", a)
		}
		out.IPv6 = append(out.IPv6, a)
	}
	if !out.Loopback.IsValid() || out.Loopback.IsUnspecified() {
		out.Loopback = loopbackForPath(cgroupDir)
	}
	out.Loopback = out.Loopback.Unmap()
	if !out.Loopback.Is4() || !out.Loopback.IsLoopback() {
		return p, fmt.Errorf("policy: loopback %s is not in 127.0.0.0/8", out.Loopback)
	}
	return out, nil
}

// sharedLoopback reports whether the policy leaves 127.0.0.1 alone.
func (p Policy) sharedLoopback() bool { return p.Loopback == localhost4 }

// SplitIPs sorts addresses into a Policy's IPv4 and IPv6 lists, keeping
// their order.
func SplitIPs(ips []netip.Addr) (v4, v6 []netip.Addr) {
	for _, a := range ips {
		if a.Unmap().Is4() {
			v4 = append(v4, a.Unmap())
		} else {
			v6 = append(v6, a)
		}
	}
	return v4, v6
}
