package services

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoadService feeds arbitrary bytes to the loader PID 1 runs: it must
// never panic and every error must be a *PosError on a line of the input.
// (That every key has a position is tomlcheck's FuzzIndex.)
func FuzzLoadService(f *testing.F) {
	examples, _ := filepath.Glob(filepath.Join("..", "..", "etc", "vinit", "services", "*.toml"))
	for _, p := range examples {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("a = [1, { b = '}' }]\n[[x]]\n[[x]]\nc = \"\"\"\n]\"\"\"\n"))
	f.Add([]byte("command = \"x\"\nrestrat = 1\n[ready]\ntpc = 3\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, errs := LoadService("/f/svc.toml", data, testLookup)
		if s == nil {
			t.Fatal("nil spec")
		}
		lines := strings.Count(string(data), "\n") + 1
		for _, e := range errs {
			var pe *PosError
			if !errors.As(e, &pe) {
				t.Fatalf("error without position: %v", e)
			}
			if pe.Line < 1 || pe.Line > lines || pe.Col < 1 {
				t.Fatalf("error at %d:%d outside the %d-line input: %v", pe.Line, pe.Col, lines, e)
			}
			if !strings.HasPrefix(pe.Error(), "/f/svc.toml:") {
				t.Fatalf("error does not name the file: %v", e)
			}
		}
		if len(errs) == 0 && len(s.Command) == 0 {
			t.Fatal("valid spec without a command")
		}
	})
}
