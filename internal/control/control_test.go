package control

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	for _, tc := range []struct {
		in, err string
		want    Request
	}{
		{in: `{"op":"reboot"}`, want: Request{Op: "reboot"}},
		{in: `{"id":7,"op":"status","name":"web"}`, want: Request{ID: 7, Op: "status", Name: "web"}},
		{in: `{"op":"status"}`, want: Request{Op: "status"}},
		{in: `{"op":"format-disk"}`, err: `unknown operation "format-disk"`},
		{in: `{"op":"start"}`, err: "start: a service name is required"},
		{in: `{"op":"halt","name":"x"}`, err: "halt: takes no service name"},
		{in: `{"op":"stop","name":"../etc"}`, err: `stop: bad service name "../etc"`},
		{in: `{"op":"stop","name":"a","extra":1}`, err: `bad request: json: unknown field "extra"`},
		{in: `{"op":"halt"} {"op":"reboot"}`, err: "bad request: data after the JSON object"},
		{in: "\xff\xfe", err: "request is not valid UTF-8"},
		{in: `[]`, err: "bad request: json: cannot unmarshal array"},
	} {
		got, err := ParseRequest([]byte(tc.in))
		if tc.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestReadLineBounds(t *testing.T) {
	long := strings.Repeat("x", MaxLine+10)
	br := bufio.NewReaderSize(strings.NewReader(long+"\n"+`{"op":"ping"}`+"\n"+"partial"), 4096)
	if _, err := ReadLine(br); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("long line: err = %v", err)
	}
	line, err := ReadLine(br)
	if err != nil || string(line) != `{"op":"ping"}` {
		t.Fatalf("after a long line the stream must stay in sync: %q %v", line, err)
	}
	line, err = ReadLine(br)
	if !errors.Is(err, io.ErrUnexpectedEOF) || string(line) != "partial" {
		t.Fatalf("partial: %q %v", line, err)
	}
	if _, err := ReadLine(br); !errors.Is(err, io.EOF) {
		t.Fatalf("eof: %v", err)
	}
}

func TestParseEvent(t *testing.T) {
	ev, rep, err := ParseEvent([]byte(`{"event":"stopping","reason":"reboot"}`))
	if err != nil || rep != nil || ev == nil || ev.Event != "stopping" || ev.Reason != "reboot" {
		t.Fatalf("event: %+v %+v %v", ev, rep, err)
	}
	ev, rep, err = ParseEvent([]byte(`{"id":3,"ok":false,"error":"no"}`))
	if err != nil || ev != nil || rep == nil || rep.ID != 3 || rep.OK || rep.Error != "no" {
		t.Fatalf("reply: %+v %+v %v", ev, rep, err)
	}
	if _, _, err := ParseEvent([]byte(`not json`)); err == nil {
		t.Fatal("garbage accepted")
	}
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{`{"op":"reboot"}`, `{"id":1,"op":"start","name":"web"}`, `{"op":"x"}`, `[`, ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRequest(data)
		if err != nil {
			return
		}
		if _, ok := Ops[r.Op]; !ok {
			t.Fatalf("accepted unknown op %q", r.Op)
		}
		if r.Name != "" && !ValidName(r.Name) {
			t.Fatalf("accepted bad name %q", r.Name)
		}
	})
}

func FuzzReadLineAndEvent(f *testing.F) {
	f.Add([]byte("{\"event\":\"ready\"}\n{\"id\":1,\"ok\":true}\n"))
	f.Add([]byte("\n\n\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(strings.NewReader(string(data)), 16)
		for i := 0; i < 100; i++ {
			line, err := ReadLine(br)
			if len(line) > MaxLine {
				t.Fatalf("line of %d bytes returned", len(line))
			}
			if err != nil {
				return
			}
			_, _, _ = ParseEvent(line)
		}
	})
}
