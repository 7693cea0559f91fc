package pid1

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// console writes vinit's own messages (and, in supervisor mode, the tagged
// lines of services) to its stderr without ever blocking the caller: lines
// go through a bounded queue to one writer goroutine; when the queue is full
// (a stuck terminal, a full pipe) lines are dropped and counted, and the
// count is reported once the console drains.
type console struct {
	q       chan item
	dropped atomic.Uint64
	done    chan struct{}
	stamp   bool // prefix a timestamp (supervisor mode)
}

func newConsole(w io.Writer, lines int, stamp bool) *console {
	c := &console{q: make(chan item, lines), done: make(chan struct{}), stamp: stamp}
	go c.run(w)
	return c
}

func (c *console) run(w io.Writer) {
	defer close(c.done)
	for it := range c.q {
		if it.flushed != nil {
			close(it.flushed)
			continue
		}
		if n := c.dropped.Swap(0); n > 0 {
			fmt.Fprintf(w, "vinit: console was stuck: %d lines dropped\n", n)
		}
		if _, err := io.WriteString(w, it.line); err != nil {
			c.dropped.Add(1)
		}
	}
}

// item is a line to write, or a flush marker to acknowledge.
type item struct {
	line    string
	flushed chan struct{}
}

// Printf queues one line from vinit itself.
func (c *console) Printf(format string, args ...any) {
	c.Line("vinit", fmt.Sprintf(format, args...))
}

// Line queues one line tagged with tag.
func (c *console) Line(tag, msg string) {
	var s string
	if c.stamp {
		s = time.Now().Format("2006-01-02T15:04:05.000") + " " + tag + ": " + msg + "\n"
	} else {
		s = tag + ": " + msg + "\n"
	}
	select {
	case c.q <- item{line: s}:
	default:
		c.dropped.Add(1)
	}
}

// Flush waits up to d for queued lines to be written; used right before
// vinit exits so its last words are not lost.
func (c *console) Flush(d time.Duration) {
	ack := make(chan struct{})
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case c.q <- item{flushed: ack}:
	case <-t.C:
		return
	}
	select {
	case <-ack:
	case <-t.C:
	}
}
