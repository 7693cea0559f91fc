package ipv4root

import (
	"encoding/binary"
	"net/netip"

	"github.com/cilium/ebpf/asm"
)

// Offsets in the uapi context structs (include/uapi/linux/bpf.h); they are
// stable ABI, so the programs need no BTF.
const (
	// struct bpf_sock_addr
	offUserIP4   = 4
	offUserIP6   = 8
	offUserPort  = 24
	offProtocol  = 36
	offMsgSrcIP4 = 40
	offMsgSrcIP6 = 44
	offSk        = 64
	// struct bpf_sock
	offSkSrcIP4  = 24
	offSkSrcIP6  = 28
	offSkSrcPort = 44
	// struct __sk_buff
	offSkbProtocol = 16
	// struct bpf_sockopt
	offOptSk     = 0
	offOptval    = 8
	offOptvalEnd = 16
	offOptLevel  = 24
	offOptName   = 28
	offOptLen    = 32
)

// Linux errno values the programs hand back with bpf_set_retval.
const (
	eADDRNOTAVAIL = 99
	eNETUNREACH   = 101
	eCONNREFUSED  = 111
)

const (
	afInet       = 2
	afInet6      = 10
	ipprotoTCP   = 6
	ipprotoUDP   = 17
	solIPv6      = 41
	ipv6V6only   = 26
	skStorageNew = 1 // BPF_SK_STORAGE_GET_F_CREATE
)

// EtherTypes as the __sk_buff protocol field holds them (network order).
var (
	ethPIP   = int32(binary.NativeEndian.Uint16([]byte{0x08, 0x00}))
	ethPIPv6 = int32(binary.NativeEndian.Uint16([]byte{0x86, 0xdd}))
)

// genOpts is what a program generator needs: the policy and what the
// kernel can do.
type genOpts struct {
	p         Policy // normalized
	setRetval bool   // bpf_set_retval (5.18): real errnos instead of EPERM
	capBypass bool   // bind return bit 1 (5.12): no CAP_NET_BIND_SERVICE check
	skLookup  bool   // bpf_sk_lookup_* in sock_addr programs
	v6onlyMap int    // fd of the sk_storage map recording IPV6_V6ONLY, or -1
}

func (o genOpts) bindRet() int32 {
	if o.capBypass {
		return 3
	}
	return 1
}

// owned4 is every IPv4 address the guest may bind or send from.
func (p Policy) owned4() []netip.Addr {
	out := append([]netip.Addr(nil), p.IPv4...)
	for _, a := range out {
		if a == p.Loopback {
			return out
		}
	}
	return append(out, p.Loopback)
}

// owned6 is every IPv6 address the guest may bind or send from.
func (p Policy) owned6() []netip.Addr {
	out := append([]netip.Addr(nil), p.IPv6...)
	if p.sharedLoopback() {
		out = append(out, netip.IPv6Loopback())
	}
	return out
}

var (
	net127Mask   = word([]byte{0xff, 0, 0, 0})
	net127       = word([]byte{127, 0, 0, 0})
	lbRangeMask  = word([]byte{0xff, 0xc0, 0, 0})
	lbRangeNet   = word4(LoopbackRange.Addr())
	localhost4W  = word4(localhost4)
	v6Loopback   = words6(netip.IPv6Loopback())
	v6LoopbackW3 = v6Loopback[3]
)

// bindV4 handles an IPv4 bind address at ctx+off: 0.0.0.0 becomes the
// first IPv4, 127.0.0.1 the guest loopback, owned addresses pass, the rest
// fail with EADDRNOTAVAIL. Every path ends in a jump.
func (b *builder) bindV4(o genOpts, off int16) {
	p := o.p
	ok := b.allow(o.bindRet())
	refuse := b.refuse(eADDRNOTAVAIL, o.setRetval)
	wild := b.newLabel("wild")
	toLb := b.newLabel("tolb")
	b.emit(
		asm.LoadMem(asm.R7, asm.R6, off, asm.Word),
		asm.JEq.Imm32(asm.R7, 0, wild),
	)
	if !p.sharedLoopback() {
		b.emit(asm.JEq.Imm32(asm.R7, localhost4W, toLb))
	}
	for _, a := range p.owned4() {
		b.emit(asm.JEq.Imm32(asm.R7, word4(a), ok))
	}
	b.goTo(refuse)
	b.mark(wild)
	if len(p.IPv4) == 0 {
		b.goTo(refuse)
	} else {
		b.emit(
			asm.Mov.Imm32(asm.R1, word4(p.IPv4[0])),
			asm.StoreMem(asm.R6, off, asm.R1, asm.Word),
		)
		b.goTo(ok)
	}
	if !p.sharedLoopback() {
		b.mark(toLb)
		b.emit(
			asm.Mov.Imm32(asm.R1, word4(p.Loopback)),
			asm.StoreMem(asm.R6, off, asm.R1, asm.Word),
		)
		b.goTo(ok)
	}
}

