package ipv4root

import (
	"bufio"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/vserver-go/vserver/internal/isolation"
)

// The test binary doubles as the process inside a guest cgroup: with
// IPV4ROOT_TEST_CHILD set, TestMain runs one of these instead of the tests.
//
//	sockets: read commands from stdin, one per line, answer "ok ..." or
//	         "err ERRNO" per line (raw syscalls: no Go net magic)
//	bindfile FILE PROTO ADDR: bind a socket, listen (tcp), write
//	         "pid addr" to FILE, then sleep until killed (a daemon)
//	attach CGROUP PINDIR: Attach polA, say "attached", sleep until killed
//	abstract NAME: connect to @NAME, ScopeAbstractUnix, connect again, then
//	         to an abstract socket of its own; print the three results
//	attach-private-mount CGROUP: Attach with pins below an unmounted
//	         /sys/fs/bpf in a private mount namespace
//	exit N:  exit with status N
const childEnv = "IPV4ROOT_TEST_CHILD"

func childMain() {
	args := strings.Fields(os.Getenv(childEnv))
	switch args[0] {
	case "sockets":
		socketsChild()
	case "bindfile":
		fd, err := newSocket(args[2])
		if err == nil {
			err = doBind(fd, args[2], args[3])
		}
		if err == nil && strings.HasPrefix(args[2], "tcp") {
			err = unix.Listen(fd, 16)
		}
		out := "err"
		if err == nil {
			out = sockname(fd, unix.Getsockname)
		}
		if werr := os.WriteFile(args[1]+".tmp", fmt.Appendf(nil, "%d %s", os.Getpid(), out), 0o644); werr != nil {
			os.Exit(2)
		}
		os.Rename(args[1]+".tmp", args[1])
		sleepUntilKilled()
	case "attach":
		a, err := Attach(args[1], args[2], polA)
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		_ = a
		fmt.Println("attached")
		sleepUntilKilled()
	case "abstract":
		// abstract NAME: connect to @NAME before and after scoping, then
		// to an abstract socket of our own.
		runtime.LockOSThread()
		try := func(name string) string {
			fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
			if err != nil {
				return err.Error()
			}
			defer unix.Close(fd)
			if err := unix.Connect(fd, &unix.SockaddrUnix{Name: "@" + name}); err != nil {
				return unix.ErrnoName(err.(unix.Errno))
			}
			return "ok"
		}
		before := try(args[1])
		if err := isolation.ScopeAbstractUnix(); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		after := try(args[1])
		own, _ := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		unix.Bind(own, &unix.SockaddrUnix{Name: "@" + args[1] + "-own"})
		unix.Listen(own, 1)
		fmt.Println(before, after, try(args[1]+"-own"))
		os.Exit(0)
	case "attach-private-mount":
		// attach-private-mount CGROUP: in a private mount namespace with
		// no bpffs on /sys/fs/bpf, Attach must mount one for its pins.
		if err := unix.Mount("none", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		unix.Unmount(bpffsRoot, unix.MNT_DETACH)
		pin := bpffsRoot + "/vserver-test/guest"
		a, err := Attach(args[1], pin, polA)
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		a.Close()
		_, statErr := os.Stat(pin + "/bind4")
		fmt.Println(isBPFFS(bpffsRoot), statErr == nil, Detach(pin))
		os.Exit(0)
	case "exit":
		n, _ := strconv.Atoi(args[1])
		os.Exit(n)
	}
	os.Exit(3)
}

// sleepUntilKilled blocks in pause(2): a bare select{} is a fatal
// "all goroutines are asleep" in a binary without cgo.
func sleepUntilKilled() {
	for {
		_ = unix.Pause()
	}
}

func socketsChild() {
	socks := map[int]int{} // handle -> fd
	next := 0
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		fdOf := func(i int) int {
			n, _ := strconv.Atoi(f[i])
			return socks[n]
		}
		var res string
		var err error
		switch f[0] {
		case "socket":
			var fd int
			fd, err = newSocket(f[1])
			if err == nil {
				socks[next] = fd
				res = strconv.Itoa(next)
				next++
			}
		case "v6only":
			v, _ := strconv.Atoi(f[2])
			err = unix.SetsockoptInt(fdOf(1), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v)
		case "bind":
			err = doBind(fdOf(1), "", f[2])
		case "listen":
			err = unix.Listen(fdOf(1), 16)
		case "name":
			res = sockname(fdOf(1), unix.Getsockname)
		case "peer":
			res = sockname(fdOf(1), unix.Getpeername)
		case "connect":
			var sa unix.Sockaddr
			sa, err = sockaddr(fdOf(1), f[2])
			if err == nil {
				err = unix.Connect(fdOf(1), sa)
			}
		case "accept":
			var nfd int
			nfd, _, err = unix.Accept(fdOf(1))
			if err == nil {
				socks[next] = nfd
				res = fmt.Sprintf("%d %s", next, sockname(nfd, unix.Getpeername))
				next++
			}
		case "serve":
			// Answer every connection with the text, in the background.
			fd, text := fdOf(1), f[2]
			go func() {
				for {
					c, _, err := unix.Accept(fd)
					if err != nil {
						return
					}
					unix.Write(c, []byte(text))
					unix.Close(c)
				}
			}()
		case "read":
			buf := make([]byte, 256)
			var n int
			n, err = unix.Read(fdOf(1), buf)
			res = string(buf[:max(n, 0)])
		case "sendto":
			var sa unix.Sockaddr
			sa, err = sockaddr(fdOf(1), f[2])
			if err == nil {
				err = unix.Sendto(fdOf(1), []byte(f[3]), 0, sa)
			}
		case "recvfrom":
			buf := make([]byte, 256)
			var n int
			var from unix.Sockaddr
			n, from, err = unix.Recvfrom(fdOf(1), buf, 0)
			if err == nil {
				res = addrString(from) + " " + string(buf[:n])
			}
		case "setuid":
			n, _ := strconv.Atoi(f[1])
			err = syscall.Setresuid(n, n, n)
		case "close":
			err = unix.Close(fdOf(1))
		default:
			err = errors.New("unknown command")
		}
		if err != nil {
			var en unix.Errno
			if errors.As(err, &en) {
				fmt.Printf("err %s\n", unix.ErrnoName(en))
			} else {
				fmt.Printf("err %v\n", err)
			}
			continue
		}
		fmt.Printf("ok %s\n", res)
	}
	os.Exit(0)
}

func newSocket(proto string) (int, error) {
	dom, typ := unix.AF_INET, unix.SOCK_STREAM
	if strings.HasSuffix(proto, "6") {
		dom = unix.AF_INET6
	}
	if strings.HasPrefix(proto, "udp") {
		typ = unix.SOCK_DGRAM
	}
	fd, err := unix.Socket(dom, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 5})
	return fd, nil
}

func doBind(fd int, _ string, addr string) error {
	sa, err := sockaddr(fd, addr)
	if err != nil {
		return err
	}
	return unix.Bind(fd, sa)
}

// sockaddr makes the right sockaddr for fd's family from "IP:port".
func sockaddr(fd int, s string) (unix.Sockaddr, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return nil, err
	}
	dom, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return nil, err
	}
	if dom == unix.AF_INET {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().Unmap().As4()}, nil
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}, nil
}

func sockname(fd int, get func(int) (unix.Sockaddr, error)) string {
	sa, err := get(fd)
	if err != nil {
		return "error"
	}
	return addrString(sa)
}

func addrString(sa unix.Sockaddr) string {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)).String()
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port)).String()
	}
	return "?"
}
