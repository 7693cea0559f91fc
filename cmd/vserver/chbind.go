package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/vserver-go/vserver/internal/ipv4root"
	"github.com/vserver-go/vserver/internal/monitor"
)

// chbind is `vserver chbind --ip IP[,IP...] -- CMD [ARG...]`: CMD runs
// confined to the IPs (ipv4root.Chbind), and its exit status is ours.
func (c *cli) chbind(args []string) int {
	const use = "chbind --ip IP[,IP...] [--] CMD [ARG...]"
	fs := flag.NewFlagSet("chbind", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var ips []netip.Addr
	fs.Func("ip", "", func(v string) error {
		got, err := parseChbindIPs(v)
		ips = append(ips, got...)
		return err
	})
	if err := fs.Parse(args); err != nil {
		return c.usageErr("%s: %v", use, err)
	}
	if len(ips) == 0 || fs.NArg() == 0 {
		return c.usageErr("%s", use)
	}
	code, err := ipv4root.Chbind(ips, fs.Args())
	if err != nil {
		fmt.Fprintf(c.stderr, "vserver: %v\n", err)
		if code == 0 {
			return monitor.ExitFailed
		}
	}
	return code
}

// parseChbindIPs reads "192.0.2.1,2001:db8::1": plain addresses, no
// prefix lengths, zones or wildcards.
func parseChbindIPs(v string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, s := range strings.Split(v, ",") {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("invalid address %q (want IP[,IP...])", s)
		}
		a = a.Unmap()
		if a.IsUnspecified() {
			return nil, errors.New("the wildcard address cannot be bound to")
		}
		out = append(out, a)
	}
	return out, nil
}