func genBind4(o genOpts) asm.Instructions {
	b := newBuilder()
	b.bindV4(o, offUserIP4)
	return b.finish()
}

func genBind6(o genOpts) asm.Instructions {
	p := o.p
	b := newBuilder()
	ok := b.allow(o.bindRet())
	refuse := b.refuse(eADDRNOTAVAIL, o.setRetval)
	wild := b.newLabel("wild6")
	notMapped := b.newLabel("notmapped")
	b.jumpIfZero6(asm.R6, offUserIP6, wild)
	b.loadMappedCheck(offUserIP6, asm.R7, notMapped)
	b.bindV4(o, offUserIP6+12)
	b.mark(notMapped)
	b.match6(offUserIP6, p.owned6(), ok)
	b.goTo(refuse)

	b.mark(wild)
	switch {
	case len(p.IPv6) > 0:
		b.storeWords(offUserIP6, words6(p.IPv6[0]))
		b.goTo(ok)
	case len(p.IPv4) > 0:
		// No IPv6: [::] becomes a v4-mapped listener. A socket that asked
		// for IPV6_V6ONLY (nginx, sshd do) expects to serve IPv6 only,
		// which this guest has not; it gets the guest loopback instead of
		// the guest IP, so it does not collide with the same daemon's
		// IPv4 socket on 0.0.0.0 (which became the guest IP).
		dual := b.newLabel("dual")
		write := b.newLabel("write")
		if o.v6onlyMap >= 0 {
			b.emit(
				asm.LoadMapPtr(asm.R1, o.v6onlyMap),
				asm.LoadMem(asm.R2, asm.R6, offSk, asm.DWord),
				asm.Mov.Imm(asm.R3, 0),
				asm.Mov.Imm(asm.R4, 0),
				asm.FnSkStorageGet.Call(),
				asm.JEq.Imm(asm.R0, 0, dual),
				asm.LoadMem(asm.R1, asm.R0, 0, asm.Word),
				asm.JEq.Imm32(asm.R1, 0, dual),
			)
			if p.sharedLoopback() {
				b.goTo(refuse)
			} else {
				b.emit(asm.Mov.Imm32(asm.R8, word4(p.Loopback)))
				b.goTo(write)
			}
		}
		b.mark(dual)
		b.emit(asm.Mov.Imm32(asm.R8, word4(p.IPv4[0])))
		b.mark(write)
		b.storeMapped(offUserIP6, asm.R8)
		b.goTo(ok)
	default:
		b.goTo(refuse)
	}
	return b.finish()
}

