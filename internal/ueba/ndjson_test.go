package ueba

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fastjson"

	"github.com/wacht-soc/wacht/event"
)

func TestReadEventsRoundTrip(t *testing.T) {
	var in []*event.Event
	simulate(3, func(evs []*event.Event) {
		if len(in) < 2000 {
			in = append(in, evs...)
		}
	})
	var buf bytes.Buffer
	for _, e := range in {
		buf.Write(e.AppendJSON(nil))
		buf.WriteString("\n\n")
	}
	var out []*event.Event
	if err := ReadEvents(&buf, "x", func(e *event.Event) error { out = append(out, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("read %d events, wrote %d", len(out), len(in))
	}
	for i := range in {
		a, b := in[i], out[i]
		if !a.Time.Equal(b.Time) || a.Tenant != b.Tenant || a.LogSource != b.LogSource || len(a.Fields) != len(b.Fields) {
			t.Fatalf("event %d: %+v became %+v", i, a, b)
		}
		for j := range a.Fields {
			if a.Fields[j].Name != b.Fields[j].Name || a.Fields[j].Value.Str() != b.Fields[j].Value.Str() {
				t.Fatalf("event %d field %d: %v became %v", i, j, a.Fields[j], b.Fields[j])
			}
		}
	}
	// The detectors see the same thing either way.
	if x, y := Replay(Config{}, in), Replay(Config{}, out); len(x) != len(y) {
		t.Errorf("replay of the decoded events differs: %d vs %d anomalies", len(x), len(y))
	}
	for _, c := range []struct{ in, want string }{
		{`{"_time":"2026-01-05T00:00:00Z"}` + "\n" + `[1]`, "line 2: JSON value is a array"},
		{`{"user.name":"a"}`, "line 1: no _time"},
		{`{"_time":"yesterday"}`, `line 1: _time "yesterday" is not an RFC 3339 time`},
		{`{"_time":`, "line 1: invalid JSON"},
	} {
		err := ReadEvents(strings.NewReader(c.in), "x", func(*event.Event) error { return nil })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.in, err, c.want)
		}
	}
	var got *event.Event
	if err := ReadEvents(strings.NewReader(`{"_time":"2026-01-05T10:00:00Z","host.name":"h"}`), "dflt", func(e *event.Event) error { got = e; return nil }); err != nil || got.Tenant != "dflt" || !got.Time.Equal(time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("default tenant: %v %+v", err, got)
	}
}

func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(`{"_time":"2026-01-05T00:00:00Z","tenant":"t","logsource.product":"windows","user.name":"bob","n":3,"a":[1,2]}`))
	f.Add([]byte(`{"_time":"x"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p fastjson.Parser
		e, err := DecodeEvent(&p, b)
		if err != nil {
			return
		}
		if e.Time.IsZero() {
			t.Fatal("event without a time accepted")
		}
		Replay(Config{LearningPeriod: time.Nanosecond}, []*event.Event{e})
	})
}
