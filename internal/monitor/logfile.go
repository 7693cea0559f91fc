package monitor

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// DefaultLogSize is the size at which a guest log is rotated to NAME.log.1.
const DefaultLogSize = 1 << 20

// logFile is a guest's log: console output and the monitor's own lines.
// Writes never block on anything but the disk; the file is rotated (one
// old generation) when it passes max bytes.
type logFile struct {
	mu   sync.Mutex
	path string
	max  int64
	f    *os.File
	size int64
}

func openLog(path string, max int64) (*logFile, error) {
	l := &logFile{path: path, max: max}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *logFile) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open log: %w", err)
	}
	l.f, l.size = f, fi.Size()
	return nil
}

func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return len(p), nil
	}
	if l.max > 0 && l.size+int64(len(p)) > l.max && l.size > 0 {
		l.f.Close()
		_ = os.Rename(l.path, l.path+".1")
		if err := l.open(); err != nil {
			l.f = nil
			return len(p), nil
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	return n, err
}

// Printf writes one monitor line, marked as such.
func (l *logFile) Printf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	fmt.Fprintf(l, "%s vserver: %s\n", time.Now().Format("2006-01-02T15:04:05.000"), line)
}

func (l *logFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// copyConsole copies the pty master to the log until it fails (the master
// is closed).
func copyConsole(master io.Reader, l *logFile) {
	buf := make([]byte, 32<<10)
	for {
		n, err := master.Read(buf)
		if n > 0 {
			_, _ = l.Write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// Tail returns the last n lines of the guest's log (both generations).
func Tail(path string, n int) string {
	var all []byte
	for _, p := range []string{path + ".1", path} {
		if b, err := os.ReadFile(p); err == nil {
			all = append(all, b...)
		}
	}
	var lines []string
	s := bufio.NewScanner(bytes.NewReader(all))
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		lines = append(lines, s.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	var b bytes.Buffer
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}
