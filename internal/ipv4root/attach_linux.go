package ipv4root

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// Attachment is the set of programs attached to one cgroup.
type Attachment struct {
	links  []link.Link
	active []string
}

// Active names the protections in force for this cgroup: the attached
// programs and the kernel refinements they use.
func (a *Attachment) Active() []string { return append([]string(nil), a.active...) }

// Close releases this process's handles. Pinned links stay attached (until
// Detach); unpinned ones (Chbind) are detached.
func (a *Attachment) Close() error {
	var errs []error
	for _, l := range a.links {
		errs = append(errs, l.Close())
	}
	a.links = nil
	return errors.Join(errs...)
}

type progDef struct {
	name     string
	typ      ebpf.ProgramType
	attach   ebpf.AttachType
	insns    asm.Instructions
	required bool
}

// Attach loads the programs for p and attaches them as bpf_links to the
// cgroup2 directory cgroupDir. With pinDir set, each link is pinned there
// (a directory on a bpffs; a bpffs is mounted on /sys/fs/bpf when pinDir is
// below it and none is), so the programs outlive the calling process until
// Detach(pinDir). Attach refuses when a program of the minimum set cannot
// be attached: a guest is never silently unrestricted.
func Attach(cgroupDir string, pinDir string, p Policy) (*Attachment, error) {
	a, err := attach(cgroupDir, pinDir, p)
	if err != nil {
		return nil, fmt.Errorf("ipv4root: attach to %s: %w", cgroupDir, err)
	}
	return a, nil
}

func attach(cgroupDir, pinDir string, p Policy) (_ *Attachment, err error) {
	p, err = p.normalize(cgroupDir)
	if err != nil {
		return nil, err
	}
	f := Probe()
	if missing := f.Missing(); len(missing) > 0 {
		return nil, fmt.Errorf("kernel %s lacks %s", f.Kernel, strings.Join(missing, ", "))
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, err
	}
	if pinDir != "" {
		if err := preparePinDir(pinDir); err != nil {
			return nil, err
		}
	}
	cg, err := os.OpenFile(cgroupDir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer cg.Close()
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(cg.Fd()), &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		return nil, fmt.Errorf("%s is not a cgroup2 directory", cgroupDir)
	}

	o := genOpts{p: p, setRetval: f.SetRetval, capBypass: f.CapBypass, skLookup: f.SkLookup, v6onlyMap: -1}
	useV6only := f.V6Only && len(p.IPv6) == 0 && len(p.IPv4) > 0
	if useV6only {
		m, err := newV6onlyMap()
		if err != nil {
			return nil, err
		}
		defer m.Close() // the programs hold their own reference
		o.v6onlyMap = m.FD()
	}

	defs := []progDef{
		{"bind4", ebpf.CGroupSockAddr, ebpf.AttachCGroupInet4Bind, genBind4(o), true},
		{"bind6", ebpf.CGroupSockAddr, ebpf.AttachCGroupInet6Bind, genBind6(o), true},
		{"connect4", ebpf.CGroupSockAddr, ebpf.AttachCGroupInet4Connect, genConnect4(o), true},
		{"connect6", ebpf.CGroupSockAddr, ebpf.AttachCGroupInet6Connect, genConnect6(o), true},
		{"sendmsg4", ebpf.CGroupSockAddr, ebpf.AttachCGroupUDP4Sendmsg, genSendmsg4(o), true},
		{"sendmsg6", ebpf.CGroupSockAddr, ebpf.AttachCGroupUDP6Sendmsg, genSendmsg6(o), true},
	}
	if f.HideLoopback && !p.sharedLoopback() {
		h4, h6 := genHide4(o), genHide6(o)
		defs = append(defs,
			progDef{"getsockname4", ebpf.CGroupSockAddr, ebpf.AttachCgroupInet4GetSockname, h4, false},
			progDef{"getsockname6", ebpf.CGroupSockAddr, ebpf.AttachCgroupInet6GetSockname, h6, false},
			progDef{"getpeername4", ebpf.CGroupSockAddr, ebpf.AttachCgroupInet4GetPeername, h4, false},
			progDef{"getpeername6", ebpf.CGroupSockAddr, ebpf.AttachCgroupInet6GetPeername, h6, false},
			progDef{"recvmsg4", ebpf.CGroupSockAddr, ebpf.AttachCGroupUDP4Recvmsg, h4, false},
			progDef{"recvmsg6", ebpf.CGroupSockAddr, ebpf.AttachCGroupUDP6Recvmsg, h6, false},
		)
	}
	if f.SkbBackstop {
		defs = append(defs,
			progDef{"skb-ingress", ebpf.CGroupSKB, ebpf.AttachCGroupInetIngress, genSkb(o, true), false},
			progDef{"skb-egress", ebpf.CGroupSKB, ebpf.AttachCGroupInetEgress, genSkb(o, false), false},
		)
	}
	if useV6only {
		defs = append(defs, progDef{"setsockopt", ebpf.CGroupSockopt, ebpf.AttachCGroupSetsockopt, genSetsockopt(o), false})
	}

	a := &Attachment{}
	defer func() {
		if err != nil {
			for _, l := range a.links {
				_ = l.Unpin()
				l.Close()
			}
			if pinDir != "" {
				os.Remove(pinDir)
			}
		}
	}()
	var skipped []string
	for _, d := range defs {
		l, err := loadAndAttach(d, int(cg.Fd()))
		if err != nil {
			if d.required {
				return nil, err
			}
			skipped = append(skipped, d.name)
			continue
		}
		a.links = append(a.links, l)
		a.active = append(a.active, d.name)
		if pinDir != "" {
			if err := l.Pin(filepath.Join(pinDir, d.name)); err != nil {
				return nil, fmt.Errorf("pin %s program: %w", d.name, err)
			}
		}
	}
	if !p.sharedLoopback() {
		a.active = append(a.active, "loopback "+p.Loopback.String())
		if f.SkLookup {
			a.active = append(a.active, "loopback-lookup")
		}
	}
	if f.CapBypass {
		a.active = append(a.active, "cap-bypass")
	}
	if f.SetRetval {
		a.active = append(a.active, "errno")
	}
	if p.DenyAbstractUnix {
		// Not a cgroup program: the guest's init applies it with
		// isolation.ScopeAbstractUnix before exec'ing vinit. Say whether it can.
		if f.AbstractUnix {
			a.active = append(a.active, "abstract-unix")
		} else {
			skipped = append(skipped, "deny-abstract-unix")
		}
	}
	for _, s := range skipped {
		a.active = append(a.active, "missing "+s)
	}
	return a, nil
}

