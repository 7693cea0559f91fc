package ipv4root

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoopbackFor(t *testing.T) {
	seen := map[netip.Addr]uint32{}
	for _, id := range []uint32{0, 1, 2, 255, 256, 40000, 1<<22 - 1} {
		a := LoopbackFor(id)
		if a != LoopbackFor(id) {
			t.Fatalf("LoopbackFor(%d) is not deterministic", id)
		}
		if !LoopbackRange.Contains(a) || !a.IsLoopback() {
			t.Errorf("LoopbackFor(%d) = %s, outside %s", id, a, LoopbackRange)
		}
		if other, dup := seen[a]; dup {
			t.Errorf("LoopbackFor(%d) = LoopbackFor(%d) = %s", id, other, a)
		}
		seen[a] = id
	}
	if got := LoopbackFor(2); got != netip.MustParseAddr("127.64.0.2") {
		t.Errorf("LoopbackFor(2) = %s", got)
	}
}

func TestNormalize(t *testing.T) {
	v4 := netip.MustParseAddr("192.0.2.1")
	v6 := netip.MustParseAddr("2001:db8::1")
	bad := []Policy{
		{},
		{IPv4: []netip.Addr{v6}},
		{IPv4: []netip.Addr{netip.IPv4Unspecified()}},
		{IPv6: []netip.Addr{netip.IPv6Loopback()}},
		{IPv6: []netip.Addr{netip.MustParseAddr("::ffff:1.2.3.4")}},
		{IPv4: []netip.Addr{v4}, Loopback: netip.MustParseAddr("10.0.0.1")},
	}
	for _, p := range bad {
		if _, err := p.normalize("/x"); err == nil {
			t.Errorf("normalize(%+v) accepted", p)
		}
	}
	p, err := Policy{IPv4: []netip.Addr{netip.MustParseAddr("::ffff:192.0.2.1")}, IPv6: []netip.Addr{v6}}.normalize("/sys/fs/cgroup/g")
	if err != nil {
		t.Fatal(err)
	}
	if p.IPv4[0] != v4 || !LoopbackRange.Contains(p.Loopback) {
		t.Errorf("normalize = %+v", p)
	}
	if q, _ := (Policy{IPv4: []netip.Addr{v4}}).normalize("/sys/fs/cgroup/g"); q.Loopback != p.Loopback {
		t.Error("derived loopback is not stable for one cgroup")
	}
}

func TestSplitIPs(t *testing.T) {
	v4, v6 := SplitIPs([]netip.Addr{
		netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("192.0.2.1"),
		netip.MustParseAddr("::ffff:192.0.2.2"), netip.MustParseAddr("2001:db8::2"),
	})
	if len(v4) != 2 || v4[0].String() != "192.0.2.1" || v4[1].String() != "192.0.2.2" || len(v6) != 2 || v6[0].String() != "2001:db8::1" {
		t.Errorf("SplitIPs = %v %v", v4, v6)
	}
}

// TestProgramsAssemble checks every generator produces a program whose
// jumps all resolve, for policies with and without each optional part.
func TestProgramsAssemble(t *testing.T) {
	pols := []Policy{
		{IPv4: []netip.Addr{netip.MustParseAddr("192.0.2.1")}, Loopback: LoopbackFor(1)},
		{IPv6: []netip.Addr{netip.MustParseAddr("2001:db8::1")}, Loopback: LoopbackFor(1)},
		{IPv4: []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")}, IPv6: []netip.Addr{netip.MustParseAddr("2001:db8::1")}, Loopback: localhost4},
	}
	for _, p := range pols {
		for _, o := range []genOpts{{p: p, v6onlyMap: -1}, {p: p, setRetval: true, capBypass: true, skLookup: true, v6onlyMap: 3}} {
			for name, insns := range map[string]interface {
				ReferenceOffsets() map[string][]int
				SymbolOffsets() (map[string]int, error)
			}{
				"bind4": genBind4(o), "bind6": genBind6(o), "connect4": genConnect4(o), "connect6": genConnect6(o),
				"sendmsg4": genSendmsg4(o), "sendmsg6": genSendmsg6(o), "hide4": genHide4(o), "hide6": genHide6(o),
				"setsockopt": genSetsockopt(o), "skb-in": genSkb(o, true), "skb-out": genSkb(o, false),
			} {
				syms, err := insns.SymbolOffsets()
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				for ref := range insns.ReferenceOffsets() {
					if _, ok := syms[ref]; !ok {
						t.Errorf("%s (%+v): jump to undefined label %s", name, p, ref)
					}
				}
			}
		}
	}
}

// TestSystemdExamples keeps the shipped chbind drop-ins honest: each runs
// "vserver chbind --ip LIST -- CMD" with addresses that parse.
func TestSystemdExamples(t *testing.T) {
	files, err := filepath.Glob("../../etc/systemd/chbind/*.service.d/*.conf")
	if err != nil || len(files) < 2 {
		t.Fatalf("drop-in examples: %v %v", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, line := range strings.Split(string(b), "\n") {
			rest, ok := strings.CutPrefix(line, "ExecStart=/usr/sbin/vserver chbind --ip ")
			if !ok {
				continue
			}
			found = true
			list, cmd, ok := strings.Cut(rest, " -- ")
			if !ok || strings.TrimSpace(cmd) == "" {
				t.Errorf("%s: no \"-- CMD\" in %q", f, line)
			}
			for _, s := range strings.Split(list, ",") {
				if _, err := netip.ParseAddr(s); err != nil {
					t.Errorf("%s: %v", f, err)
				}
			}
		}
		if !found {
			t.Errorf("%s: no ExecStart running vserver chbind", f)
		}
	}
}
