package hooks

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// FuzzCopyLines feeds arbitrary hook output, in arbitrary chunks, to the
// line copier: every logged line carries the hook's tag, holds no newline
// and at most 4 KiB of output, and together the lines are the output
// without its newlines — nothing lost, nothing invented.
func FuzzCopyLines(f *testing.F) {
	for _, s := range []string{"one\ntwo\n", "no newline", "\n\n\n", "crlf\r\n", "\x00\xff\n",
		strings.Repeat("x", 5000) + "\ny\n"} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		var r io.Reader = bytes.NewReader(data)
		switch chunk % 3 {
		case 1:
			r = iotest.OneByteReader(r)
		case 2:
			r = iotest.DataErrReader(iotest.HalfReader(r))
		}
		var got []byte
		copyLines(r, "hook", func(line string) {
			rest, ok := strings.CutPrefix(line, "hook: ")
			if !ok {
				t.Fatalf("line without the tag: %q", line)
			}
			if strings.Contains(rest, "\n") || len(rest) > 4096 {
				t.Fatalf("line of %d bytes with a newline or over 4 KiB", len(rest))
			}
			got = append(got, rest...)
		})
		if want := bytes.ReplaceAll(data, []byte("\n"), nil); !bytes.Equal(got, want) {
			t.Fatalf("logged %q; want %q", got, want)
		}
	})
}