func loadAndAttach(d progDef, cgroupFD int) (link.Link, error) {
	prog, err := ebpf.NewProgramWithOptions(&ebpf.ProgramSpec{
		Name:         "vs_" + d.name,
		Type:         d.typ,
		AttachType:   d.attach,
		Instructions: d.insns,
		License:      "MIT",
	}, ebpf.ProgramOptions{})
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("load %s program: %+v", d.name, ve)
		}
		return nil, fmt.Errorf("load %s program: %w", d.name, err)
	}
	defer prog.Close() // the link holds its own reference
	l, err := link.AttachRawLink(link.RawLinkOptions{Target: cgroupFD, Program: prog, Attach: d.attach})
	if err != nil {
		return nil, fmt.Errorf("attach %s program: %w", d.name, err)
	}
	return l, nil
}

func newV6onlyMap() (*ebpf.Map, error) {
	i := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	m, err := ebpf.NewMap(&ebpf.MapSpec{
		Name:      "vs_v6only",
		Type:      ebpf.SkStorage,
		KeySize:   4,
		ValueSize: 4,
		Flags:     unix.BPF_F_NO_PREALLOC,
		Key:       i,
		Value:     i,
	})
	if err != nil {
		return nil, fmt.Errorf("create socket storage map: %w", err)
	}
	return m, nil
}

// preparePinDir makes pinDir, an empty directory on a bpffs.
func preparePinDir(pinDir string) error {
	if err := ensureBPFFS(pinDir); err != nil {
		return err
	}
	if err := os.MkdirAll(pinDir, 0o700); err != nil {
		return fmt.Errorf("create pin directory: %w", err)
	}
	ents, err := os.ReadDir(pinDir)
	if err != nil {
		return fmt.Errorf("read pin directory: %w", err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("pin directory %s is not empty: programs of an earlier run are still attached (detach them first)", pinDir)
	}
	return nil
}

const bpffsRoot = "/sys/fs/bpf"

func ensureBPFFS(dir string) error {
	p := filepath.Clean(dir)
	for {
		if _, err := os.Stat(p); err == nil {
			break
		}
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		p = parent
	}
	if isBPFFS(p) {
		return nil
	}
	if strings.HasPrefix(filepath.Clean(dir)+"/", bpffsRoot+"/") && !isBPFFS(bpffsRoot) {
		if err := os.MkdirAll(bpffsRoot, 0o755); err != nil {
			return fmt.Errorf("mount bpffs: %w", err)
		}
		if err := unix.Mount("bpf", bpffsRoot, "bpf", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0700"); err != nil {
			return fmt.Errorf("mount bpffs on %s: %w", bpffsRoot, err)
		}
		return nil
	}
	return fmt.Errorf("pin directory %s is not on a bpf filesystem (mount -t bpf bpf %s)", dir, p)
}

func isBPFFS(p string) bool {
	var st unix.Statfs_t
	return unix.Statfs(p, &st) == nil && st.Type == unix.BPF_FS_MAGIC
}

// Detach removes the links pinned in pinDir and the directory. It works
// from a fresh process (after a crash of the one that attached) and when
// nothing is pinned.
func Detach(pinDir string) error {
	ents, err := os.ReadDir(pinDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ipv4root: detach %s: %w", pinDir, err)
	}
	var errs []error
	for _, e := range ents {
		p := filepath.Join(pinDir, e.Name())
		l, err := link.LoadPinnedLink(p, nil)
		if err != nil {
			// Not a link (or already defunct): the pin is all that is left.
			if err := os.Remove(p); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if err := l.Unpin(); err != nil {
			errs = append(errs, err)
		}
		errs = append(errs, l.Close())
	}
	if err := os.Remove(pinDir); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ipv4root: detach %s: %w", pinDir, err)
	}
	return nil
}
