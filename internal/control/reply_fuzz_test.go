package control

import (
	"encoding/json"
	"testing"
)

// FuzzParseReplyAndExit is the other direction of FuzzParseRequest: what
// vinit (guest-controlled) sends the monitor and what the monitor sends the
// CLI. No input may panic, and an exit event is accepted only with an id
// and a status a process can have.
func FuzzParseReplyAndExit(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"ok":true,"data":{"pid":7}}`, `{"id":2,"ok":false,"error":"no","data":{"status":127}}`,
		`{"event":"exit","id":3,"status":0}`, `{"event":"exit","id":3,"status":256}`,
		`{"event":"exit","id":0,"status":1}`, `{"event":"exit","id":4}`, `{"event":"exit","id":5,"status":-1}`,
		`{"event":"ready"}`, `{"event":"stopping","reason":"reboot"}`, `{"id":18446744073709551615}`,
		`{"event":null}`, `[]`, `null`, `{"ok":"yes"}`, "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if r, err := ParseReply(data); err == nil && len(r.Data) > 0 {
			var started ExecStarted
			_ = json.Unmarshal(r.Data, &started)
			var failed ExecFailed
			_ = json.Unmarshal(r.Data, &failed)
		}
		ev, rep, err := ParseEvent(data)
		if err != nil {
			if ev != nil || rep != nil {
				t.Fatal("an error with a message")
			}
			return
		}
		if (ev == nil) == (rep == nil) {
			t.Fatalf("event %v and reply %v: want exactly one", ev, rep)
		}
		if ev == nil {
			return
		}
		id, status, err := ParseExitEvent(ev)
		if err != nil {
			return
		}
		if ev.Event != "exit" || id == 0 || status < 0 || status > 255 {
			t.Fatalf("accepted exit event %+v as id %d status %d", ev, id, status)
		}
	})
}
