package services

import (
	"testing"
)

func TestParseNotify(t *testing.T) {
	m := parseNotify([]byte("READY=1\nSTATUS=serving 3 clients\nMAINPID=42\ngarbage\n=x\n"))
	if m["READY"] != "1" || m["STATUS"] != "serving 3 clients" || m["MAINPID"] != "42" || len(m) != 3 {
		t.Fatalf("parsed %v", m)
	}
}

func FuzzParseNotify(f *testing.F) {
	f.Add([]byte("READY=1\nSTATUS=x"))
	f.Add([]byte("\x00\xff=\n=\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for k := range parseNotify(b) {
			if k == "" || len(k) > 64 {
				t.Fatalf("bad key %q", k)
			}
		}
	})
}
