package services

import "time"

// nextDelay is the restart backoff: the first restart waits base, each
// following one twice the previous, capped at max; a service that stayed up
// for at least reset starts from base again. jitter in [0,1) spreads the
// delay by ±10 % so services that failed together do not restart in step.
// It returns the delay to wait and the unjittered value to double next time.
func nextDelay(prev, base, max, reset, upFor time.Duration, jitter float64) (wait, next time.Duration) {
	switch {
	case prev == 0 || (reset > 0 && upFor >= reset):
		next = base
	default:
		next = prev * 2
	}
	if max > 0 && next > max {
		next = max
	}
	wait = next + time.Duration(float64(next)*(jitter-0.5)*0.2)
	if max > 0 && wait > max {
		wait = max
	}
	return wait, next
}

// startLimited reports whether one more start at now would exceed the
// limit: more than burst starts within interval. It returns the recorded
// starts still inside the window (the caller records each real start).
func startLimited(starts []time.Time, now time.Time, l StartLimit) ([]time.Time, bool) {
	if l.Burst <= 0 || l.Interval <= 0 {
		return nil, false
	}
	kept := starts[:0]
	for _, t := range starts {
		if now.Sub(t) < l.Interval {
			kept = append(kept, t)
		}
	}
	return kept, len(kept) >= l.Burst
}
