package ipv4root

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vserver-go/vserver/internal/cgroup"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		childMain()
	}
	os.Exit(m.Run())
}

var (
	ipA      = netip.MustParseAddr("127.0.0.2") // guest A; 127.0.0.9 plays a host address
	ipB      = netip.MustParseAddr("127.0.0.3") // guest B
	ip6A     = netip.MustParseAddr("fd00::2")   // only inside test network namespaces
	ip6Other = netip.MustParseAddr("fd00::3")
	ip6Host  = netip.MustParseAddr("fd00::9")
	polA     = Policy{IPv4: []netip.Addr{ipA}, Loopback: LoopbackFor(2)}
	polB     = Policy{IPv4: []netip.Addr{ipB}, Loopback: LoopbackFor(3)}
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: cgroups, BPF programs and network namespaces")
	}
	if miss := Probe().Missing(); len(miss) > 0 {
		t.Skipf("kernel lacks %v", miss)
	}
}

// inNewNetns moves the test goroutine's thread into a fresh network
// namespace with lo up (and the given extra addresses on lo) until the
// test ends. Everything the test starts from this goroutine (listeners,
// guest processes) lives there; the host's network is never touched and
// nothing is left behind: the namespace goes away with its last user.
// It returns a handle other goroutines can join with joinNetns.
func inNewNetns(t *testing.T, extra ...netip.Addr) *os.File {
	t.Helper()
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		orig.Close()
		runtime.UnlockOSThread()
		t.Fatalf("unshare netns: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: the runtime discards it.
			t.Errorf("return to the host netns: %v", err)
			return
		}
		orig.Close()
		runtime.UnlockOSThread()
	})
	ns, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
	for _, a := range extra {
		pfx := netip.PrefixFrom(a, a.BitLen())
		ipn := &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(pfx.Bits(), a.BitLen())}
		if err := netlink.AddrAdd(lo, &netlink.Addr{IPNet: ipn, Flags: unix.IFA_F_NODAD}); err != nil {
			t.Fatalf("add %s to lo: %v", a, err)
		}
	}
	// The local route of a new IPv6 address appears asynchronously
	// (addrconf work); until then the kernel would try neighbour discovery.
	for _, a := range extra {
		deadline := time.Now().Add(5 * time.Second)
		for {
			rs, err := netlink.RouteGet(a.AsSlice())
			if err == nil && len(rs) > 0 && rs[0].Type == unix.RTN_LOCAL {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s has no local route yet: %v %v", a, rs, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return ns
}

// joinNetns locks the calling goroutine's thread into ns for good (the
// thread is discarded when the goroutine ends).
func joinNetns(ns *os.File) error {
	runtime.LockOSThread()
	return unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET)
}

// newGroup makes an empty cgroup2 directory for the test and removes it
// (killing what is left in it) at the end.
func newGroup(t testing.TB, name string) string {
	t.Helper()
	g, err := cgroup.Create(fmt.Sprintf("vserver-test-ipv4root-%d/%s-%s", os.Getpid(), t.Name(), name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := g.Kill(time.Now().Add(5 * time.Second)); err != nil {
			t.Error(err)
		}
		if err := g.Remove(); err != nil {
			t.Error(err)
		}
		os.Remove(filepath.Dir(g.Path())) // the per-run parent, once empty
	})
	return g.Path()
}

// bpffs mounts a private bpf filesystem for the test's pins.
func bpffs(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("bpf", dir, "bpf", 0, "mode=0700"); err != nil {
		t.Fatalf("mount bpffs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount bpffs: %v", err)
		}
	})
	return dir
}

// guestGroup is a cgroup with the programs for p attached and pinned.
func guestGroup(t testing.TB, name string, p Policy) string {
	t.Helper()
	dir := newGroup(t, name)
	pin := filepath.Join(bpffs(t), name)
	a, err := Attach(dir, pin, p)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	t.Cleanup(func() {
		if err := Detach(pin); err != nil {
			t.Error(err)
		}
	})
	return dir
}

