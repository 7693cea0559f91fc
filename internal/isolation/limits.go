package isolation

import (
	"fmt"
	"sort"
	"strings"
)

// rlimitNumbers maps setrlimit(2) resource names (without RLIMIT_, lower
// case) to their numbers, which are the same on every Linux architecture
// this project builds for (amd64, arm64).
var rlimitNumbers = map[string]int{
	"cpu": 0, "fsize": 1, "data": 2, "stack": 3, "core": 4, "rss": 5,
	"nproc": 6, "nofile": 7, "memlock": 8, "as": 9, "locks": 10,
	"sigpending": 11, "msgqueue": 12, "nice": 13, "rtprio": 14, "rttime": 15,
}

const rlimitNofile = 7

// rlimit is one resolved limit for the child.
type rlimit struct {
	Resource  int
	Soft, Max uint64
}

// parseRlimits validates the names and soft <= hard, in a stable order.
func parseRlimits(m map[string][2]uint64) ([]rlimit, error) {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]rlimit, 0, len(m))
	seen := map[int]string{}
	for _, k := range names {
		n := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(k)), "rlimit_")
		num, ok := rlimitNumbers[n]
		if !ok {
			return nil, fmt.Errorf("unknown resource limit %q", k)
		}
		if prev, dup := seen[num]; dup {
			return nil, fmt.Errorf("resource limit %q given twice (also as %q)", k, prev)
		}
		seen[num] = k
		v := m[k]
		if v[0] > v[1] {
			return nil, fmt.Errorf("resource limit %q: soft limit %d above hard limit %d", k, v[0], v[1])
		}
		out = append(out, rlimit{Resource: num, Soft: v[0], Max: v[1]})
	}
	return out, nil
}
