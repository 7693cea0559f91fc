package control

import (
	"bufio"
	"fmt"
	"net"
	"time"
)

// Call sends req to the control socket at path and returns the reply.
func Call(path string, req Request, timeout time.Duration) (Reply, error) {
	conn, err := net.DialTimeout("unix", path, timeout)
	if err != nil {
		return Reply{}, fmt.Errorf("connect to vinit at %s: %w", path, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write(Marshal(req)); err != nil {
		return Reply{}, fmt.Errorf("send %s request to %s: %w", req.Op, path, err)
	}
	line, err := ReadLine(bufio.NewReader(conn))
	if err != nil {
		return Reply{}, fmt.Errorf("read reply to %s from %s: %w", req.Op, path, err)
	}
	return ParseReply(line)
}