// proc is a socket-driving child process inside a cgroup.
type proc struct {
	t     *testing.T
	in    io.WriteCloser
	lines chan string
}

// startIn starts a "sockets" child directly inside cgroupDir
// (CLONE_INTO_CGROUP), in the calling thread's network namespace.
func startIn(t *testing.T, cgroupDir string) *proc {
	t.Helper()
	fd, err := os.Open(cgroupDir)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=sockets")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(fd.Fd())}
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	p := &proc{t: t, in: in, lines: make(chan string, 16)}
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			p.lines <- s.Text()
		}
		close(p.lines)
	}()
	t.Cleanup(func() {
		in.Close()
		cmd.Process.Kill()
		cmd.Wait()
		cancel()
	})
	return p
}

func (p *proc) do(cmd string) string {
	p.t.Helper()
	fmt.Fprintln(p.in, cmd)
	select {
	case l, ok := <-p.lines:
		if !ok {
			p.t.Fatalf("%s: child exited", cmd)
		}
		return l
	case <-time.After(30 * time.Second):
		p.t.Fatalf("%s: no answer within 30s", cmd)
	}
	return ""
}

// ok runs cmd and returns its result, failing the test on an error.
func (p *proc) ok(format string, a ...any) string {
	p.t.Helper()
	cmd := fmt.Sprintf(format, a...)
	r := p.do(cmd)
	res, found := strings.CutPrefix(r, "ok")
	if !found {
		p.t.Fatalf("%s: %s", cmd, r)
	}
	return strings.TrimSpace(res)
}

// fails runs cmd and checks it fails with errno name want.
func (p *proc) fails(want string, format string, a ...any) {
	p.t.Helper()
	cmd := fmt.Sprintf(format, a...)
	if r := p.do(cmd); r != "err "+want {
		p.t.Errorf("%s: got %q, want err %s", cmd, r, want)
	}
}

func (p *proc) expect(want string, format string, a ...any) {
	p.t.Helper()
	if got := p.ok(format, a...); got != want {
		p.t.Errorf("%s: got %q, want %q", fmt.Sprintf(format, a...), got, want)
	}
}

// hostListen listens outside any guest and serves text to each connection,
// recording the peer addresses it saw.
func hostListen(t *testing.T, network, addr, text string) chan netip.AddrPort {
	t.Helper()
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	peers := make(chan netip.AddrPort, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			peers <- c.RemoteAddr().(*net.TCPAddr).AddrPort()
			c.Write([]byte(text))
			c.Close()
		}
	}()
	return peers
}

func hostRead(t *testing.T, addr string) (string, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	return string(b), err
}

func expectHostRead(t *testing.T, addr, want string) {
	t.Helper()
	got, err := hostRead(t, addr)
	if err != nil || got != want {
		t.Errorf("host reads %s: got %q, %v; want %q", addr, got, err, want)
	}
}

func peerIP(t *testing.T, peers chan netip.AddrPort) netip.Addr {
	t.Helper()
	select {
	case ap := <-peers:
		return ap.Addr().Unmap()
	case <-time.After(5 * time.Second):
		t.Fatal("host listener saw no connection")
	}
	return netip.Addr{}
}

func TestBindWildcardBecomesGuestIP(t *testing.T) {
	needRoot(t)
	inNewNetns(t)
	g := startIn(t, guestGroup(t, "a", polA))

	s := g.ok("socket tcp4")
	g.ok("bind %s 0.0.0.0:8080", s)
	g.expect("127.0.0.2:8080", "name %s", s)
	g.ok("listen %s", s)
	g.ok("serve %s A", s)
	// The host's view agrees: the socket is on the guest IP only.
	expectHostRead(t, "127.0.0.2:8080", "A")
	if _, err := hostRead(t, "127.0.0.9:8080"); !errors.Is(err, unix.ECONNREFUSED) {
		t.Errorf("host dial 127.0.0.9:8080 (not the guest IP): %v, want connection refused", err)
	}

	u := g.ok("socket udp4")
	g.ok("bind %s 0.0.0.0:0", u)
	if got := g.ok("name %s", u); !strings.HasPrefix(got, "127.0.0.2:") {
		t.Errorf("udp bind 0.0.0.0:0 landed on %s, want 127.0.0.2:*", got)
	}

	// A dual-stack socket's [::ffff:0.0.0.0] is the IPv4 wildcard too.
	s6 := g.ok("socket tcp6")
	g.ok("bind %s [::ffff:0.0.0.0]:8083", s6)
	g.expect("[::ffff:127.0.0.2]:8083", "name %s", s6)
}

