package services

import (
	"fmt"
	"time"
)

// parseDuration reads a Go duration ("100ms", "1m30s") that must not be
// negative. A bare "0" is allowed, as time.ParseDuration allows it.
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use Go syntax such as \"100ms\", \"10s\" or \"1m30s\")", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %q", s)
	}
	return d, nil
}