// routeV4 handles the IPv4 destination at ctx+dstOff of a connect or an
// unconnected send. 127.0.0.1 (and 0.0.0.0, which Linux treats alike) go
// to the guest's own listener on that port: on the guest loopback if one
// is there, else on the first guest IP, else the call fails with
// ECONNREFUSED, so a host or another guest never answers. Other guests'
// loopback addresses are refused. It leaves the source address to use in
// r8 and jumps to srcDone; with a shared (host) loopback, loopback
// destinations jump to direct instead.
func (b *builder) routeV4(o genOpts, dstOff int16, udpOnly bool, srcDone, direct string) {
	p := o.p
	refused := b.refuse(eCONNREFUSED, o.setRetval)
	loop := b.newLabel("loop")
	srcLb := b.newLabel("srclb")
	b.emit(asm.LoadMem(asm.R7, asm.R6, dstOff, asm.Word))
	if p.sharedLoopback() {
		b.emit(
			asm.JEq.Imm32(asm.R7, 0, direct),
			asm.Mov.Reg(asm.R1, asm.R7),
			asm.And.Imm32(asm.R1, net127Mask),
			asm.JEq.Imm32(asm.R1, net127, direct),
		)
	} else {
		own := b.newLabel("own")
		b.emit(
			asm.JEq.Imm32(asm.R7, localhost4W, loop),
			asm.JEq.Imm32(asm.R7, 0, loop),
			asm.JEq.Imm32(asm.R7, word4(p.Loopback), srcLb),
		)
		// The guest's own addresses are never "another guest's loopback",
		// even when a test or demo address lies in the loopback range.
		for _, ip := range p.IPv4 {
			b.emit(asm.JEq.Imm32(asm.R7, word4(ip), own))
		}
		b.emit(
			asm.Mov.Reg(asm.R1, asm.R7),
			asm.And.Imm32(asm.R1, lbRangeMask),
			asm.JEq.Imm32(asm.R1, lbRangeNet, refused),
		)
		b.mark(own)
	}
	if len(p.IPv4) == 0 {
		b.goTo(b.refuse(eNETUNREACH, o.setRetval))
	} else {
		b.emit(asm.Mov.Imm32(asm.R8, word4(p.IPv4[0])))
		b.goTo(srcDone)
	}
	if p.sharedLoopback() {
		return
	}

	b.mark(loop)
	dstLb := b.newLabel("dstlb")
	dstG := b.newLabel("dstg")
	if o.skLookup {
		type proto struct {
			label string
			fn    asm.BuiltinFunc
		}
		udp := proto{b.newLabel("udp"), asm.FnSkLookupUdp}
		protos := []proto{udp}
		if !udpOnly {
			tcp := proto{b.newLabel("tcp"), asm.FnSkLookupTcp}
			protos = append(protos, tcp)
			b.emit(
				asm.LoadMem(asm.R1, asm.R6, offProtocol, asm.Word),
				asm.JEq.Imm32(asm.R1, ipprotoTCP, tcp.label),
				asm.JEq.Imm32(asm.R1, ipprotoUDP, udp.label),
			)
			// Other protocols (ping sockets): just the guest loopback.
			b.goTo(dstLb)
		}
		for _, pr := range protos {
			b.mark(pr.label)
			b.lookup(pr.fn, p.Loopback, dstLb)
			if len(p.IPv4) > 0 {
				b.lookup(pr.fn, p.IPv4[0], dstG)
			}
			b.goTo(refused)
		}
	}
	b.mark(dstLb)
	b.emit(
		asm.Mov.Imm32(asm.R1, word4(p.Loopback)),
		asm.StoreMem(asm.R6, dstOff, asm.R1, asm.Word),
	)
	b.goTo(srcLb)
	if o.skLookup && len(p.IPv4) > 0 {
		b.mark(dstG)
		b.emit(
			asm.Mov.Imm32(asm.R1, word4(p.IPv4[0])),
			asm.StoreMem(asm.R6, dstOff, asm.R1, asm.Word),
		)
	}
	b.mark(srcLb)
	b.emit(asm.Mov.Imm32(asm.R8, word4(p.Loopback)))
	b.goTo(srcDone)
}

// lookup jumps to found when a socket of the helper's protocol is bound to
// exactly addr on the destination port (a wildcard socket of the host does
// not count). It uses r1-r5, r9 and 12 bytes of stack.
func (b *builder) lookup(fn asm.BuiltinFunc, addr netip.Addr, found string) {
	next := b.newLabel("nolistener")
	b.emit(
		// struct bpf_sock_tuple.ipv4: saddr, daddr, sport, dport
		asm.StoreImm(asm.RFP, -32, 0, asm.Word),
		asm.Mov.Imm32(asm.R1, word4(addr)),
		asm.StoreMem(asm.RFP, -28, asm.R1, asm.Word),
		asm.StoreImm(asm.RFP, -24, 0, asm.Half),
		asm.LoadMem(asm.R1, asm.R6, offUserPort, asm.Word),
		asm.StoreMem(asm.RFP, -22, asm.R1, asm.Half),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -32),
		asm.Mov.Imm(asm.R3, 12),
		asm.Mov.Imm(asm.R4, -1), // BPF_F_CURRENT_NETNS
		asm.Mov.Imm(asm.R5, 0),
		fn.Call(),
		asm.JEq.Imm(asm.R0, 0, next),
		asm.LoadMem(asm.R9, asm.R0, offSkSrcIP4, asm.Word),
		asm.Mov.Reg(asm.R1, asm.R0),
		asm.FnSkRelease.Call(),
		asm.JEq.Imm32(asm.R9, word4(addr), found),
	)
	b.mark(next)
}