func TestBindOnlyOwnAddresses(t *testing.T) {
	needRoot(t)
	inNewNetns(t)
	g := startIn(t, guestGroup(t, "a", polA))
	for _, addr := range []string{"127.0.0.3:8081", "127.0.0.9:8081", "127.64.0.3:8081"} {
		g.fails("EADDRNOTAVAIL", "bind %s %s", g.ok("socket tcp4"), addr)
	}
	g.fails("EADDRNOTAVAIL", "bind %s [::ffff:127.0.0.3]:8081", g.ok("socket tcp6"))
	g.fails("EADDRNOTAVAIL", "bind %s 127.0.0.3:8081", g.ok("socket udp4"))
	s := g.ok("socket tcp4")
	g.ok("bind %s 127.0.0.2:8082", s)
	g.expect("127.0.0.2:8082", "name %s", s)
}

func TestTwoGuestsSamePort(t *testing.T) {
	needRoot(t)
	inNewNetns(t)
	a := startIn(t, guestGroup(t, "a", polA))
	b := startIn(t, guestGroup(t, "b", polB))
	for _, g := range []struct {
		p    *proc
		text string
	}{{a, "A"}, {b, "B"}} {
		s := g.p.ok("socket tcp4")
		g.p.ok("bind %s 0.0.0.0:8080", s)
		g.p.ok("listen %s", s)
		g.p.ok("serve %s %s", s, g.text)
	}
	expectHostRead(t, "127.0.0.2:8080", "A")
	expectHostRead(t, "127.0.0.3:8080", "B")
}

func TestConnectUsesGuestSource(t *testing.T) {
	needRoot(t)
	inNewNetns(t)
	peers := hostListen(t, "tcp4", "127.0.0.9:9000", "HOST")
	g := startIn(t, guestGroup(t, "a", polA))

	c := g.ok("socket tcp4")
	g.ok("connect %s 127.0.0.9:9000", c)
	if ip := peerIP(t, peers); ip != ipA {
		t.Errorf("host listener saw %s, want %s", ip, ipA)
	}
	g.expect("HOST", "read %s", c)

	c6 := g.ok("socket tcp6")
	g.ok("connect %s [::ffff:127.0.0.9]:9000", c6)
	if ip := peerIP(t, peers); ip != ipA {
		t.Errorf("host listener saw %s from a v6 socket, want %s", ip, ipA)
	}
}

func TestUDPSendtoUsesGuestSource(t *testing.T) {
	needRoot(t)
	inNewNetns(t)
	pc, err := net.ListenPacket("udp4", "127.0.0.9:9001")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	g := startIn(t, guestGroup(t, "a", polA))
	recv := func() netip.Addr {
		t.Helper()
		buf := make([]byte, 64)
		pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, from, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("host udp receive: %v", err)
		}
		return from.(*net.UDPAddr).AddrPort().Addr().Unmap()
	}

	u := g.ok("socket udp4")
	g.ok("sendto %s 127.0.0.9:9001 hello", u)
	if ip := recv(); ip != ipA {
		t.Errorf("datagram came from %s, want %s", ip, ipA)
	}
	u6 := g.ok("socket udp6")
	g.ok("sendto %s [::ffff:127.0.0.9]:9001 hello", u6)
	if ip := recv(); ip != ipA {
		t.Errorf("v6 socket's datagram came from %s, want %s", ip, ipA)
	}
	// sendto autobound the socket to the wildcard; connecting it now could
	// not keep the guest source, so it is refused (docs/network.md).
	g.fails("EADDRNOTAVAIL", "connect %s 127.0.0.9:9001", u)
	// A socket that asks for a foreign source is refused.
	f := g.ok("socket udp4")
	g.fails("EADDRNOTAVAIL", "bind %s 127.0.0.9:0", f)
}

