//go:build linux && !amd64 && !arm64

package isolation

// No syscall table for this architecture: installSeccomp refuses, so a
// guest never runs without the filter it asked for.
var nativeSeccomp = seccompArch{}