// refuseWildcardBound fails a connect on a socket already bound to the
// wildcard (UDP sendto autobinds so): bpf_bind cannot move it any more,
// and the kernel would pick a host address as the source.
func (b *builder) refuseWildcardBound(o genOpts, v6 bool) {
	refuse := b.refuse(eADDRNOTAVAIL, o.setRetval)
	fine := b.newLabel("notwild")
	b.emit(
		asm.LoadMem(asm.R9, asm.R6, offSk, asm.DWord),
		asm.LoadMem(asm.R2, asm.R9, offSkSrcPort, asm.Word),
		asm.JEq.Imm32(asm.R2, 0, fine),
	)
	if v6 {
		b.jumpIfZero6(asm.R9, offSkSrcIP6, refuse)
	} else {
		b.emit(
			asm.LoadMem(asm.R2, asm.R9, offSkSrcIP4, asm.Word),
			asm.JEq.Imm32(asm.R2, 0, refuse),
		)
	}
	b.mark(fine)
}

// bindSource4 binds the socket to <r8>:0 with bpf_bind (an explicitly
// bound socket keeps its address: the helper then fails, harmlessly).
func (b *builder) bindSource4(o genOpts, sock6 bool) {
	if !sock6 {
		b.emit(
			asm.StoreImm(asm.RFP, -16, afInet, asm.Half),
			asm.StoreImm(asm.RFP, -14, 0, asm.Half),
			asm.StoreMem(asm.RFP, -12, asm.R8, asm.Word),
			asm.StoreImm(asm.RFP, -8, 0, asm.Word),
			asm.StoreImm(asm.RFP, -4, 0, asm.Word),
			asm.Mov.Reg(asm.R1, asm.R6),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, -16),
			asm.Mov.Imm(asm.R3, 16),
			asm.FnBind.Call(),
		)
	} else {
		b.emit(
			asm.StoreImm(asm.RFP, -48, afInet6, asm.Half),
			asm.StoreImm(asm.RFP, -46, 0, asm.Half),
			asm.StoreImm(asm.RFP, -44, 0, asm.Word),
			asm.StoreImm(asm.RFP, -40, 0, asm.Word),
			asm.StoreImm(asm.RFP, -36, 0, asm.Word),
			asm.StoreImm(asm.RFP, -32, int64(mappedPrefix), asm.Word),
			asm.StoreMem(asm.RFP, -28, asm.R8, asm.Word),
			asm.StoreImm(asm.RFP, -24, 0, asm.Word),
		)
		b.bindSockaddr6()
	}
	b.goTo(b.allow(1))
}

func (b *builder) bindSockaddr6() {
	b.emit(
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -48),
		asm.Mov.Imm(asm.R3, 28),
		asm.FnBind.Call(),
	)
}

func genConnect4(o genOpts) asm.Instructions {
	b := newBuilder()
	b.refuseWildcardBound(o, false)
	src := b.newLabel("src")
	b.routeV4(o, offUserIP4, false, src, b.allow(1))
	b.mark(src)
	b.bindSource4(o, false)
	return b.finish()
}

func genConnect6(o genOpts) asm.Instructions {
	p := o.p
	b := newBuilder()
	b.refuseWildcardBound(o, true)
	notMapped := b.newLabel("notmapped")
	b.loadMappedCheck(offUserIP6, asm.R7, notMapped)
	src := b.newLabel("src")
	b.routeV4(o, offUserIP6+12, false, src, b.allow(1))
	b.mark(src)
	b.bindSource4(o, true)

	b.mark(notMapped)
	b.loopback6(o)
	if len(p.IPv6) == 0 {
		b.goTo(b.refuse(eNETUNREACH, o.setRetval))
		return b.finish()
	}
	w := words6(p.IPv6[0])
	b.emit(
		asm.StoreImm(asm.RFP, -48, afInet6, asm.Half),
		asm.StoreImm(asm.RFP, -46, 0, asm.Half),
		asm.StoreImm(asm.RFP, -44, 0, asm.Word),
		asm.StoreImm(asm.RFP, -40, int64(w[0]), asm.Word),
		asm.StoreImm(asm.RFP, -36, int64(w[1]), asm.Word),
		asm.StoreImm(asm.RFP, -32, int64(w[2]), asm.Word),
		asm.StoreImm(asm.RFP, -28, int64(w[3]), asm.Word),
		asm.StoreImm(asm.RFP, -24, 0, asm.Word),
	)
	b.bindSockaddr6()
	b.goTo(b.allow(1))
	return b.finish()
}

