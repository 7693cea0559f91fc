package tomlcheck

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseDuration reads a Go duration ("100ms", "1m30s") that must not be
// negative. A bare "0" is allowed, as time.ParseDuration allows it.
func ParseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use Go syntax such as \"100ms\", \"10s\" or \"1m30s\")", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %q", s)
	}
	return d, nil
}

// sizeUnits maps a size suffix to its multiplier. K, M, G, T (with or without
// "iB") are binary as in most admin tools; kB, MB, GB, TB are decimal (SI).
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gib": 1 << 30,
	"t": 1 << 40, "tib": 1 << 40,
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
}

// ParseSize reads a byte count such as "1048576", "1MiB", "10M", "512k" or
// "2GB".
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("invalid size %q (use bytes or a unit: \"512K\", \"1MiB\", \"10M\", \"1G\")", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	unit := strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := sizeUnits[unit]
	if err != nil || !ok {
		return 0, fmt.Errorf("invalid size %q (use bytes or a unit: \"512K\", \"1MiB\", \"10M\", \"1G\")", s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n * mult, nil
}
