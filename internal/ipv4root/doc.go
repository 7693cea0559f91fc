// Package ipv4root locks a cgroup's sockets to its IP addresses with
// cgroup-v2 BPF programs: the 2003 Linux-VServer "ipv4root" on a mainline
// kernel, for guests that share the host's network stack.
//
// For every socket created by a process in the cgroup (and its
// sub-cgroups):
//
//   - bind to 0.0.0.0 lands on the first IPv4 of the Policy, [::] on the
//     first IPv6 (without IPv6: a v4-mapped listener, see below); an owned
//     address passes; anything else fails with EADDRNOTAVAIL (EPERM on
//     kernels before 5.18). Ports below 1024 need no CAP_NET_BIND_SERVICE
//     on the guest's addresses (5.12+).
//   - connect and unconnected UDP sends leave from the guest's address.
//   - 127.0.0.1 is the guest's own loopback address (Policy.Loopback, a
//     127.64.0.0/10 address, LoopbackFor): a bind to it lands there; a
//     connect or send to it reaches the guest's own listener on that port
//     (on its loopback, or on its first IP if it bound 0.0.0.0) and is
//     refused with ECONNREFUSED when there is none, so it never reaches a
//     host's or another guest's service. getsockname, getpeername and
//     recvfrom show 127.0.0.1 again. Other guests' loopbacks and ::1 are
//     refused.
//   - a cgroup_skb pair drops packets to or from a guest socket that do not
//     carry a guest address, which catches sockets the address hooks never
//     see (listen() or sendto() on an unbound socket autobinds to the
//     wildcard).
//
// docs/network.md has the guarantees, the gaps per kernel version and the
// measured overhead.
//
// API (the launcher's view):
//
//	type Policy struct { IPv4, IPv6 []netip.Addr; Loopback netip.Addr; DenyAbstractUnix bool }
//	type Features struct { ... }            // Probe's result; String() lists active/missing protections
//	func Probe() Features
//	func Attach(cgroupDir, pinDir string, p Policy) (*Attachment, error)
//	func (a *Attachment) Active() []string
//	func (a *Attachment) Close() error       // drop this process's handles; pins stay
//	func Detach(pinDir string) error
//	func LoopbackFor(id uint32) netip.Addr
//	func Chbind(ips []netip.Addr, argv []string) (exitCode int, err error)
//	func SplitIPs(ips []netip.Addr) (v4, v6 []netip.Addr)
//	func AddAliases(dev string, addrs []netip.Prefix) ([]netip.Prefix, error)
//	func RemoveAliases(dev string, addrs []netip.Prefix) error
//
// Start: create the guest cgroup, Attach(cgroupDir, "/sys/fs/bpf/vserver/NAME",
// policy) — it refuses when the minimum set (bind/connect/sendmsg for v4
// and v6 as bpf_links) cannot be attached — then start the first guest
// process directly into the cgroup (SysProcAttr.UseCgroupFD), so no socket
// is ever created outside the programs. The pinned links outlive the
// launcher; Detach(pinDir) at stop (or from a fresh process after a crash)
// removes them. Close the Attachment after starting the guest.
package ipv4root