// loopback6 handles the IPv6 destinations :: and ::1: a guest has no IPv6
// loopback of its own, so they are refused (ECONNREFUSED, as if nothing
// listened); with the host's loopback they pass.
func (b *builder) loopback6(o genOpts) {
	target := b.refuse(eCONNREFUSED, o.setRetval)
	if o.p.sharedLoopback() {
		target = b.allow(1)
	}
	other := b.newLabel("notlo6")
	b.emit(
		asm.LoadMem(asm.R1, asm.R6, offUserIP6, asm.Word),
		asm.JNE.Imm32(asm.R1, 0, other),
		asm.LoadMem(asm.R1, asm.R6, offUserIP6+4, asm.Word),
		asm.JNE.Imm32(asm.R1, 0, other),
		asm.LoadMem(asm.R1, asm.R6, offUserIP6+8, asm.Word),
		asm.JNE.Imm32(asm.R1, 0, other),
		asm.LoadMem(asm.R1, asm.R6, offUserIP6+12, asm.Word),
		asm.JEq.Imm32(asm.R1, 0, target),
		asm.JEq.Imm32(asm.R1, v6LoopbackW3, target),
	)
	b.mark(other)
}

func genSendmsg4(o genOpts) asm.Instructions {
	b := newBuilder()
	ok := b.allow(1)
	src := b.newLabel("src")
	b.routeV4(o, offUserIP4, true, src, ok)
	b.mark(src)
	write := b.newLabel("write")
	b.emit(
		asm.LoadMem(asm.R1, asm.R6, offMsgSrcIP4, asm.Word),
		asm.JEq.Imm32(asm.R1, 0, write),
	)
	for _, a := range o.p.owned4() {
		b.emit(asm.JEq.Imm32(asm.R1, word4(a), ok))
	}
	b.goTo(b.refuse(eADDRNOTAVAIL, o.setRetval))
	b.mark(write)
	b.emit(asm.StoreMem(asm.R6, offMsgSrcIP4, asm.R8, asm.Word))
	b.goTo(ok)
	return b.finish()
}

func genSendmsg6(o genOpts) asm.Instructions {
	p := o.p
	b := newBuilder()
	ok := b.allow(1)
	refuse := b.refuse(eADDRNOTAVAIL, o.setRetval)

	// v4-mapped destinations normally take the IPv4 path (sendmsg4);
	// handle them here too in case a kernel does not.
	notMapped := b.newLabel("notmapped")
	b.loadMappedCheck(offUserIP6, asm.R7, notMapped)
	src := b.newLabel("src")
	b.routeV4(o, offUserIP6+12, true, src, ok)
	b.mark(src)
	write := b.newLabel("write")
	b.jumpIfZero6(asm.R6, offMsgSrcIP6, write)
	srcNotMapped := b.newLabel("srcnotmapped")
	b.loadMappedCheck(offMsgSrcIP6, asm.R1, srcNotMapped)
	for _, a := range p.owned4() {
		b.emit(asm.JEq.Imm32(asm.R1, word4(a), ok))
	}
	b.mark(srcNotMapped)
	b.goTo(refuse)
	b.mark(write)
	b.storeMapped(offMsgSrcIP6, asm.R8)
	b.goTo(ok)

	b.mark(notMapped)
	b.loopback6(o)
	if len(p.IPv6) == 0 {
		b.goTo(b.refuse(eNETUNREACH, o.setRetval))
		return b.finish()
	}
	write6 := b.newLabel("write6")
	b.jumpIfZero6(asm.R6, offMsgSrcIP6, write6)
	b.match6(offMsgSrcIP6, p.owned6(), ok)
	b.goTo(refuse)
	b.mark(write6)
	b.storeWords(offMsgSrcIP6, words6(p.IPv6[0]))
	b.goTo(ok)
	return b.finish()
}

// genHide4 and genHide6 show the guest loopback as 127.0.0.1 again
// (getsockname, getpeername, recvfrom), like the vserver kernel's
// HIDE_LBACK.
func genHide4(o genOpts) asm.Instructions {
	b := newBuilder()
	out := b.allow(1)
	b.emit(
		asm.LoadMem(asm.R1, asm.R6, offUserIP4, asm.Word),
		asm.JNE.Imm32(asm.R1, word4(o.p.Loopback), out),
		asm.Mov.Imm32(asm.R1, localhost4W),
		asm.StoreMem(asm.R6, offUserIP4, asm.R1, asm.Word),
	)
	b.goTo(out)
	return b.finish()
}