func TestLoopbackIsPerGuest(t *testing.T) {
	needRoot(t)
	inNewNetns(t)
	hostListen(t, "tcp4", "127.0.0.1:7000", "HOST")
	hostListen(t, "tcp4", "0.0.0.0:7002", "HOST-WILDCARD")
	a := startIn(t, guestGroup(t, "a", polA))
	b := startIn(t, guestGroup(t, "b", polB))

	// Nothing of the guest's own listens: the host's 127.0.0.1 service is
	// not reached, the connection is refused as on an empty server.
	a.fails("ECONNREFUSED", "connect %s 127.0.0.1:7000", a.ok("socket tcp4"))

	for _, g := range []struct {
		p    *proc
		text string
	}{{a, "A-LO"}, {b, "B-LO"}} {
		s := g.p.ok("socket tcp4")
		g.p.ok("bind %s 127.0.0.1:7000", s)
		g.p.expect("127.0.0.1:7000", "name %s", s) // the mapping is hidden
		g.p.ok("listen %s", s)
		g.p.ok("serve %s %s", s, g.text)
	}
	// Both guests hold "127.0.0.1:7000" next to the host's.
	expectHostRead(t, "127.0.0.1:7000", "HOST")
	expectHostRead(t, netip.AddrPortFrom(LoopbackFor(2), 7000).String(), "A-LO")
	expectHostRead(t, netip.AddrPortFrom(LoopbackFor(3), 7000).String(), "B-LO")
	for _, g := range []struct {
		p    *proc
		text string
	}{{a, "A-LO"}, {b, "B-LO"}} {
		c := g.p.ok("socket tcp4")
		g.p.ok("connect %s 127.0.0.1:7000", c)
		g.p.expect("127.0.0.1:7000", "peer %s", c)
		g.p.expect(g.text, "read %s", c)
	}

	// A service on 0.0.0.0 (the guest IP) answers the guest's 127.0.0.1.
	s := a.ok("socket tcp4")
	a.ok("bind %s 0.0.0.0:7001", s)
	a.ok("listen %s", s)
	a.ok("serve %s A-WILD", s)
	c := a.ok("socket tcp4")
	a.ok("connect %s 127.0.0.1:7001", c)
	a.expect("A-WILD", "read %s", c)

	// The host's wildcard daemon is not the guest's localhost either, and
	// another guest's loopback and IPv6 ::1 are out of reach.
	a.fails("ECONNREFUSED", "connect %s 127.0.0.1:7002", a.ok("socket tcp4"))
	a.fails("ECONNREFUSED", "connect %s 127.64.0.3:7000", a.ok("socket tcp4"))
	a.fails("ECONNREFUSED", "connect %s [::1]:7000", a.ok("socket tcp6"))

	// UDP on the guest loopback: the receiver sees 127.0.0.1 as source.
	r := a.ok("socket udp4")
	a.ok("bind %s 127.0.0.1:7003", r)
	snd := a.ok("socket udp4")
	a.ok("sendto %s 127.0.0.1:7003 ping", snd)
	if got := a.ok("recvfrom %s", r); !strings.HasPrefix(got, "127.0.0.1:") || !strings.HasSuffix(got, " ping") {
		t.Errorf("guest loopback datagram: got %q, want from 127.0.0.1", got)
	}
	b.fails("ECONNREFUSED", "sendto %s 127.0.0.1:7003 ping", b.ok("socket udp4"))
}

