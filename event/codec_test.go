package event

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
)

func sampleEvent() *Event {
	e := &Event{
		Time:       time.Date(2026, 11, 27, 10, 0, 0, 123456789, time.UTC),
		IngestTime: time.Date(2026, 11, 27, 10, 0, 1, 0, time.UTC),
		Tenant:     "acme",
		Source:     Source{Listener: "syslog-tcp", Peer: "10.0.0.1:514"},
		LogSource:  LogSource{Product: "linux", Service: "sshd"},
		Format:     "rfc5424/1",
		Message:    "Failed password for root",
		Raw:        []byte("<34>1 raw"),
		Errors:     []string{"structured data at byte 3: bad"},
	}
	e.Add("user.name", String("root"))
	e.Add("source.port", Int(-22))
	e.Add("score", Float(math.Pi))
	e.Add("ok", Bool(true))
	e.Add("seen", Time(e.Time))
	e.Add("nothing", Null())
	e.Add("tags", Array([]Value{String("a"), Int(1), Array([]Value{Bool(false)})}))
	e.ComputeID()
	return e
}

func TestBatchRoundTrip(t *testing.T) {
	in := []*Event{sampleEvent(), {Tenant: "default", Message: "bare"}}
	b := AppendBatch(nil, in)
	out, err := DecodeBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 {
		t.Fatalf("decoded %d events", len(out))
	}
	a, z := in[0], out[0]
	if a.ID != z.ID || !a.Time.Equal(z.Time) || !a.IngestTime.Equal(z.IngestTime) || a.Tenant != z.Tenant ||
		a.Source != z.Source || a.LogSource != z.LogSource || a.Format != z.Format || a.Message != z.Message ||
		!bytes.Equal(a.Raw, z.Raw) || a.ErrorText() != z.ErrorText() || len(a.Fields) != len(z.Fields) {
		t.Fatalf("round trip changed the event:\n in %+v\nout %+v", a, z)
	}
	for i := range a.Fields {
		if a.Fields[i].Name != z.Fields[i].Name || !a.Fields[i].Value.Equal(z.Fields[i].Value) {
			t.Fatalf("field %d: %v != %v", i, a.Fields[i], z.Fields[i])
		}
	}
	if !out[1].Time.IsZero() || out[1].Raw != nil {
		t.Fatalf("zero time or empty raw not kept: %+v", out[1])
	}
}

func TestDecodeBatchRejectsCorruption(t *testing.T) {
	b := AppendBatch(nil, []*Event{sampleEvent()})
	for cut := 0; cut < len(b); cut++ {
		if _, err := DecodeBatch(b[:cut]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated at %d: err %v, want ErrCorrupt", cut, err)
		}
	}
	if _, err := DecodeBatch(append(append([]byte{}, b...), 0)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("trailing byte: %v", err)
	}
	bad := append([]byte{}, b...)
	bad[0] = 99
	if _, err := DecodeBatch(bad); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("unknown version: %v", err)
	}
}

func TestComputeIDIsStableAndDistinguishes(t *testing.T) {
	a, b := sampleEvent(), sampleEvent()
	if a.ID != b.ID || len(a.ID) != IDLen {
		t.Fatalf("same record, ids %q and %q", a.ID, b.ID)
	}
	if got, ok := IDTime(a.ID); !ok || !got.Equal(a.Time) {
		t.Fatalf("IDTime(%q) = %v, %v; want %v", a.ID, got, ok, a.Time)
	}
	if _, ok := IDTime("zz" + a.ID[2:]); ok {
		t.Fatal("IDTime accepted a non-hex id")
	}
	// Ingest metadata and the tenant do not count.
	b.Tenant, b.IngestTime, b.Source.Peer = "other", b.IngestTime.Add(time.Hour), "10.9.9.9:1"
	b.ComputeID()
	if a.ID != b.ID {
		t.Fatal("tenant, ingest time or peer changed the id")
	}
	for name, change := range map[string]func(*Event){
		"raw record": func(e *Event) { e.Raw = []byte("<34>1 raw2") },
		"time":       func(e *Event) { e.Time = e.Time.Add(time.Nanosecond) },
	} {
		c := sampleEvent()
		change(c)
		c.ComputeID()
		if a.ID == c.ID {
			t.Errorf("%s not part of the id", name)
		}
	}
	// Without a raw record the message and fields count, in any order.
	bare := func() *Event {
		e := sampleEvent()
		e.Raw = nil
		e.ComputeID()
		return e
	}
	r := bare()
	r.Fields[0], r.Fields[1] = r.Fields[1], r.Fields[0]
	r.ComputeID()
	if r.ID != bare().ID {
		t.Fatal("field order changed the id")
	}
	for name, change := range map[string]func(*Event){
		"message":     func(e *Event) { e.Message += "!" },
		"field value": func(e *Event) { e.Fields[0].Value = String("rooT") },
		"field name":  func(e *Event) { e.Fields[0].Name = "user.id" },
	} {
		c := bare()
		change(c)
		c.ComputeID()
		if c.ID == bare().ID {
			t.Errorf("%s not part of the id", name)
		}
	}
	if got := JoinID(a.Time, IDHashPart(a.ID)); got != a.ID {
		t.Fatalf("JoinID(IDHashPart) = %q, want %q", got, a.ID)
	}
	if IDHashPart("short") != "" {
		t.Fatal("IDHashPart took a non-id")
	}
}

