//go:build linux

package isolation

import "golang.org/x/sys/unix"

// Offsets into struct seccomp_data (linux/seccomp.h): nr, arch, ip, args[6].
const (
	seccompDataNr   = 0
	seccompDataArch = 4
	seccompDataArg0 = 16 // low 32 bits on little-endian amd64 and arm64
)

const (
	cloneNewUser  = 0x10000000
	x32SyscallBit = 0x40000000
)

// seccompArch describes the native architecture the filter allows.
type seccompArch struct {
	auditArch uint32
	x32       bool    // refuse the x32 ABI (syscall numbers with bit 30 set)
	denied    []int32 // answered with EPERM
	clone     int32
	clone3    int32
	unshare   int32
}

// insn is one classic BPF instruction whose jumps name labels.
type insn struct {
	code   uint16
	k      uint32
	jt, jf string // label names; "" = next instruction
	label  string // this instruction's label
}

// buildSeccomp returns the deny-list program for arch:
//   - a syscall of another architecture (i386 or arm32 compat entry) or of
//     the x32 ABI kills the process: the deny-list only knows the native
//     numbers, so a foreign table would bypass it;
//   - each denied syscall fails with EPERM;
//   - with denyUserns, clone and unshare with CLONE_NEWUSER fail with EPERM
//     and clone3 (whose flags live in memory BPF cannot read) fails with
//     ENOSYS, so libc falls back to clone;
//   - everything else is allowed.
func buildSeccomp(a seccompArch, denyUserns bool) []unix.SockFilter {
	const (
		ldAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jge   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		jset  = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		ret   = unix.BPF_RET | unix.BPF_K
	)
	p := []insn{
		{code: ldAbs, k: seccompDataArch},
		{code: jeq, k: a.auditArch, jf: "kill"},
		{code: ldAbs, k: seccompDataNr},
	}
	if a.x32 {
		p = append(p, insn{code: jge, k: x32SyscallBit, jt: "kill"})
	}
	for _, nr := range a.denied {
		p = append(p, insn{code: jeq, k: uint32(nr), jt: "eperm"})
	}
	if denyUserns {
		p = append(p,
			insn{code: jeq, k: uint32(a.clone3), jt: "enosys"},
			insn{code: jeq, k: uint32(a.clone), jt: "nsflags"},
			insn{code: jeq, k: uint32(a.unshare), jt: "nsflags"},
		)
	}
	p = append(p, insn{code: ret, k: unix.SECCOMP_RET_ALLOW})
	if denyUserns {
		p = append(p,
			insn{label: "nsflags", code: ldAbs, k: seccompDataArg0},
			insn{code: jset, k: cloneNewUser, jt: "eperm"},
			insn{code: ret, k: unix.SECCOMP_RET_ALLOW},
			insn{label: "enosys", code: ret, k: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
		)
	}
	p = append(p,
		insn{label: "eperm", code: ret, k: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
		insn{label: "kill", code: ret, k: unix.SECCOMP_RET_KILL_PROCESS},
	)

	at := map[string]int{}
	for i, in := range p {
		if in.label != "" {
			at[in.label] = i
		}
	}
	rel := func(i int, label string) uint8 {
		if label == "" {
			return 0
		}
		d := at[label] - i - 1
		if d < 0 || d > 255 {
			panic("seccomp: jump out of range to " + label) // a bug in this table, not input
		}
		return uint8(d)
	}
	out := make([]unix.SockFilter, len(p))
	for i, in := range p {
		out[i] = unix.SockFilter{Code: in.code, K: in.k, Jt: rel(i, in.jt), Jf: rel(i, in.jf)}
	}
	return out
}