// A guest reaches its own address, also one that lies in the range of
// per-guest loopbacks (a demo or test guest on 127.66.0.10), while other
// addresses of that range stay refused.
func TestConnectToOwnAddress(t *testing.T) {
	needRoot(t)
	inNewNetns(t)
	inRange := netip.MustParseAddr("127.66.0.10")
	g := startIn(t, guestGroup(t, "own", Policy{IPv4: []netip.Addr{inRange}, Loopback: LoopbackFor(4)}))
	s := g.ok("socket tcp4")
	g.ok("bind %s 0.0.0.0:7100", s)
	g.ok("listen %s", s)
	g.ok("serve %s OWN", s)
	c := g.ok("socket tcp4")
	g.ok("connect %s 127.66.0.10:7100", c)
	g.expect("OWN", "read %s", c)
	g.fails("ECONNREFUSED", "connect %s 127.66.0.11:7100", g.ok("socket tcp4"))

	a := startIn(t, guestGroup(t, "a", polA))
	s = a.ok("socket tcp4")
	a.ok("bind %s 0.0.0.0:7101", s)
	a.ok("listen %s", s)
	a.ok("serve %s A-OWN", s)
	c = a.ok("socket tcp4")
	a.ok("connect %s %s:7101", c, ipA)
	a.expect("A-OWN", "read %s", c)
}

func TestHostDaemonsAndGuests(t *testing.T) {
	needRoot(t)
	ns := inNewNetns(t)
	a := startIn(t, guestGroup(t, "a", polA))

	// A host daemon wrapped in chbind on 127.0.0.3:8080 and the guest on
	// 127.0.0.2:8080 coexist, both having bound 0.0.0.0.
	file := filepath.Join(t.TempDir(), "daemon")
	t.Setenv(childEnv, "bindfile "+file+" tcp4 0.0.0.0:8080")
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		if err := joinNetns(ns); err != nil {
			done <- result{0, err}
			return
		}
		code, err := Chbind([]netip.Addr{ipB}, []string{os.Args[0], "-test.run=^$"})
		done <- result{code, err}
	}()
	var pid int
	var addr string
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(file)
		if err == nil {
			fmt.Sscan(string(b), &pid, &addr)
			break
		}
		select {
		case r := <-done:
			t.Fatalf("chbind ended early: %d %v", r.code, r.err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("chbind'ed daemon did not report its address")
		}
	}
	finished := false
	t.Cleanup(func() {
		if !finished { // the test failed half-way: do not leave chbind running
			unix.Kill(pid, unix.SIGKILL)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Error("chbind did not return after its daemon was killed")
			}
		}
	})
	if addr != "127.0.0.3:8080" {
		t.Errorf("chbind'ed daemon bound %s, want 127.0.0.3:8080", addr)
	}
	s := a.ok("socket tcp4")
	a.ok("bind %s 0.0.0.0:8080", s)
	a.expect("127.0.0.2:8080", "name %s", s)

	// A host daemon on 0.0.0.0 takes the port on every address: the
	// guest cannot have it (the documented caveat).
	hostListen(t, "tcp4", "0.0.0.0:8090", "HOST")
	a.fails("EADDRINUSE", "bind %s 0.0.0.0:8090", a.ok("socket tcp4"))

	if err := unix.Kill(pid, unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		finished = true
		if r.err != nil || r.code != 128+int(unix.SIGTERM) {
			t.Errorf("chbind returned %d, %v; want %d", r.code, r.err, 128+int(unix.SIGTERM))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("chbind did not return after its daemon died")
	}
	root, _ := cgroup.Unified()
	if _, err := os.Stat(filepath.Join(root, fmt.Sprintf("vserver-chbind-%d", os.Getpid()))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("chbind left its cgroup behind: %v", err)
	}
}

func TestChbindExitCode(t *testing.T) {
	needRoot(t)
	t.Setenv(childEnv, "exit 7")
	code, err := Chbind([]netip.Addr{ipB}, []string{os.Args[0], "-test.run=^$"})
	if err != nil || code != 7 {
		t.Errorf("Chbind = %d, %v; want 7, nil", code, err)
	}
	if _, err := Chbind([]netip.Addr{ipB}, []string{"/nonexistent/cmd"}); err == nil {
		t.Error("Chbind of a missing command did not fail")
	}
}