func TestAppendJSONIsValidForHostileStrings(t *testing.T) {
	e := sampleEvent()
	e.Message = "quote\" backslash\\ nl\n ctl\x01 bad\xff utf8 ✓"
	got := string(e.AppendJSON(nil))
	for _, want := range []string{`"_msg":"quote\" backslash\\ nl\n ctl\u0001 bad\ufffd utf8 ✓"`, `"tags":["a",1,[false]]`, `"nothing":null`, `"score":3.141592653589793`} {
		if !bytes.Contains([]byte(got), []byte(want)) {
			t.Fatalf("JSON %s lacks %s", got, want)
		}
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add(AppendBatch(nil, []*Event{sampleEvent()}))
	f.Add([]byte{1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, err := DecodeBatch(b)
		if err != nil {
			return
		}
		// What decodes must survive a round trip unchanged (the input may
		// use non-canonical varints, so compare canonical encodings).
		once := AppendBatch(nil, evs)
		evs2, err := DecodeBatch(once)
		if err != nil {
			t.Fatalf("re-encoded batch does not decode: %v", err)
		}
		if twice := AppendBatch(nil, evs2); !bytes.Equal(once, twice) {
			t.Fatalf("round trip changed the batch")
		}
	})
}

func TestBatchBuilderMatchesAppendBatch(t *testing.T) {
	evs := []*Event{sampleEvent(), {Tenant: "x", Message: "y"}}
	var b BatchBuilder
	for _, e := range evs {
		b.Add(e)
	}
	if got, want := b.AppendTo(nil), AppendBatch(nil, evs); !bytes.Equal(got, want) {
		t.Fatal("builder and AppendBatch disagree")
	}
	if b.Count() != 2 || b.Size() < len(AppendBatch(nil, evs))-11 {
		t.Fatalf("count %d size %d", b.Count(), b.Size())
	}
	b.Reset()
	if b.Count() != 0 || !bytes.Equal(b.AppendTo(nil), AppendBatch(nil, nil)) {
		t.Fatal("reset")
	}
}

func TestInternedStringsSurviveCopiesAndGrowth(t *testing.T) {
	var e Event
	a := e.Intern([]byte("alpha"))
	c := e // a copy shares the arena: its strings must not overwrite e's
	b := c.Intern([]byte("beta"))
	d := e.Intern([]byte("delta"))
	big := e.Intern(bytes.Repeat([]byte("x"), 4096)) // a new block
	buf := []byte("reused")
	r := e.Intern(buf)
	buf[0] = 'X'
	if a != "alpha" || b != "beta" || d != "delta" || len(big) != 4096 || r != "reused" || e.Intern(nil) != "" {
		t.Fatalf("interned strings changed: %q %q %q %d %q", a, b, d, len(big), r)
	}
}

func TestCompressedBatchRoundTrip(t *testing.T) {
	var b BatchBuilder
	in := []*Event{sampleEvent(), {Tenant: "default", Message: "bare"}}
	for _, e := range in {
		b.Add(e)
	}
	enc := b.AppendCompressedTo([]byte("prefix"))
	if string(enc[:6]) != "prefix" || enc[6] != codecS2 {
		t.Fatalf("compressed batch does not follow dst: %q", enc[:8])
	}
	out, err := DecodeBatch(enc[6:])
	if err != nil || len(out) != 2 || out[0].ID != in[0].ID || out[1].Message != "bare" || len(out[0].Fields) != len(in[0].Fields) {
		t.Fatalf("round trip: %v %+v", err, out)
	}
	for _, bad := range [][]byte{{codecS2}, {codecS2, 0xff, 0xff, 0xff, 0xff, 0x0f}, append([]byte{codecS2}, s2.Encode(nil, []byte{codecS2, 1})...)} {
		if _, err := DecodeBatch(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("DecodeBatch(%x) = %v, want ErrCorrupt", bad, err)
		}
	}
}

func TestDeleteRemovesEveryFieldOfTheName(t *testing.T) {
	var e Event
	for _, n := range []string{"a", "b", "a", "c"} {
		e.Add(n, String(n))
	}
	e.Delete("x")
	if len(e.Fields) != 4 {
		t.Fatalf("deleting a missing name changed the fields: %v", e.Fields)
	}
	e.Delete("a")
	if len(e.Fields) != 2 || e.Fields[0].Name != "b" || e.Fields[1].Name != "c" {
		t.Fatalf("after Delete(a): %v", e.Fields)
	}
	var b BatchBuilder
	if out, err := DecodeBatch(b.AppendTo(nil)); err != nil || len(out) != 0 {
		t.Fatalf("empty builder: %v %v", out, err)
	}
}
