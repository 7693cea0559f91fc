package ipv4root

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/vserver-go/vserver/internal/cgroup"
	"github.com/vserver-go/vserver/internal/isolation"
)

var probeOnce = sync.OnceValue(probe)

// Probe finds out what the running kernel supports. It loads small
// programs (and attaches one to a scratch cgroup, removed again); the
// result is computed once per process.
func Probe() Features { return probeOnce() }

func probe() Features {
	f := Features{Why: map[string]string{}}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		f.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	root, err := cgroup.Unified()
	if err != nil {
		f.Why["cgroup2"] = err.Error()
	} else {
		f.Cgroup2 = root
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		f.Why["sock-addr"] = err.Error()
		return f
	}
	// A policy the probe programs are generated for.
	o := genOpts{p: Policy{
		IPv4:     []netip.Addr{netip.MustParseAddr("127.0.0.2")},
		Loopback: LoopbackFor(1),
	}, v6onlyMap: -1}

	try := func(name string, typ ebpf.ProgramType, at ebpf.AttachType, insns asm.Instructions) bool {
		p, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: typ, AttachType: at, Instructions: insns, License: "MIT"})
		if err != nil {
			f.Why[name] = shortErr(err)
			return false
		}
		p.Close()
		return true
	}
	f.SockAddr = try("sock-addr", ebpf.CGroupSockAddr, ebpf.AttachCGroupInet4Bind, genBind4(o)) &&
		try("sock-addr", ebpf.CGroupSockAddr, ebpf.AttachCGroupInet6Bind, genBind6(o)) &&
		try("sock-addr", ebpf.CGroupSockAddr, ebpf.AttachCGroupInet4Connect, genConnect4(o)) &&
		try("sock-addr", ebpf.CGroupSockAddr, ebpf.AttachCGroupInet6Connect, genConnect6(o))
	f.Sendmsg = try("sendmsg", ebpf.CGroupSockAddr, ebpf.AttachCGroupUDP4Sendmsg, genSendmsg4(o)) &&
		try("sendmsg", ebpf.CGroupSockAddr, ebpf.AttachCGroupUDP6Sendmsg, genSendmsg6(o))
	// The verifier allows return values 2 and 3 from bind programs only
	// where the kernel honours the bit (5.12).
	f.CapBypass = try("cap-bypass", ebpf.CGroupSockAddr, ebpf.AttachCGroupInet4Bind, genBind4(genOpts{p: o.p, capBypass: true, v6onlyMap: -1}))
	f.SetRetval = try("errno", ebpf.CGroupSockAddr, ebpf.AttachCGroupInet4Bind, genBind4(genOpts{p: o.p, setRetval: true, v6onlyMap: -1}))
	f.SkLookup = try("loopback", ebpf.CGroupSockAddr, ebpf.AttachCGroupInet4Connect, genConnect4(genOpts{p: o.p, skLookup: true, v6onlyMap: -1}))
	f.HideLoopback = try("hide-loopback", ebpf.CGroupSockAddr, ebpf.AttachCgroupInet4GetSockname, genHide4(o)) &&
		try("hide-loopback", ebpf.CGroupSockAddr, ebpf.AttachCgroupInet6GetPeername, genHide6(o)) &&
		try("hide-loopback", ebpf.CGroupSockAddr, ebpf.AttachCGroupUDP4Recvmsg, genHide4(o))
	f.SkbBackstop = try("skb-backstop", ebpf.CGroupSKB, ebpf.AttachCGroupInetIngress, genSkb(o, true)) &&
		try("skb-backstop", ebpf.CGroupSKB, ebpf.AttachCGroupInetEgress, genSkb(o, false))
	if m, err := newV6onlyMap(); err != nil {
		f.Why["v6only"] = shortErr(err)
	} else {
		vo := o
		vo.v6onlyMap = m.FD()
		f.V6Only = try("v6only", ebpf.CGroupSockAddr, ebpf.AttachCGroupInet6Bind, genBind6(vo)) &&
			try("v6only", ebpf.CGroupSockopt, ebpf.AttachCGroupSetsockopt, genSetsockopt(vo))
		m.Close()
	}
	if isolation.LandlockABI() >= 6 {
		f.AbstractUnix = true
	} else {
		f.Why["abstract-unix"] = fmt.Sprintf("landlock ABI %d", isolation.LandlockABI())
	}
	f.UnixConnect = try("unix-connect", ebpf.CGroupSockAddr, ebpf.AttachCgroupUnixConnect, asm.Instructions{asm.Mov.Imm(asm.R0, 1), asm.Return()})
	if err := features.HaveProgramType(ebpf.LSM); err != nil {
		f.Why["lsm-cgroup"] = shortErr(err)
	} else if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		f.Why["lsm-cgroup"] = "no kernel BTF"
	} else {
		// Loading an lsm_cgroup program needs the attach BTF id, which the
		// library does not resolve for it; it stays unused (docs/network.md).
		f.LSMCgroup = true
	}
	if f.Cgroup2 != "" && f.SockAddr {
		if err := probeLink(f.Cgroup2); err != nil {
			f.Why["links"] = shortErr(err)
		} else {
			f.Links = true
		}
	}
	return f
}

// probeLink attaches an allow-all bind4 program as a bpf_link to a scratch
// cgroup (no process is ever in it) and removes both.
func probeLink(root string) error {
	dir := filepath.Join(root, fmt.Sprintf("vserver-probe-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	defer os.Remove(dir)
	cg, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer cg.Close()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.CGroupSockAddr, AttachType: ebpf.AttachCGroupInet4Bind,
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 1), asm.Return()}, License: "MIT",
	})
	if err != nil {
		return err
	}
	defer prog.Close()
	l, err := link.AttachRawLink(link.RawLinkOptions{Target: int(cg.Fd()), Program: prog, Attach: ebpf.AttachCGroupInet4Bind})
	if err != nil {
		return err
	}
	return l.Close()
}

func shortErr(err error) string {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		return ve.Cause.Error()
	}
	return err.Error()
}
