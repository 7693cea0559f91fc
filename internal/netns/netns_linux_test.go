package netns

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
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

const childEnv = "NETNS_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		child()
	}
	os.Exit(m.Run())
}

// child runs in the guest's namespace: "serve PORT TEXT" and "dial ADDR"
// (answers "ok LOCALADDR DATA" or "err ...").
func child() {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		switch f[0] {
		case "serve":
			l, err := net.Listen("tcp", ":"+f[1])
			if err != nil {
				fmt.Println("err", err)
				continue
			}
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					c.Write([]byte(f[2]))
					c.Close()
				}
			}()
			fmt.Println("ok")
		case "dial":
			c, err := net.DialTimeout("tcp", f[1], 2*time.Second)
			if err != nil {
				fmt.Println("err", err)
				continue
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			b, _ := io.ReadAll(c)
			fmt.Println("ok", c.LocalAddr(), string(b))
			c.Close()
		}
	}
	os.Exit(0)
}

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces and veth")
	}
}

// inNewNetns puts the test goroutine's thread into a fresh network
// namespace that plays the host for the test, so the real host's
// interfaces and routes are never touched.
func inNewNetns(t *testing.T) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		t.Fatalf("unshare netns: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			t.Errorf("return to the host netns: %v", err)
			return
		}
		orig.Close()
		runtime.UnlockOSThread()
	})
	lo, _ := netlink.LinkByName("lo")
	if err := netlink.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
}

type guest struct {
	t     *testing.T
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
}

// startGuest starts a child in a new network namespace of its own.
func startGuest(t *testing.T) *guest {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNET}
	cmd.Stderr = os.Stderr
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	g := &guest{t: t, cmd: cmd, in: in, lines: make(chan string, 4)}
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			g.lines <- s.Text()
		}
		close(g.lines)
	}()
	t.Cleanup(func() {
		in.Close()
		cmd.Process.Kill()
		cmd.Wait()
		cancel()
	})
	return g
}

func (g *guest) do(cmd string) string {
	g.t.Helper()
	fmt.Fprintln(g.in, cmd)
	select {
	case l := <-g.lines:
		return l
	case <-time.After(30 * time.Second):
		g.t.Fatalf("%s: no answer", cmd)
	}
	return ""
}

// eventually polls fn until it succeeds or 5s pass (new addresses and
// neighbours settle asynchronously; generous for a loaded machine).
func eventually(t *testing.T, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHostIfName(t *testing.T) {
	if got := HostIfName("web"); got != "vs-web" {
		t.Errorf("HostIfName(web) = %q", got)
	}
	a, b := HostIfName("a-very-long-guest-name-1"), HostIfName("a-very-long-guest-name-2")
	if len(a) > 15 || len(b) > 15 || a == b {
		t.Errorf("long names: %q %q", a, b)
	}
}

func TestVethReachabilityAndTeardown(t *testing.T) {
	needRoot(t)
	inNewNetns(t)
	hostL, err := net.Listen("tcp", ":9000")
	if err != nil {
		t.Fatal(err)
	}
	defer hostL.Close()
	peers := make(chan string, 4)
	go func() {
		for {
			c, err := hostL.Accept()
			if err != nil {
				return
			}
			peers <- c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap().String()
			c.Write([]byte("HOST"))
			c.Close()
		}
	}()
	hostLo, err := net.Listen("tcp", "127.0.0.1:7000")
	if err != nil {
		t.Fatal(err)
	}
	defer hostLo.Close()

	g := startGuest(t)
	ip4, ip6 := netip.MustParseAddr("10.200.0.2"), netip.MustParseAddr("fd00:200::2")
	if err := Setup(g.cmd.Process.Pid, Config{Name: "t1", IPs: []netip.Addr{ip4, ip6}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Teardown("t1") })
	if r := g.do("serve 8080 GUEST"); r != "ok" {
		t.Fatal(r)
	}
	for _, addr := range []string{"10.200.0.2:8080", "[fd00:200::2]:8080"} {
		eventually(t, "host reaches the guest at "+addr, func() error {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			b, err := io.ReadAll(c)
			if string(b) != "GUEST" {
				return fmt.Errorf("read %q, %v", b, err)
			}
			return nil
		})
	}
	// The guest reaches the host through its gateway, from its own IP.
	if r := g.do("dial 169.254.1.1:9000"); !strings.HasPrefix(r, "ok 10.200.0.2:") || !strings.HasSuffix(r, " HOST") {
		t.Errorf("guest dial to the host: %q", r)
	}
	select {
	case p := <-peers:
		if p != ip4.String() {
			t.Errorf("host saw %s, want %s", p, ip4)
		}
	case <-time.After(5 * time.Second):
		t.Error("host saw no connection")
	}
	// The guest's 127.0.0.1 is its own: the host's loopback service is
	// out of reach.
	if r := g.do("dial 127.0.0.1:7000"); !strings.HasPrefix(r, "err ") {
		t.Errorf("guest reached the host's 127.0.0.1: %q", r)
	}

	if err := Setup(g.cmd.Process.Pid, Config{Name: "t1", IPs: []netip.Addr{ip4}}); err == nil {
		t.Error("second Setup for the same guest succeeded")
	}
	if err := Teardown("t1"); err != nil {
		t.Fatal(err)
	}
	if _, err := netlink.LinkByName(HostIfName("t1")); err == nil {
		t.Error("host end still there after Teardown")
	}
	// The test's "host" has no other route: the guest IP is unroutable again.
	if rs, err := netlink.RouteGet(ip4.AsSlice()); err == nil {
		t.Errorf("route to the guest left behind: %v", rs)
	}
	if err := Teardown("t1"); err != nil {
		t.Errorf("second Teardown: %v", err)
	}
}

func TestCrashedGuestLeavesNothing(t *testing.T) {
	needRoot(t)
	inNewNetns(t)
	g := startGuest(t)
	if err := Setup(g.cmd.Process.Pid, Config{Name: "t2", IPs: []netip.Addr{netip.MustParseAddr("10.200.0.3")}}); err != nil {
		t.Fatal(err)
	}
	g.cmd.Process.Kill()
	g.cmd.Wait()
	eventually(t, "veth gone with the guest's namespace", func() error {
		if _, err := netlink.LinkByName(HostIfName("t2")); err == nil {
			return errors.New("host end still there")
		}
		return nil
	})
	if err := Teardown("t2"); err != nil {
		t.Errorf("Teardown after a crash: %v", err)
	}
}

func TestSetupLoopback(t *testing.T) {
	needRoot(t)
	inNewNetns(t)
	g := startGuest(t)
	if err := SetupLoopback(g.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if r := g.do("serve 7000 SELF"); r != "ok" {
		t.Fatal(r)
	}
	if r := g.do("dial 127.0.0.1:7000"); !strings.HasSuffix(r, " SELF") {
		t.Errorf("guest's own loopback: %q", r)
	}
}