func TestIPv6DualStackGuest(t *testing.T) {
	needRoot(t)
	inNewNetns(t, ip6A, ip6Other, ip6Host)
	pol := Policy{IPv4: []netip.Addr{ipA}, IPv6: []netip.Addr{ip6A}, Loopback: LoopbackFor(2)}
	g := startIn(t, guestGroup(t, "a", pol))

	s := g.ok("socket tcp6")
	g.ok("bind %s [::]:8080", s)
	g.expect("[fd00::2]:8080", "name %s", s)
	g.ok("listen %s", s)
	g.ok("serve %s V6", s)
	expectHostRead(t, "[fd00::2]:8080", "V6")

	for _, addr := range []string{"[fd00::3]:8081", "[::1]:8081", "[fd00::9]:8081"} {
		g.fails("EADDRNOTAVAIL", "bind %s %s", g.ok("socket tcp6"), addr)
	}

	peers := hostListen(t, "tcp6", "[fd00::9]:9000", "HOST6")
	c := g.ok("socket tcp6")
	g.ok("connect %s [fd00::9]:9000", c)
	if ip := peerIP(t, peers); ip != ip6A {
		t.Errorf("host v6 listener saw %s, want %s", ip, ip6A)
	}

	pc, err := net.ListenPacket("udp6", "[fd00::9]:9001")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	g.ok("sendto %s [fd00::9]:9001 hi", g.ok("socket udp6"))
	buf := make([]byte, 16)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, from, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if ip := from.(*net.UDPAddr).AddrPort().Addr(); ip != ip6A {
		t.Errorf("v6 datagram came from %s, want %s", ip, ip6A)
	}
}

func TestIPv6WildcardInIPv4OnlyGuest(t *testing.T) {
	needRoot(t)
	inNewNetns(t, ip6Host)
	g := startIn(t, guestGroup(t, "a", polA))

	// Go, Node, Python: one dual-stack [::] socket serves the guest's IPv4.
	s := g.ok("socket tcp6")
	g.ok("bind %s [::]:8080", s)
	g.expect("[::ffff:127.0.0.2]:8080", "name %s", s)
	g.ok("listen %s", s)
	g.ok("serve %s DUAL", s)
	expectHostRead(t, "127.0.0.2:8080", "DUAL")

	// nginx and sshd: 0.0.0.0:P plus [::]:P with IPV6_V6ONLY. Both binds
	// must succeed, or the daemon exits.
	if !Probe().V6Only {
		t.Skip("kernel lacks cgroup/setsockopt with socket storage")
	}
	v4 := g.ok("socket tcp4")
	g.ok("bind %s 0.0.0.0:8090", v4)
	g.ok("listen %s", v4)
	v6 := g.ok("socket tcp6")
	g.ok("v6only %s 1", v6)
	g.ok("bind %s [::]:8090", v6)
	g.ok("listen %s", v6)
	g.expect("127.0.0.2:8090", "name %s", v4)

	// No IPv6 of its own: native IPv6 destinations are unreachable.
	g.fails("ENETUNREACH", "connect %s [fd00::9]:9000", g.ok("socket tcp6"))
}

func TestPrivilegedPortWithoutCapability(t *testing.T) {
	needRoot(t)
	if !Probe().CapBypass {
		t.Skip("kernel lacks the bind cap-bypass return bit (5.12)")
	}
	inNewNetns(t)
	g := startIn(t, guestGroup(t, "a", polA))
	g.ok("setuid 65534")
	s := g.ok("socket tcp4")
	g.ok("bind %s 0.0.0.0:80", s)
	g.expect("127.0.0.2:80", "name %s", s)

	// Control: the same unprivileged bind outside a guest is refused.
	plain := startIn(t, newGroup(t, "plain"))
	plain.ok("setuid 65534")
	plain.fails("EACCES", "bind %s 127.0.0.2:80", plain.ok("socket tcp4"))
}

