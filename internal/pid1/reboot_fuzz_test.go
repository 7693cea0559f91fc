package pid1

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"testing/iotest"
)

func TestReadRebootRequest(t *testing.T) {
	for _, tc := range []struct {
		in   string
		word string
		ok   bool
		err  bool
	}{
		{"reboot\n", "reboot", true, false},
		{"halt\n", "halt", true, false},
		{"poweroff", "poweroff", true, false}, // no newline before the client's end
		{"  reboot \r\n", "reboot", true, false},
		{"reboot\nhalt\n", "reboot", true, false}, // one request per connection
		{"REBOOT\n", "REBOOT", false, false},
		{"kexec\n", "kexec", false, false},
		{"", "", false, true},
		{string(bytes.Repeat([]byte("x"), 100)) + "reboot\n", string(bytes.Repeat([]byte("x"), 64)), false, false},
	} {
		word, ok, err := readRebootRequest(bytes.NewReader([]byte(tc.in)))
		if word != tc.word || ok != tc.ok || (err != nil) != tc.err {
			t.Errorf("%q: %q %v %v; want %q %v err=%v", tc.in, word, ok, err, tc.word, tc.ok, tc.err)
		}
	}
	// A client that says nothing before the deadline is answered as an
	// unknown request, not dropped.
	word, ok, err := readRebootRequest(iotest.ErrReader(os.ErrDeadlineExceeded))
	if word != "" || ok || err != nil {
		t.Errorf("deadline: %q %v %v", word, ok, err)
	}
}

// FuzzReadRebootRequest feeds what a guest process may write to
// /dev/reboot, in arbitrary chunks: vinit must never act on anything but
// the three words, never read past its 64-byte line, and never panic.
func FuzzReadRebootRequest(f *testing.F) {
	for _, s := range []string{"reboot\n", "halt\n", "poweroff\n", "halt", " reboot\r\n", "rebootx\n", "\x00\n", "\n", ""} {
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		var r io.Reader = bytes.NewReader(data)
		if chunk%2 == 1 {
			r = iotest.OneByteReader(r)
		} else if chunk%3 == 0 {
			r = iotest.HalfReader(r)
		}
		cr := &countingReader{r: r}
		word, ok, err := readRebootRequest(cr)
		if err != nil {
			if len(data) > 0 || !errors.Is(err, io.EOF) {
				t.Fatalf("error %v for %q; only a client that sent nothing is dropped", err, data)
			}
			return
		}
		if ok != (word == "reboot" || word == "halt" || word == "poweroff") {
			t.Fatalf("word %q ok=%v", word, ok)
		}
		if len(word) > 64 {
			t.Fatalf("word of %d bytes from a 64-byte line", len(word))
		}
		if ok {
			line := data
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				line = data[:i]
			}
			if string(bytes.TrimSpace(line)) != word {
				t.Fatalf("acted on %q, but the first line is %q", word, line)
			}
		}
		if cr.n > 64 {
			t.Fatalf("read %d bytes; the request line is at most 64", cr.n)
		}
	})
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
