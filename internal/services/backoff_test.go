package services

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestNextDelayCurve(t *testing.T) {
	ms := time.Millisecond
	var prev time.Duration
	var got []time.Duration
	for i := 0; i < 8; i++ {
		var wait time.Duration
		wait, prev = nextDelay(prev, 100*ms, 1000*ms, 10*time.Second, 0, 0.5) // jitter 0.5 = none
		got = append(got, wait)
	}
	want := []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1000 * ms, 1000 * ms, 1000 * ms, 1000 * ms}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delays %v, want %v", got, want)
		}
	}
	// A stable period resets the curve.
	if wait, _ := nextDelay(800*ms, 100*ms, time.Second, 10*time.Second, 11*time.Second, 0.5); wait != 100*ms {
		t.Fatalf("after a stable run: %v", wait)
	}
	// Jitter stays within ±10 % and under the cap.
	lo, _ := nextDelay(0, 100*ms, time.Second, 0, 0, 0)
	hi, _ := nextDelay(0, 100*ms, time.Second, 0, 0, 0.999)
	if lo != 90*ms || hi < 109*ms || hi > 110*ms {
		t.Fatalf("jitter range %v..%v", lo, hi)
	}
	if capped, _ := nextDelay(time.Second, 100*ms, time.Second, 0, 0, 0.999); capped > time.Second {
		t.Fatalf("jitter broke the cap: %v", capped)
	}
	if zero, _ := nextDelay(0, 0, time.Second, 0, 0, 0.9); zero != 0 {
		t.Fatalf("delay 0 must stay 0: %v", zero)
	}
}

func TestStartLimit(t *testing.T) {
	l := StartLimit{Burst: 3, Interval: time.Second}
	t0 := time.Unix(1000, 0)
	var starts []time.Time
	var hit bool
	for i := 0; i < 3; i++ {
		now := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		starts, hit = startLimited(starts, now, l)
		if hit {
			t.Fatalf("start %d hit the limit", i+1)
		}
		starts = append(starts, now)
	}
	if _, hit = startLimited(starts, t0.Add(300*time.Millisecond), l); !hit {
		t.Fatal("4th start within a second did not hit a burst of 3")
	}
	if _, hit = startLimited(starts, t0.Add(1050*time.Millisecond), l); hit {
		t.Fatal("the window did not slide")
	}
	if _, hit = startLimited(nil, t0, StartLimit{}); hit {
		t.Fatal("no limit configured, yet limited")
	}
}

func TestStartErrorNamesWhatFailed(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&os.PathError{Op: "fork/exec", Path: "/bin/sleep", Err: syscall.ENOENT}, "exec sleep: no such file or directory"},
		{&os.PathError{Op: "open", Path: "/dev/null", Err: syscall.ENOENT}, "open /dev/null: no such file or directory"},
		{errors.New("other"), "other"},
	} {
		if got := startError("sleep", "/bin/sleep", tc.err).Error(); got != tc.want {
			t.Errorf("%v: got %q, want %q", tc.err, got, tc.want)
		}
	}
}