// linksOn counts the bpf_links attached to the cgroup directory dir.
func linksOn(t *testing.T, dir string) int {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	n := 0
	it := new(link.Iterator)
	defer it.Close()
	for it.Next() {
		info, err := it.Link.Info()
		if err == nil && info.Type == link.CgroupType && info.Cgroup().CgroupId == st.Ino {
			n++
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPinnedLinksOutliveKilledLauncherAndDetach(t *testing.T) {
	needRoot(t)
	inNewNetns(t)
	dir := newGroup(t, "p")
	pin := filepath.Join(bpffs(t), "guest")

	// Attach from a separate process, then SIGKILL it.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=attach "+dir+" "+pin)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		s.Scan()
		line <- s.Text()
	}()
	select {
	case l := <-line:
		if l != "attached" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("attach child: %q", l)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("attach child did not report")
	}
	cmd.Process.Kill()
	cmd.Wait()
	t.Cleanup(func() { Detach(pin) })

	if n := linksOn(t, dir); n < 6 {
		t.Errorf("%d links on the cgroup after the launcher died, want at least 6", n)
	}
	g := startIn(t, dir)
	s := g.ok("socket tcp4")
	g.ok("bind %s 0.0.0.0:8080", s)
	g.expect("127.0.0.2:8080", "name %s", s)

	if err := Detach(pin); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(pin); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pin directory still there after Detach: %v", err)
	}
	if n := linksOn(t, dir); n != 0 {
		t.Errorf("%d links left on the cgroup after Detach", n)
	}
	// New sockets are no longer rewritten.
	s2 := g.ok("socket tcp4")
	g.ok("bind %s 0.0.0.0:8081", s2)
	g.expect("0.0.0.0:8081", "name %s", s2)
	// Detaching again is harmless.
	if err := Detach(pin); err != nil {
		t.Errorf("second Detach: %v", err)
	}
}

func TestAttachRefusesBadInput(t *testing.T) {
	needRoot(t)
	dir := newGroup(t, "bad")
	pin := filepath.Join(bpffs(t), "x")
	if _, err := Attach(dir, pin, Policy{}); err == nil {
		t.Error("Attach with no addresses succeeded")
	}
	if _, err := Attach(t.TempDir(), pin, polA); err == nil {
		t.Error("Attach to a directory outside cgroup2 succeeded")
	}
	if _, err := Attach(dir, filepath.Join(t.TempDir(), "notbpf"), polA); err == nil {
		t.Error("Attach with a pin directory outside a bpffs succeeded")
	}
	if n := linksOn(t, dir); n != 0 {
		t.Errorf("failed Attach left %d links", n)
	}
	a, err := Attach(dir, pin, polA)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	defer Detach(pin)
	if _, err := Attach(dir, pin, polA); err == nil {
		t.Error("second Attach into a used pin directory succeeded")
	}
	want := []string{"bind4", "bind6", "connect4", "connect6", "sendmsg4", "sendmsg6"}
	got := strings.Join(a.Active(), ",")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("Active() = %s, missing %s", got, w)
		}
	}
}

func TestAutoboundListenerOnlyServesGuestIP(t *testing.T) {
	needRoot(t)
	if !Probe().SkbBackstop {
		t.Skip("kernel lacks cgroup_skb programs")
	}
	inNewNetns(t)
	g := startIn(t, guestGroup(t, "a", polA))
	// listen() without bind(): the kernel autobinds 0.0.0.0:ephemeral and
	// no sock_addr hook runs.
	s := g.ok("socket tcp4")
	g.ok("listen %s", s)
	name := g.ok("name %s", s)
	ap, err := netip.ParseAddrPort(name)
	if err != nil || !ap.Addr().IsUnspecified() {
		t.Fatalf("autobound listener at %q, want 0.0.0.0:port", name)
	}
	g.ok("serve %s AUTO", s)
	port := strconv.Itoa(int(ap.Port()))
	// Reachable on the guest IP; on a host address the SYN is dropped.
	expectHostRead(t, "127.0.0.2:"+port, "AUTO")
	c, err := net.DialTimeout("tcp", "127.0.0.9:"+port, time.Second)
	if err == nil {
		c.Close()
		t.Error("autobound guest listener answered on a host address")
	}
}

