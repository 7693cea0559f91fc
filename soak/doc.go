// Package soak holds the soak test (make soak, and a short variant in make
// test): one guest kept busy with orphans, crash-restarts, execs and
// reboots from inside, then checked for anything that accumulated.
package soak
