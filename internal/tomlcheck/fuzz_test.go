package tomlcheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzIndex feeds arbitrary bytes to Parse: it must never panic, a syntax
// error must be a *PosError on a line of the input, and every key of a valid
// document outside arrays must have a position where its text is.
func FuzzIndex(f *testing.F) {
	for _, glob := range []string{"etc/vinit/services/*.toml", "etc/vinit/*.toml", "etc/vservers/*.toml"} {
		examples, _ := filepath.Glob(filepath.Join("..", "..", glob))
		for _, p := range examples {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
	}
	f.Add([]byte(posDoc))
	f.Add([]byte("[[x]]\na = 1\n[[x]]\n[x.y]\n[[x.z]]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, ix, err := Parse("/f/x.toml", data)
		if err != nil {
			pe, ok := err.(*PosError)
			if !ok {
				t.Fatalf("error without position: %v", err)
			}
			lines := strings.Count(string(data), "\n") + 1
			if pe.Line < 1 || pe.Line > lines || pe.Col < 1 {
				t.Fatalf("error at %d:%d outside the %d-line input: %v", pe.Line, pe.Col, lines, err)
			}
			if !strings.HasPrefix(pe.Error(), "/f/x.toml:") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if m == nil || ix == nil {
			t.Fatal("no error and no document")
		}
		checkKeyPositions(t, string(data))
	})
}
