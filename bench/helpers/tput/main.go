// Command tput measures TCP throughput through the loopback as the
// network of wherever it runs sees it: it listens on 127.0.0.1, connects to
// itself and sends -mib MiB through the connection, then prints
// "BYTES SECONDS" (from the connect until the reader saw end-of-file).
// The benchmark driver runs it on the host and inside guests.
//
//	tput [-mib N]
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "tput: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	mib := flag.Int("mib", 256, "MiB to send")
	flag.Parse()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	got := make(chan error, 1)
	var n int64
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- err
			return
		}
		defer c.Close()
		n, err = io.Copy(io.Discard, c)
		got <- err
	}()
	t0 := time.Now()
	c, err := net.Dial("tcp4", l.Addr().String())
	if err != nil {
		return err
	}
	buf := make([]byte, 128<<10)
	want := int64(*mib) << 20
	for sent := int64(0); sent < want; sent += int64(len(buf)) {
		if _, err := c.Write(buf); err != nil {
			return err
		}
	}
	if err := c.Close(); err != nil {
		return err
	}
	if err := <-got; err != nil {
		return err
	}
	d := time.Since(t0)
	if n != want {
		return errors.New("short read")
	}
	fmt.Printf("%d %.9f\n", n, d.Seconds())
	return nil
}
