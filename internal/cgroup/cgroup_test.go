package cgroup

import (
	"bufio"
	"strings"
	"testing"
)

func TestParseMountinfo(t *testing.T) {
	in := `25 30 0:22 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs rw,mode=755
33 25 0:28 / /sys/fs/cgroup/unified rw,nosuid shared:9 - cgroup2 cgroup2 rw
40 25 0:29 / /mnt/with\040space rw - cgroup2 none rw
garbage line without separator
`
	got, err := parseMountinfo(bufio.NewScanner(strings.NewReader(in)))
	if err != nil {
		t.Fatal(err)
	}
	want := []mount{{"/sys/fs/cgroup", "tmpfs"}, {"/sys/fs/cgroup/unified", "cgroup2"}, {"/mnt/with space", "cgroup2"}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("mount %d: got %v, want %v", i, got[i], want[i])
		}
	}
}

func TestUnifiedOnThisHost(t *testing.T) {
	p, err := Unified()
	if err != nil {
		t.Skipf("no cgroup2 here: %v", err)
	}
	if !strings.HasPrefix(p, "/") {
		t.Fatalf("Unified() = %q, want an absolute path", p)
	}
}
