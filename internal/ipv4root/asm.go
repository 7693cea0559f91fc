package ipv4root

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/cilium/ebpf/asm"
)

// builder assembles one program. Labels name the next emitted
// instruction; tails (allow, refuse with an errno) are emitted once, at the
// end, and only when something jumps to them: the verifier rejects
// unreachable instructions.
type builder struct {
	insns   asm.Instructions
	pending string
	used    map[string]bool
	seq     int
	tails   []tail
}

type tail struct {
	label string
	code  func(b *builder)
}

func newBuilder() *builder {
	b := &builder{used: map[string]bool{}}
	// r6 holds the context for the whole program; the no-op label filler
	// below relies on it being set.
	b.emit(asm.Mov.Reg(asm.R6, asm.R1))
	return b
}

func (b *builder) emit(ins ...asm.Instruction) {
	for _, in := range ins {
		if b.pending != "" {
			in = in.WithSymbol(b.pending)
			b.pending = ""
		}
		if ref := in.Reference(); ref != "" {
			b.used[ref] = true
		}
		b.insns = append(b.insns, in)
	}
}

// mark puts label on the next instruction.
func (b *builder) mark(label string) {
	if b.pending != "" {
		// Two labels on one spot: give the first its own no-op.
		b.emit(asm.Mov.Reg(asm.R6, asm.R6))
	}
	b.pending = label
}

func (b *builder) newLabel(prefix string) string {
	b.seq++
	return fmt.Sprintf("%s_%d", prefix, b.seq)
}

func (b *builder) goTo(label string) { b.emit(asm.Ja.Label(label)) }

// addTail registers a shared tail under label (once).
func (b *builder) addTail(label string, code func(b *builder)) string {
	for _, t := range b.tails {
		if t.label == label {
			return label
		}
	}
	b.tails = append(b.tails, tail{label, code})
	return label
}

// finish emits the tails that are jumped to and returns the program.
func (b *builder) finish() asm.Instructions {
	for i := 0; i < len(b.tails); i++ { // tails may add tails
		t := b.tails[i]
		if !b.used[t.label] {
			continue
		}
		b.mark(t.label)
		t.code(b)
	}
	return b.insns
}

// allow returns the label of "return ret".
func (b *builder) allow(ret int32) string {
	return b.addTail(fmt.Sprintf("allow_%d", ret), func(b *builder) {
		b.emit(asm.Mov.Imm(asm.R0, ret), asm.Return())
	})
}

// refuse returns the label of "fail the call with errno" (EPERM when the
// kernel cannot set another errno: bpf_set_retval is 5.18+).
func (b *builder) refuse(errno int32, setRetval bool) string {
	return b.addTail(fmt.Sprintf("refuse_%d", errno), func(b *builder) {
		if setRetval {
			b.emit(asm.Mov.Imm(asm.R1, -errno), asm.FnSetRetval.Call())
		}
		b.emit(asm.Mov.Imm(asm.R0, 0), asm.Return())
	})
}

// word is a 4-byte piece of an address as a 32-bit load from memory sees
// it (addresses are stored in network byte order).
func word(b []byte) int32 { return int32(binary.NativeEndian.Uint32(b)) }

func word4(a netip.Addr) int32 {
	v := a.As4()
	return word(v[:])
}

func words6(a netip.Addr) [4]int32 {
	v := a.As16()
	return [4]int32{word(v[0:4]), word(v[4:8]), word(v[8:12]), word(v[12:16])}
}

// mappedPrefix is word 2 of a v4-mapped IPv6 address (::ffff:0:0/96).
var mappedPrefix = word([]byte{0, 0, 0xff, 0xff})

// loadMappedCheck jumps to notMapped unless the four words at ctx+off are
// ::ffff:a.b.c.d; on fall-through the IPv4 part is in dst.
func (b *builder) loadMappedCheck(off int16, dst asm.Register, notMapped string) {
	b.emit(
		asm.LoadMem(asm.R1, asm.R6, off, asm.Word),
		asm.JNE.Imm32(asm.R1, 0, notMapped),
		asm.LoadMem(asm.R1, asm.R6, off+4, asm.Word),
		asm.JNE.Imm32(asm.R1, 0, notMapped),
		asm.LoadMem(asm.R1, asm.R6, off+8, asm.Word),
		asm.JNE.Imm32(asm.R1, mappedPrefix, notMapped),
		asm.LoadMem(dst, asm.R6, off+12, asm.Word),
	)
}

// storeWords writes four constant words at ctx+off.
func (b *builder) storeWords(off int16, w [4]int32) {
	for i, v := range w {
		b.emit(asm.Mov.Imm32(asm.R1, v), asm.StoreMem(asm.R6, off+int16(4*i), asm.R1, asm.Word))
	}
}

// storeMapped writes ::ffff:<reg> at ctx+off.
func (b *builder) storeMapped(off int16, reg asm.Register) {
	b.emit(
		asm.Mov.Imm32(asm.R1, 0),
		asm.StoreMem(asm.R6, off, asm.R1, asm.Word),
		asm.StoreMem(asm.R6, off+4, asm.R1, asm.Word),
		asm.Mov.Imm32(asm.R1, mappedPrefix),
		asm.StoreMem(asm.R6, off+8, asm.R1, asm.Word),
		asm.StoreMem(asm.R6, off+12, reg, asm.Word),
	)
}

// match6 jumps to hit when the four words at ctx+off equal one of addrs.
// It uses r2-r5.
func (b *builder) match6(off int16, addrs []netip.Addr, hit string) {
	b.match6At(asm.R6, off, addrs, hit)
}

// match6At is match6 for the words at base+off.
func (b *builder) match6At(base asm.Register, off int16, addrs []netip.Addr, hit string) {
	if len(addrs) == 0 {
		return
	}
	regs := []asm.Register{asm.R2, asm.R3, asm.R4, asm.R5}
	for i, r := range regs {
		b.emit(asm.LoadMem(r, base, off+int16(4*i), asm.Word))
	}
	for _, a := range addrs {
		next := b.newLabel("next6")
		w := words6(a)
		for i, r := range regs {
			b.emit(asm.JNE.Imm32(r, w[i], next))
		}
		b.goTo(hit)
		b.mark(next)
	}
}

// jumpIfZero6 jumps to label when the four words at base+off are all zero.
// It uses r2; base must be another register.
func (b *builder) jumpIfZero6(base asm.Register, off int16, label string) {
	notZero := b.newLabel("nz6")
	for i := int16(0); i < 3; i++ {
		b.emit(
			asm.LoadMem(asm.R2, base, off+4*i, asm.Word),
			asm.JNE.Imm32(asm.R2, 0, notZero),
		)
	}
	b.emit(
		asm.LoadMem(asm.R2, base, off+12, asm.Word),
		asm.JEq.Imm32(asm.R2, 0, label),
	)
	b.mark(notZero)
}