func genHide6(o genOpts) asm.Instructions {
	b := newBuilder()
	out := b.allow(1)
	b.loadMappedCheck(offUserIP6, asm.R7, out)
	b.emit(
		asm.JNE.Imm32(asm.R7, word4(o.p.Loopback), out),
		asm.Mov.Imm32(asm.R1, localhost4W),
		asm.StoreMem(asm.R6, offUserIP6+12, asm.R1, asm.Word),
	)
	b.goTo(out)
	return b.finish()
}

// genSetsockopt (guests without IPv6 only) records IPV6_V6ONLY requests in
// socket storage instead of applying them: a v6-only socket could not take
// the v4-mapped address genBind6 gives [::].
func genSetsockopt(o genOpts) asm.Instructions {
	b := newBuilder()
	pass := b.allow(1)
	b.emit(
		asm.LoadMem(asm.R1, asm.R6, offOptLevel, asm.Word),
		asm.JNE.Imm32(asm.R1, solIPv6, pass),
		asm.LoadMem(asm.R1, asm.R6, offOptName, asm.Word),
		asm.JNE.Imm32(asm.R1, ipv6V6only, pass),
		asm.LoadMem(asm.R2, asm.R6, offOptval, asm.DWord),
		asm.LoadMem(asm.R3, asm.R6, offOptvalEnd, asm.DWord),
		asm.Mov.Reg(asm.R4, asm.R2),
		asm.Add.Imm(asm.R4, 4),
		asm.JGT.Reg(asm.R4, asm.R3, pass),
		asm.LoadMem(asm.R7, asm.R2, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, o.v6onlyMap),
		asm.LoadMem(asm.R2, asm.R6, offOptSk, asm.DWord),
		asm.Mov.Imm(asm.R3, 0),
		asm.Mov.Imm(asm.R4, skStorageNew),
		asm.FnSkStorageGet.Call(),
		asm.JEq.Imm(asm.R0, 0, pass),
		asm.StoreMem(asm.R0, 0, asm.R7, asm.Word),
		// optlen -1: the kernel skips its own handler and returns 0.
		asm.Mov.Imm32(asm.R1, -1),
		asm.StoreMem(asm.R6, offOptLen, asm.R1, asm.Word),
	)
	b.goTo(pass)
	return b.finish()
}

// genSkb is the packet-level backstop (cgroup_skb ingress or egress): a
// packet a guest socket receives must be addressed to, and one it sends
// must come from, an address the guest owns. It catches what the sock_addr
// hooks never see: listen() on an unbound socket and UDP sendto autobind
// to the wildcard (no hook runs), so such a socket would otherwise serve
// every host address; and raw sockets choosing their own source.
func genSkb(o genOpts, ingress bool) asm.Instructions {
	p := o.p
	b := newBuilder()
	pass := b.allow(1)
	drop := b.addTail("drop", func(b *builder) {
		b.emit(asm.Mov.Imm(asm.R0, 0), asm.Return())
	})
	off4, off6 := int32(12), int32(8) // saddr in the IPv4 / IPv6 header
	if ingress {
		off4, off6 = 16, 24 // daddr
	}
	v4, v6 := b.newLabel("ip4"), b.newLabel("ip6")
	b.emit(
		asm.LoadMem(asm.R1, asm.R6, offSkbProtocol, asm.Word),
		asm.JEq.Imm32(asm.R1, ethPIP, v4),
		asm.JEq.Imm32(asm.R1, ethPIPv6, v6),
	)
	b.goTo(pass)

	b.mark(v4)
	b.loadBytes(off4, 4)
	b.emit(asm.LoadMem(asm.R7, asm.RFP, -16, asm.Word))
	for _, a := range p.owned4() {
		b.emit(asm.JEq.Imm32(asm.R7, word4(a), pass))
	}
	b.goTo(drop)

	b.mark(v6)
	if len(p.owned6()) == 0 {
		b.goTo(drop)
		return b.finish()
	}
	b.loadBytes(off6, 16)
	b.match6At(asm.RFP, -16, p.owned6(), pass)
	b.goTo(drop)
	return b.finish()
}

// loadBytes copies n bytes of the packet at off to the stack at fp-16
// (dropping a packet too short to hold them).
func (b *builder) loadBytes(off int32, n int32) {
	drop := "drop"
	b.emit(
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, off),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, -16),
		asm.Mov.Imm(asm.R4, n),
		asm.FnSkbLoadBytes.Call(),
		asm.JNE.Imm(asm.R0, 0, drop),
	)
}
