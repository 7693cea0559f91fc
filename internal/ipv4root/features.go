package ipv4root

import (
	"fmt"
	"strings"
)

// Features is what the running kernel supports, as found by Probe (by
// loading and attaching small programs, not by reading version numbers).
type Features struct {
	Kernel  string // uname release, for messages
	Cgroup2 string // mount point of the cgroup2 hierarchy; "" if none

	// The minimum set: without any of these a guest does not start.
	SockAddr bool // cgroup/bind4,6 and connect4,6 with bpf_bind (4.17)
	Sendmsg  bool // cgroup/sendmsg4,6 (4.18)
	Links    bool // bpf_link on a cgroup, which can be pinned (5.7)

	// Optional refinements.
	CapBypass    bool // bind may skip the CAP_NET_BIND_SERVICE check (5.12)
	SetRetval    bool // refusals say EADDRNOTAVAIL etc. instead of EPERM (5.18)
	SkLookup     bool // 127.0.0.1 finds the guest's own listener (4.20)
	HideLoopback bool // getsockname/getpeername/recvmsg show 127.0.0.1 (5.8)
	SkbBackstop  bool // cgroup_skb ingress/egress: wildcard-autobound sockets only see the guest's addresses (4.10)
	V6Only       bool // cgroup/setsockopt + socket storage: [::] with IPV6_V6ONLY in a guest without IPv6 (5.3..5.10)
	AbstractUnix bool // Landlock scoping of abstract unix sockets (ABI 6, 6.12): isolation.ScopeAbstractUnix works
	UnixConnect  bool // cgroup/connect_unix (6.7); not used
	LSMCgroup    bool // BPF_LSM_CGROUP programs load (6.0, bpf in lsm=, working trampolines); not used yet

	// Why a feature is missing, by feature name.
	Why map[string]string
}

// Missing names the features of the minimum set the kernel lacks.
func (f Features) Missing() []string {
	var out []string
	if f.Cgroup2 == "" {
		out = append(out, "cgroup2 hierarchy")
	}
	if !f.SockAddr {
		out = append(out, "cgroup sock_addr programs (bind4/6, connect4/6; Linux 4.17)")
	}
	if !f.Sendmsg {
		out = append(out, "cgroup/sendmsg4/6 (Linux 4.18)")
	}
	if !f.Links {
		out = append(out, "bpf_link for cgroups (Linux 5.7)")
	}
	return out
}

// String lists each protection as active or missing, one per line.
func (f Features) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "kernel %s, cgroup2 at %q\n", f.Kernel, f.Cgroup2)
	line := func(ok bool, name, what string) {
		state := "active"
		if !ok {
			state = "missing"
			if why := f.Why[name]; why != "" {
				state += " (" + why + ")"
			}
		}
		fmt.Fprintf(&b, "%-14s %-8s %s\n", name, state, what)
	}
	line(f.SockAddr, "sock-addr", "bind to own IPs only, 0.0.0.0/:: to the guest IP, source IP forced on connect")
	line(f.Sendmsg, "sendmsg", "unconnected UDP leaves from the guest IP")
	line(f.Links, "links", "programs pinned as bpf_links, survive the launcher")
	line(f.SkLookup, "loopback", "127.0.0.1 reaches only the guest's own listener")
	line(f.HideLoopback, "hide-loopback", "getsockname/getpeername/recvfrom show 127.0.0.1, not the guest loopback")
	line(f.CapBypass, "cap-bypass", "ports below 1024 on the guest's IPs without CAP_NET_BIND_SERVICE")
	line(f.SetRetval, "errno", "refused binds fail with EADDRNOTAVAIL (else EPERM)")
	line(f.SkbBackstop, "skb-backstop", "packets to/from guest sockets must carry a guest address (closes the listen()/sendto autobind gap)")
	line(f.V6Only, "v6only", "[::] with IPV6_V6ONLY works in a guest without IPv6")
	line(f.AbstractUnix, "abstract-unix", "host abstract unix sockets unreachable (Landlock scope, applied by the guest's init)")
	unused := func(ok bool, name, what string) {
		state := "unused"
		if !ok {
			state = "missing"
		}
		fmt.Fprintf(&b, "%-14s %-8s %s\n", name, state, what)
	}
	unused(f.UnixConnect, "unix-connect", "cgroup/connect_unix hook (Landlock covers abstract sockets)")
	unused(f.LSMCgroup, "lsm-cgroup", "BPF LSM socket_listen (the skb backstop covers autobound listeners)")
	return b.String()
}