func TestAliasesAddedAndRemoved(t *testing.T) {
	needRoot(t)
	inNewNetns(t)
	// lo of the test's own namespace stands for [net] dev; 127.0.0.1/8 is
	// the address "the admin" configured.
	dev, err := netlink.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	pre := netip.MustParsePrefix("127.0.0.1/8")
	want := []netip.Prefix{netip.MustParsePrefix("10.99.0.2/24"), netip.MustParsePrefix("fd00:99::2/128")}
	added, err := AddAliases("lo", append([]netip.Prefix{pre}, want...))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(added) != fmt.Sprint(want) {
		t.Errorf("AddAliases added %v, want %v (the admin's address is not ours)", added, want)
	}
	has := func(p netip.Prefix) bool {
		as, err := netlink.AddrList(dev, netlink.FAMILY_ALL)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			if ap, ok := netip.AddrFromSlice(a.IP); ok && ap.Unmap() == p.Addr() {
				return true
			}
		}
		return false
	}
	for _, p := range want {
		if !has(p) {
			t.Errorf("%s not on the device", p)
		}
	}
	if err := RemoveAliases("lo", added); err != nil {
		t.Fatal(err)
	}
	for _, p := range want {
		if has(p) {
			t.Errorf("%s still on the device after RemoveAliases", p)
		}
	}
	if !has(pre) {
		t.Error("RemoveAliases took the admin's address too")
	}
	if err := RemoveAliases("lo", added); err != nil {
		t.Errorf("second RemoveAliases: %v", err)
	}
	if _, err := AddAliases("nosuchdev0", want); err == nil {
		t.Error("AddAliases on a missing device succeeded")
	}
}

func TestScopeAbstractUnix(t *testing.T) {
	needRoot(t)
	if !Probe().AbstractUnix {
		t.Skip("kernel lacks Landlock abstract unix scoping (6.12)")
	}
	name := fmt.Sprintf("vserver-test-%d", os.Getpid())
	l, err := net.Listen("unix", "@"+name) // a host daemon's abstract socket
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=abstract "+name)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	// Reachable before, refused after, the guest's own still fine.
	if got := strings.TrimSpace(string(out)); got != "ok EPERM ok" {
		t.Errorf("abstract socket connects: %q, want \"ok EPERM ok\"", got)
	}
}

func TestSubCgroupInheritsPrograms(t *testing.T) {
	needRoot(t)
	inNewNetns(t)
	dir := guestGroup(t, "a", polA)
	// A guest may make sub-cgroups (systemd inside does); they stay confined.
	sub := filepath.Join(dir, "inner")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	g := startIn(t, sub)
	s := g.ok("socket tcp4")
	g.ok("bind %s 0.0.0.0:8080", s)
	g.expect("127.0.0.2:8080", "name %s", s)
	g.fails("EADDRNOTAVAIL", "bind %s 127.0.0.3:8081", g.ok("socket tcp4"))
}

func TestAttachMountsBPFFS(t *testing.T) {
	needRoot(t)
	hostHad := isBPFFS(bpffsRoot)
	dir := newGroup(t, "m")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=attach-private-mount "+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "true true <nil>" {
		t.Errorf("bpffs mounted, pinned, detached: got %q, want \"true true <nil>\"", got)
	}
	if isBPFFS(bpffsRoot) != hostHad {
		t.Errorf("the host's %s changed (bpffs before: %v)", bpffsRoot, hostHad)
	}
	if n := linksOn(t, dir); n != 0 {
		t.Errorf("%d links left", n)
	}
}
