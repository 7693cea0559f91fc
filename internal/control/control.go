// Package control is the request protocol between vinit's clients (vinit
// status/reboot/..., the reboot/halt links), vinit itself, and the vserver
// monitor.
//
// Every message is one JSON object on one line, at most MaxLine bytes. A
// client sends a Request and reads one Reply. On the monitor channel (an
// inherited socket, VINIT_MONITOR_FD) vinit also sends Events unprompted.
// Everything read is parsed defensively: unknown operations, oversized or
// malformed lines get an error reply, never a crash.
package control

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// MaxLine bounds one message, so a hostile peer cannot grow our memory.
const MaxLine = 64 << 10

// DefaultSocket is where vinit serves requests inside a guest or container.
const DefaultSocket = "/run/vinit/control.sock"

// Request is one client request.
type Request struct {
	ID   uint64 `json:"id,omitempty"`
	Op   string `json:"op"`
	Name string `json:"name,omitempty"` // a service, for start/stop/restart/status/log

	// exec and signal (the monitor channel and the monitor's socket only;
	// exec.go).
	Exec   *Exec  `json:"exec,omitempty"`   // exec: what to run
	Target uint64 `json:"target,omitempty"` // signal: the id of the exec request whose process gets it
	Signal int    `json:"signal,omitempty"` // signal: the signal number
}

// Reply answers one Request.
type Reply struct {
	ID    uint64          `json:"id,omitempty"`
	OK    bool            `json:"ok"`
	Error string          `json:"error,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
}

// Event is sent by vinit on the monitor channel: "ready" when booted,
// "stopping" (with the reason) when it begins to shut down.
type Event struct {
	Event  string `json:"event"`
	Reason string `json:"reason,omitempty"`
	// "exit": the process of exec request ID ended with Status (the exit
	// code, or 128+signal).
	ID     uint64 `json:"id,omitempty"`
	Status *int   `json:"status,omitempty"`
}

// Ops lists the operations and whether they take a service name
// (required, optional or none).
var Ops = map[string]NameUse{
	"status":   NameOptional,
	"start":    NameRequired,
	"stop":     NameRequired,
	"restart":  NameRequired,
	"reload":   NameOptional,
	"log":      NameRequired,
	"reboot":   NameNone,
	"halt":     NameNone,
	"poweroff": NameNone,
	"ping":     NameNone,
	"exec":     NameNone,
	"signal":   NameNone,
}

// NameUse says whether an operation takes a service name.
type NameUse int

// The ways an operation uses Request.Name.
const (
	NameNone NameUse = iota
	NameOptional
	NameRequired
)

// ErrLineTooLong is returned for a message over MaxLine.
var ErrLineTooLong = errors.New("message longer than 64 KiB")

// ReadLine reads one newline-terminated message of at most MaxLine bytes.
// The newline is not returned. At EOF after a partial line it returns the
// partial line and io.ErrUnexpectedEOF.
func ReadLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > MaxLine+1 {
			// Drain the rest of this line so the stream stays in sync.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			return nil, ErrLineTooLong
		}
		buf = append(buf, chunk...)
		switch {
		case err == nil:
			return bytes.TrimSuffix(buf, []byte("\n")), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(buf) > 0:
			return buf, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
	}
}

// ParseRequest decodes and validates one request line.
func ParseRequest(line []byte) (Request, error) {
	var r Request
	if !utf8.Valid(line) {
		return r, errors.New("request is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf("bad request: %w", err)
	}
	if dec.More() {
		return r, errors.New("bad request: data after the JSON object")
	}
	use, ok := Ops[r.Op]
	if !ok {
		return r, fmt.Errorf("unknown operation %q", r.Op)
	}
	switch {
	case use == NameRequired && r.Name == "":
		return r, fmt.Errorf("%s: a service name is required", r.Op)
	case use == NameNone && r.Name != "":
		return r, fmt.Errorf("%s: takes no service name", r.Op)
	}
	if r.Name != "" && !ValidName(r.Name) {
		return r, fmt.Errorf("%s: bad service name %q", r.Op, r.Name)
	}
	if err := checkExecFields(&r); err != nil {
		return r, err
	}
	return r, nil
}

// ValidName reports whether s is a plausible service name: 1-64 bytes of
// letters, digits, '.', '_', '-', '@', not starting with '.'.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '@') {
			return false
		}
	}
	return true
}

// ParseReply decodes one reply line.
func ParseReply(line []byte) (Reply, error) {
	var r Reply
	if err := json.Unmarshal(line, &r); err != nil {
		return r, fmt.Errorf("bad reply: %w", err)
	}
	return r, nil
}

// ParseEvent decodes one line from vinit on the monitor channel: an Event
// (when it has "event") or a Reply.
func ParseEvent(line []byte) (ev *Event, rep *Reply, err error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(line, &probe); err != nil {
		return nil, nil, fmt.Errorf("bad message from vinit: %w", err)
	}
	if _, ok := probe["event"]; ok {
		var e Event
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, nil, fmt.Errorf("bad event from vinit: %w", err)
		}
		return &e, nil, nil
	}
	r, err := ParseReply(line)
	if err != nil {
		return nil, nil, err
	}
	return nil, &r, nil
}

// Marshal encodes v as one message line, newline included.
func Marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own types are marshalled; they always encode.
		b = []byte(`{"ok":false,"error":"internal: cannot encode reply"}`)
	}
	return append(b, '\n')
}
