package ipv4root

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/vserver-go/vserver/internal/cgroup"
)

// The benchmarks run the same socket loop with the whole test process
// moved into a cgroup with the programs ("with") and into an empty one
// ("without"); compare the two ns/op figures. Typical use:
//
//	go test -run '^$' -bench 'BindClose' -benchtime 100000x ./internal/ipv4root
//	go test -run '^$' -bench 'ConnectAccept' -benchtime 20000x ./internal/ipv4root
//
// They use the host's loopback (127.0.0.2 as the guest IP); no traffic
// leaves lo.

func BenchmarkBindClose(b *testing.B) {
	port := freePort(b)
	sa := &unix.SockaddrInet4{Port: port} // 0.0.0.0:port, the rewritten case
	benchInGroups(b, func(b *testing.B) {
		for b.Loop() {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				b.Fatal(err)
			}
			if err := unix.Bind(fd, sa); err != nil {
				b.Fatal(err)
			}
			unix.Close(fd)
		}
	})
}

func BenchmarkConnectAccept(b *testing.B) {
	port := freePort(b)
	lo := &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
	benchInGroups(b, func(b *testing.B) {
		// The listener is inside the cgroup too: with the programs it is
		// on the guest loopback and connects to 127.0.0.1 are mapped there.
		l, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer unix.Close(l)
		unix.SetsockoptInt(l, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		if err := unix.Bind(l, lo); err != nil {
			b.Fatal(err)
		}
		if err := unix.Listen(l, 128); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				b.Fatal(err)
			}
			if err := unix.Connect(c, lo); err != nil {
				b.Fatal(err)
			}
			s, _, err := unix.Accept(l)
			if err != nil {
				b.Fatal(err)
			}
			// Reset instead of FIN: no TIME_WAIT piles up ephemeral ports.
			unix.SetsockoptLinger(c, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
			unix.Close(c)
			unix.Close(s)
		}
	})
}

func benchInGroups(b *testing.B, loop func(b *testing.B)) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: cgroups and BPF programs")
	}
	if miss := Probe().Missing(); len(miss) > 0 {
		b.Skipf("kernel lacks %v", miss)
	}
	own, err := ownCgroup()
	if err != nil {
		b.Fatal(err)
	}
	root, err := cgroup.Unified()
	if err != nil {
		b.Fatal(err)
	}
	back := filepath.Join(root, own)
	with := guestGroup(b, "with", polA)
	without := newGroup(b, "without")
	for _, c := range []struct{ name, dir string }{{"with", with}, {"without", without}} {
		b.Run(c.name, func(b *testing.B) {
			var before map[string]ebpf.ProgramStats
			if c.name == "with" {
				// In-program cost, which the machine's load hardly blurs.
				stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
				if err == nil {
					defer stats.Close()
					before = progStats(b, c.dir)
				}
			}
			moveSelf(b, c.dir)
			inside := true
			defer func() {
				if inside { // the loop failed: never stay in a group that is killed at cleanup
					moveSelf(b, back)
				}
			}()
			loop(b)
			moveSelf(b, back)
			inside = false
			if before != nil {
				for name, st := range progStats(b, c.dir) {
					runs := st.RunCount - before[name].RunCount
					if runs >= uint64(b.N) {
						b.ReportMetric(float64(st.Runtime-before[name].Runtime)/float64(runs), name+"-ns/run")
					}
				}
			}
		})
	}
}

func moveSelf(b *testing.B, dir string) {
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
		b.Fatalf("move benchmark into %s: %v", dir, err)
	}
}

// freePort finds a TCP port free on the wildcard address.
func freePort(b *testing.B) int {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{}); err != nil {
		b.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		b.Fatal(err)
	}
	return sa.(*unix.SockaddrInet4).Port
}

// progStats reads the run statistics of the programs linked to dir.
func progStats(b *testing.B, dir string) map[string]ebpf.ProgramStats {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		b.Fatal(err)
	}
	out := map[string]ebpf.ProgramStats{}
	it := new(link.Iterator)
	defer it.Close()
	for it.Next() {
		info, err := it.Link.Info()
		if err != nil || info.Type != link.CgroupType || info.Cgroup().CgroupId != st.Ino {
			continue
		}
		p, err := ebpf.NewProgramFromID(info.Program)
		if err != nil {
			continue
		}
		pi, err1 := p.Info()
		ps, err2 := p.Stats()
		p.Close()
		if err1 == nil && err2 == nil {
			out[strings.TrimPrefix(pi.Name, "vs_")] = *ps
		}
	}
	return out
}
