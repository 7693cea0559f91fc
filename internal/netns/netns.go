// Package netns gives a guest its own network namespace (network mode
// `netns`, and `none`): loopback plus a routed veth pair. The host end
// (HostIfName) carries 169.254.1.1 and fe80::1 as the guest's gateway and
// a host route to each guest address; the guest end is eth0 in the guest
// with the addresses and default routes via those gateways. Forwarding
// beyond the host (ip_forward, proxy ARP/NDP on the uplink, NAT) is the
// host's configuration; docs/network.md says what to set.
//
//	func Setup(pid int, c Config) error    // veth pair + addresses + routes for the netns of pid
//	func SetupLoopback(pid int) error      // mode none: lo up only
//	func Teardown(name string) error       // remove the host end (and so the pair); idempotent
//	func HostIfName(name string) string
//
// A guest's namespace dies with its last process, and the veth pair with
// it, so a crash leaves nothing behind; Teardown covers the rest.
package netns

import (
	"fmt"
	"hash/fnv"
	"net/netip"
)

// Gateways the guest routes through: addresses of the host end.
var (
	GatewayIPv4 = netip.MustParseAddr("169.254.1.1")
	GatewayIPv6 = netip.MustParseAddr("fe80::1")
)

// GuestIfName is the guest end's name inside the guest.
const GuestIfName = "eth0"

// Config describes a guest's network in netns mode.
type Config struct {
	Name string       // guest name; the host end is HostIfName(Name)
	IPs  []netip.Addr // the guest's addresses (each as /32 or /128)
}

// HostIfName is the host end's interface name for guest name: "vs-NAME",
// shortened with a hash to the kernel's 15 characters.
func HostIfName(name string) string {
	n := "vs-" + name
	if len(n) <= 15 {
		return n
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return fmt.Sprintf("vs-%s-%04x", name[:7], h.Sum32()&0xffff)
}
