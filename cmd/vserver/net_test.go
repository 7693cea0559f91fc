package main

// Network modes with real guests: netns (veth pair, reachable both ways,
// configured before vinit's services start, nothing left after stop or a
// killed monitor), none (lo only), ipv4root's abstract unix socket scope,
// and chbind. Guest addresses are from test ranges routed only to the
// test guest's own veth (10.213.0.0/16, fd42:213::/64) or loopback.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vserver-go/vserver/internal/guestroot"
	"github.com/vserver-go/vserver/internal/ipv4root"
	"github.com/vserver-go/vserver/internal/monitor"
	"github.com/vserver-go/vserver/internal/netns"
)

// testNetnsIPs are a netns guest's addresses, distinct per test process.
func testNetnsIPs() (netip.Addr, netip.Addr) {
	p := os.Getpid()
	v4 := netip.AddrFrom4([4]byte{10, 213, byte(p / 250 % 250), byte(p%250 + 2)})
	v6 := netip.MustParseAddr(fmt.Sprintf("fd42:213::1:%x", p&0xffff))
	return v4, v6
}

// writeGuestFile writes a file below the guest's root.
func writeGuestFile(t *testing.T, root, path, content string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(root, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// listenFreebind listens on addr before that address exists on the host
// (IP_FREEBIND): the host end of a guest's veth pair appears only at start.
func listenFreebind(t *testing.T, addr string) net.Listener {
	t.Helper()
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_FREEBIND, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	l, err := lc.Listen(context.Background(), "tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// httpGet fetches http://addr/ with a short timeout.
func httpGet(addr string) (string, error) {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://" + addr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// hostRoutesTo lists the host's routes whose destination contains ip.
func hostRoutesTo(t *testing.T, ip netip.Addr) []netlink.Route {
	t.Helper()
	fam := netlink.FAMILY_V4
	if ip.Is6() {
		fam = netlink.FAMILY_V6
	}
	rs, err := netlink.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		t.Fatal(err)
	}
	var out []netlink.Route
	for _, r := range rs {
		if r.Dst == nil || r.Dst.IP.IsUnspecified() {
			continue // default routes: the host's own
		}
		if r.Dst.Contains(ip.AsSlice()) {
			if ones, _ := r.Dst.Mask.Size(); ones == ip.BitLen() {
				out = append(out, r)
			}
		}
	}
	return out
}

// assertNoVeth checks that guest name's host end and its routes are gone.
func assertNoVeth(t *testing.T, name string, ips ...netip.Addr) {
	t.Helper()
	if l, err := netlink.LinkByName(netns.HostIfName(name)); err == nil {
		t.Errorf("interface %s left on the host (index %d)", netns.HostIfName(name), l.Attrs().Index)
	}
	for _, ip := range ips {
		if rs := hostRoutesTo(t, ip); len(rs) > 0 {
			t.Errorf("host routes to %s left: %v", ip, rs)
		}
	}
}

// inGuestNet runs a host command in the network namespace of pid.
func inGuestNet(t *testing.T, pid int, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "nsenter", append([]string{"-t", fmt.Sprint(pid), "-n", "--"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("nsenter -n %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func needNsenter(t *testing.T) {
	if _, err := exec.LookPath("nsenter"); err != nil {
		t.Skip("needs nsenter (util-linux)")
	}
}

// A netns guest: its 0.0.0.0 web server is reachable from the host at its
// address (IPv4 and IPv6), and a service of the guest reaches a host
// listener on the host end's address at its first try, so the network was
// complete before vinit started services. Stop leaves no interface and no
// route.
func TestNetnsGuestRoutedBothWays(t *testing.T) {
	e := newEnv(t)
	needNsenter(t)
	v4, v6 := testNetnsIPs()
	port := 20000 + os.Getpid()%20000 // and port+1 for [::]
	hostPort := 20000 + (os.Getpid()+2)%20000
	l := listenFreebind(t, fmt.Sprintf("%s:%d", netns.GatewayIPv4, hostPort))
	got := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		got <- c.RemoteAddr().(*net.TCPAddr).IP.String() + " " + strings.TrimSpace(line)
	}()
	writeGuestFile(t, e.root, "etc/vinit/services/httpd.toml", guestroot.HTTPD(port).TOML, 0o644)
	writeGuestFile(t, e.root, "etc/vinit/services/httpd6.toml", fmt.Sprintf(`command = "/bin/httpd -f -p [::]:%d -h /var/www"
`, port+1), 0o644)
	// No retry: a network that is not there yet fails this service.
	writeGuestFile(t, e.root, "etc/vinit/services/hello.toml", fmt.Sprintf(`type = "oneshot"
restart = "never"
command = ["/bin/sh", "-c", "echo from-guest | nc -w 5 %s %d"]
`, netns.GatewayIPv4, hostPort), 0o644)
	e.config(e.name, fmt.Sprintf("[net]\nmode = \"netns\"\nips = [%q, %q]\n", v4, v6))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("guest log:\n%s", monitor.Tail(e.dirs.LogPath(e.name), 40))
		}
	})
	if r := e.run("", "check", e.name); r.code != 0 {
		t.Fatalf("check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	e.mustRun(e.name, "start")
	st := e.state(e.name)
	if st.Veth != netns.HostIfName(e.name) {
		t.Errorf("state veth %q, want %q", st.Veth, netns.HostIfName(e.name))
	}
	if r := e.mustRun(e.name, "status"); !strings.Contains(r.stdout, "veth:") || !strings.Contains(r.stdout, st.Veth) {
		t.Errorf("status does not show the veth:\n%s", r.stdout)
	}
	host, err := netlink.LinkByName(st.Veth)
	if err != nil {
		t.Fatalf("host end: %v", err)
	}
	for _, ip := range []netip.Addr{v4, v6} {
		rs := hostRoutesTo(t, ip)
		if len(rs) != 1 || rs[0].LinkIndex != host.Attrs().Index {
			t.Errorf("host routes to %s: %v, want one via %s", ip, rs, st.Veth)
		}
	}

	select {
	case s := <-got:
		if s != v4.String()+" from-guest" {
			t.Errorf("host listener got %q, want %q", s, v4.String()+" from-guest")
		}
	case <-time.After(20 * time.Second):
		t.Error("the guest's service did not reach the host listener on " + netns.GatewayIPv4.String())
	}
	for i, ip := range []netip.Addr{v4, v6} {
		addr := netip.AddrPortFrom(ip, uint16(port+i)).String()
		var body string
		waitFor(t, 15*time.Second, "the guest's web server on "+addr, func() bool {
			var err error
			body, err = httpGet(addr)
			return err == nil
		})
		if !strings.Contains(body, "hello from "+e.name) {
			t.Errorf("%s served %q", addr, body)
		}
	}
	// The guest's own view: eth0 with its address, lo up.
	links := inGuestNet(t, st.InitPID, "ip", "-o", "link", "show")
	if !strings.Contains(links, " lo:") || !strings.Contains(links, " eth0@") {
		t.Errorf("guest links:\n%s", links)
	}

	e.mustRun(e.name, "stop")
	e.assertGone(e.name)
	assertNoVeth(t, e.name, v4, v6)
}

// A netns guest whose monitor is killed: the next start cleans up and
// succeeds (no "interface exists"), a reboot makes a new pair, and stop
// leaves nothing.
func TestNetnsKilledMonitorLeavesNoVeth(t *testing.T) {
	e := newEnv(t)
	v4, _ := testNetnsIPs()
	v4 = v4.Next() // not the other test's
	e.config(e.name, fmt.Sprintf("[net]\nmode = \"netns\"\nips = [%q]\n", v4))
	t.Cleanup(func() { _ = netns.Teardown(e.name) })
	e.mustRun(e.name, "start")
	st := e.state(e.name)
	if _, err := netlink.LinkByName(netns.HostIfName(e.name)); err != nil {
		t.Fatalf("host end after start: %v", err)
	}
	// Hold the guest's namespace, as a slow kernel cleanup or a stray
	// reference would: the pair then outlives the guest, and only the
	// next start's stale cleanup can remove it.
	held, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", st.InitPID))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := syscall.Kill(st.MonitorPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "vinit to die with its monitor", func() bool { return !pidAlive(st.InitPID) })
	waitFor(t, 10*time.Second, "the lock to be released", func() bool { return !monitor.Running(e.dirs, e.name) })
	if _, err := netlink.LinkByName(netns.HostIfName(e.name)); err != nil {
		t.Fatalf("host end of the held namespace: %v (test is moot)", err)
	}
	r := e.mustRun(e.name, "start")
	if !strings.Contains(r.stderr, "removing stale state") {
		t.Errorf("start did not report the cleanup: %q", r.stderr)
	}
	st2 := e.state(e.name)
	if !pidAlive(st2.InitPID) || len(hostRoutesTo(t, v4)) != 1 {
		t.Errorf("second start: state %+v, routes %v", st2, hostRoutesTo(t, v4))
	}
	// A reboot tears the pair down and makes a new one.
	e.mustRun(e.name, "reboot")
	st3 := e.state(e.name)
	if st3.Boots != 2 || st3.Veth == "" || len(hostRoutesTo(t, v4)) != 1 {
		t.Errorf("after reboot: state %+v, routes %v", st3, hostRoutesTo(t, v4))
	}
	e.mustRun(e.name, "stop")
	e.assertGone(e.name)
	assertNoVeth(t, e.name, v4)
}

// A none guest has its own network namespace with lo, up, and nothing else.
func TestNoneGuestHasOnlyLoopback(t *testing.T) {
	e := newEnv(t)
	needNsenter(t)
	e.config(e.name, "[net]\nmode = \"none\"\n")
	e.mustRun(e.name, "start")
	st := e.state(e.name)
	self, _ := os.Readlink("/proc/self/ns/net")
	guest, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", st.InitPID))
	if guest == "" || guest == self {
		t.Fatalf("guest network namespace %q, host's %q", guest, self)
	}
	out := strings.TrimSpace(inGuestNet(t, st.InitPID, "ip", "-o", "link", "show"))
	lines := strings.Split(out, "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], " lo:") || !strings.Contains(lines[0], ",UP") {
		t.Errorf("guest links, want only lo (up):\n%s", out)
	}
	e.mustRun(e.name, "stop")
	e.assertGone(e.name)
	assertNoVeth(t, e.name)
}

var (
	probeOnce sync.Once
	probeBin  string
	probeErr  error
)

// abstractProbe builds testdata/abstractprobe as a static binary.
func abstractProbe(t *testing.T) string {
	t.Helper()
	probeOnce.Do(func() {
		out := filepath.Join(binDir, "abstractprobe")
		cmd := exec.Command("go", "build", "-o", out, "./testdata/abstractprobe")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			probeErr = fmt.Errorf("go build abstractprobe: %v\n%s", err, b)
			return
		}
		probeBin = out
	})
	if probeErr != nil {
		t.Fatal(probeErr)
	}
	return probeBin
}

// An ipv4root guest shares the host's abstract unix socket names, and its
// init is Landlock-scoped: a guest service cannot connect to the host's
// @vserver-test-PID (the host itself can) but can to its own.
func TestIPv4RootGuestCannotReachHostAbstractSockets(t *testing.T) {
	e := newEnv(t)
	if !ipv4root.Probe().AbstractUnix {
		t.Skip("kernel lacks Landlock abstract unix scoping (6.12)")
	}
	probe := abstractProbe(t)
	name := fmt.Sprintf("vserver-test-%d", os.Getpid())
	l, err := net.Listen("unix", "@"+name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	// Without the scope the socket is reachable: the check below means
	// something.
	hostOut := filepath.Join(e.dir, "host-result")
	if b, err := exec.Command(probe, name, hostOut).CombinedOutput(); err != nil {
		t.Fatalf("probe on the host: %v: %s", err, b)
	}
	if b, _ := os.ReadFile(hostOut); strings.TrimSpace(string(b)) != "host=ok own=ok" {
		t.Fatalf("probe on the host: %q, want \"host=ok own=ok\"", b)
	}

	bin, err := os.ReadFile(probe)
	if err != nil {
		t.Fatal(err)
	}
	writeGuestFile(t, e.root, "bin/abstractprobe", string(bin), 0o755)
	writeGuestFile(t, e.root, "etc/vinit/services/probe.toml", fmt.Sprintf(`type = "oneshot"
restart = "never"
command = ["/bin/abstractprobe", %q, "/tmp/abstract-result"]
`, name), 0o644)
	ip := fmt.Sprintf("127.44.%d.%d", os.Getpid()>>8&0xff, os.Getpid()&0xff|1)
	e.config(e.name, fmt.Sprintf("[net]\nips = [%q]\n", ip))
	if r := e.run("", "check", e.name); r.code != 0 {
		t.Skipf("ipv4root is not available here: %s%s", r.stdout, r.stderr)
	} else if !strings.Contains(r.stdout, "abstract-unix") {
		t.Errorf("check does not mention abstract-unix:\n%s", r.stdout)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("guest log:\n%s", monitor.Tail(e.dirs.LogPath(e.name), 40))
		}
	})
	e.mustRun(e.name, "start")
	if r := e.mustRun(e.name, "status"); !strings.Contains(r.stdout, "abstract-unix") {
		t.Errorf("status does not list abstract-unix:\n%s", r.stdout)
	}
	result := filepath.Join(e.root, "tmp/abstract-result")
	var got []byte
	waitFor(t, 20*time.Second, "the guest's probe result", func() bool {
		got, err = os.ReadFile(result)
		return err == nil && len(got) > 0
	})
	if s := strings.TrimSpace(string(got)); s != "host=EPERM own=ok" {
		t.Errorf("in the guest: %q, want \"host=EPERM own=ok\"", s)
	}
	e.mustRun(e.name, "stop")
	e.assertGone(e.name)
}

// chbind: a host web server on 0.0.0.0 lands on the given address, is not
// on 127.0.0.1, gets the signal chbind gets, and chbind exits with its
// status.
func TestChbind(t *testing.T) {
	e := newEnv(t)
	if m := ipv4root.Probe().Missing(); len(m) > 0 {
		t.Skipf("ipv4root is not available here: %v", m)
	}
	if r := e.run("", "chbind", "--ip", "127.0.0.9", "--", "/bin/sh", "-c", "exit 7"); r.code != 7 {
		t.Errorf("chbind of exit 7: exit %d, %s", r.code, r.stderr)
	}
	for _, bad := range [][]string{{"--ip", "10.0.0.300", "--", "/bin/true"}, {"--ip", "0.0.0.0", "/bin/true"}, {"/bin/true"}, {"--ip", "127.0.0.9"}} {
		if r := e.run("", append([]string{"chbind"}, bad...)...); r.code != monitor.ExitUsage {
			t.Errorf("chbind %v: exit %d, want %d", bad, r.code, monitor.ExitUsage)
		}
	}

	ip := fmt.Sprintf("127.0.%d.%d", os.Getpid()>>8&0xff, os.Getpid()&0xff|2)
	port := 20000 + (os.Getpid()+3)%20000
	www := t.TempDir()
	if err := os.WriteFile(filepath.Join(www, "index.html"), []byte("chbound\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(vserver, "chbind", "--ip", ip, "--", guestroot.Busybox, "httpd", "-f", "-p", fmt.Sprintf("0.0.0.0:%d", port), "-h", www)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	addr := fmt.Sprintf("%s:%d", ip, port)
	var body string
	waitFor(t, 15*time.Second, "the chbind'ed web server on "+addr, func() bool {
		var err error
		body, err = httpGet(addr)
		return err == nil
	})
	if body != "chbound\n" {
		t.Errorf("got %q", body)
	}
	if _, err := httpGet(fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
		t.Error("the chbind'ed 0.0.0.0 listener is reachable on 127.0.0.1")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		err := waitErr
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 128+int(syscall.SIGTERM) {
			t.Errorf("chbind ended with %v, want exit %d; stderr %s", err, 128+int(syscall.SIGTERM), stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("chbind did not end after SIGTERM")
	}
}
