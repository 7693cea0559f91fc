package services

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"syscall"
)

// maxLine caps one logged line; longer output is split, so a service that
// never prints a newline cannot grow vinit's memory.
const maxLine = 4096

// ringLines is how many recent lines "vinit log NAME" can show.
const ringLines = 200

// logRing keeps a service's recent output lines for "vinit log NAME".
// Written by the reader goroutines, read by the loop: it has its own lock.
type logRing struct {
	mu    sync.Mutex
	lines []string
	next  int
}

func (r *logRing) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.lines) < ringLines {
		r.lines = append(r.lines, s)
		return
	}
	r.lines[r.next] = s
	r.next = (r.next + 1) % ringLines
}

// recent returns the last lines, oldest first.
func (r *logRing) recent() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.lines))
	out = append(out, r.lines[r.next:]...)
	return append(out, r.lines[:r.next]...)
}

// logSink receives the lines of one output stream: into the ring, and to
// the console (never blocking) or a rotating file.
type logSink struct {
	name    string
	ring    *logRing
	console func(tag, line string) // must not block
	file    *rotatingFile          // nil: to the console
}

func (s *logSink) line(b []byte) {
	str := string(b)
	s.ring.add(str)
	if s.file != nil {
		s.file.writeLine(b)
	} else if s.console != nil {
		s.console(s.name, str)
	}
}

// readLines copies r to sink line by line until EOF (every writer, the
// service and its children, closed the pipe). Bytes pass through as they
// are: invalid UTF-8 and binary data are logged, not judged.
func readLines(r io.ReadCloser, sink *logSink) {
	defer r.Close()
	br := bufio.NewReaderSize(r, maxLine)
	for {
		b, err := br.ReadSlice('\n')
		if len(b) > 0 {
			if b[len(b)-1] == '\n' {
				b = b[:len(b)-1]
			}
			sink.line(b)
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// rotatingFile appends lines to a file and rotates it by size:
// path → path.1 → … → path.KEEP, the oldest dropped.
type rotatingFile struct {
	path string
	max  int64
	keep int

	mu   sync.Mutex
	f    *os.File
	size int64
	errs int // write errors, reported once per rotation
}

func openRotating(path string, max int64, keep int) (*rotatingFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND|syscall.O_CLOEXEC, 0o640)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &rotatingFile{path: path, max: max, keep: keep, f: f, size: fi.Size()}, nil
}

func (r *rotatingFile) writeLine(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return
	}
	n := int64(len(b) + 1)
	if r.max > 0 && r.size > 0 && r.size+n > r.max {
		r.rotate()
	}
	if _, err := r.f.Write(append(b, '\n')); err != nil {
		r.errs++
		return
	}
	r.size += n
}

// rotate shifts the files and reopens path. Called with mu held.
func (r *rotatingFile) rotate() {
	r.f.Close()
	r.f = nil
	if r.keep <= 0 {
		os.Remove(r.path)
	} else {
		for i := r.keep - 1; i >= 1; i-- {
			_ = os.Rename(r.path+"."+strconv.Itoa(i), r.path+"."+strconv.Itoa(i+1))
		}
		_ = os.Rename(r.path, r.path+".1")
	}
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND|syscall.O_CLOEXEC, 0o640)
	if err != nil {
		r.errs++
		return
	}
	r.f, r.size = f, 0
}

func (r *rotatingFile) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}

// outputs sets up a service's stdout and stderr for one start: the files
// to give the child, and the reader goroutines to run once it started.
type outputs struct {
	stdout, stderr *os.File   // the child's ends
	parentEnds     []*os.File // closed by us after the start
	readers        []func()   // run in goroutines after the start
}

func (u *unit) openOutputs() (*outputs, error) {
	o := &outputs{}
	same := u.spec.Stdout == u.spec.Stderr
	open := func(out Output) (*os.File, error) {
		switch out.Kind {
		case OutputNull:
			f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
			if err == nil {
				o.parentEnds = append(o.parentEnds, f)
			}
			return f, err
		}
		sink := &logSink{name: u.spec.Name, ring: &u.ring, console: u.sv.host.Log}
		if out.Kind == OutputFile {
			if u.files == nil {
				u.files = map[string]*rotatingFile{}
			}
			rf := u.files[out.Path]
			if rf == nil {
				var err error
				rf, err = openRotating(out.Path, u.spec.LogMaxSize, u.spec.LogKeep)
				if err != nil {
					return nil, fmt.Errorf("open log %s: %w", out.Path, err)
				}
				u.files[out.Path] = rf
			}
			sink.file = rf
		}
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		o.parentEnds = append(o.parentEnds, w)
		o.readers = append(o.readers, func() { readLines(r, sink) })
		return w, nil
	}
	var err error
	if o.stdout, err = open(u.spec.Stdout); err != nil {
		o.close()
		return nil, err
	}
	if same {
		o.stderr = o.stdout
		return o, nil
	}
	if o.stderr, err = open(u.spec.Stderr); err != nil {
		o.close()
		return nil, err
	}
	return o, nil
}

// started closes our copies of the child's ends and starts the readers.
func (o *outputs) started() {
	o.close()
	for _, r := range o.readers {
		go r()
	}
}

func (o *outputs) close() {
	for _, f := range o.parentEnds {
		f.Close()
	}
	o.parentEnds = nil
}
