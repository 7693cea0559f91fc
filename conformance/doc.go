// Package conformance is a black-box test suite for PID-1 inits: it runs an
// init binary as PID 1 of a fresh PID namespace (or as a plain child, for the
// subreaper scenarios) and checks the scenarios of the project's scenario
// catalogue from outside — exit statuses, signal forwarding, reaping, process
// groups, terminals and what the init lets its child inherit.
//
// The init under test is chosen with INIT_BIN (default VINIT_BIN, else vinit
// built from ./cmd/vinit) and INIT_KIND (vinit, tini, dumb-init or catatonit;
// default from the binary's name). docs/conformance.md describes how to run it
// against each init and has the last results.
//
// The package has no non-test code; the programs the scenarios run live in
// helpers/ and are built once per test run.
package conformance
