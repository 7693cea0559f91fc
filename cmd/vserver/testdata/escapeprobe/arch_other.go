//go:build !amd64

package main

// archSpecific: no port I/O outside x86.
func archSpecific(map[string]string) {}
