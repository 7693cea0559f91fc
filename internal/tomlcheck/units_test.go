package tomlcheck

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{"0": 0, "100ms": 100 * time.Millisecond, "1m30s": 90 * time.Second, "1h": time.Hour, "1.5s": 1500 * time.Millisecond}
	for in, want := range good {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "10", "10 s", "ten seconds", "-1s", "1d"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q): no error", in)
		}
	}
}

func TestParseSize(t *testing.T) {
	good := map[string]int64{
		"0": 0, "4096": 4096, "512k": 512 << 10, "1K": 1 << 10, "1KiB": 1 << 10, "1MiB": 1 << 20, "10M": 10 << 20,
		"1G": 1 << 30, "2gib": 2 << 30, "1kB": 1000, "10MB": 10e6, "1GB": 1e9, "3 MiB": 3 << 20, "7B": 7,
		"1T": 1 << 40, "2TiB": 2 << 40, "1TB": 1e12,
	}
	for in, want := range good {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "M", "1P", "1.5M", "-1", "1 parsec", "99999999999999999999", "9999999999999G", "8388608T"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q): no error", in)
		}
	}
}
