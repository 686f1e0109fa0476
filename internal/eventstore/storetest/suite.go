// Package storetest is the contract suite every EventStore implementation
// passes (in the manner of Teleport's backend compliance suite): write,
// search with LogsQL and pipes, tenant isolation, time ranges, limits and
// ordering, de-duplication lookups, retention drops.
package storetest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/eventstore"
)

// Open returns a fresh, empty store for one test.
type Open func(t *testing.T) eventstore.EventStore

func mk(tenant string, at time.Time, i int, host string) *event.Event {
	e := &event.Event{
		Tenant: tenant, Time: at, IngestTime: at,
		Source:  event.Source{Listener: "test"},
		Format:  "json/1",
		Message: fmt.Sprintf("login failed for user%d", i%7),
		Raw:     []byte(fmt.Sprintf(`{"i":%d}`, i)),
	}
	e.Add("i", event.Int(int64(i)))
	e.Add("host.name", event.String(host))
	e.ComputeID()
	return e
}

// idEvents are events whose ids a store must give back: plain ones at
// one instant (the first two), every kind of value, an empty message,
// repeated and reserved names, and a parse error.
func idEvents(now time.Time) []*event.Event {
	mkc := func(c string, build func(e *event.Event)) *event.Event {
		e := &event.Event{Tenant: "default", Time: now, IngestTime: now, Message: "m " + c, Format: "json/1",
			LogSource: event.LogSource{Product: "windows", Category: "process_creation"}}
		e.Add("case", event.String(c))
		if build != nil {
			build(e)
		}
		e.ComputeID()
		return e
	}
	return []*event.Event{
		mkc("plain", nil),
		mkc("plain2", func(e *event.Event) { e.Add("x", event.String("1")) }),
		mkc("kinds", func(e *event.Event) {
			e.Time = now.Add(-time.Second)
			e.Add("i", event.Int(-7))
			e.Add("f", event.Float(0.1))
			e.Add("b", event.Bool(false))
			e.Add("t", event.Time(now))
			e.Add("arr", event.Array([]event.Value{event.String("a b"), event.Int(2)}))
			e.Add("null", event.Null())
			e.Add("empty", event.String(""))
			e.Add("text", event.String("007 \"q\" \xff"))
		}),
		mkc("nomsg", func(e *event.Event) { e.Message = "" }),
		mkc("repeated", func(e *event.Event) { e.Add("case", event.String("repeated")) }),
		mkc("reserved", func(e *event.Event) { e.Add(event.FieldFormat, event.String("x")) }),
		mkc("storename", func(e *event.Event) { e.Add("_msg", event.String("inner")) }),
		mkc("errors", func(e *event.Event) { e.Raw = []byte("raw"); e.AddError("bad") }),
	}
}

func collect(t *testing.T, st eventstore.EventStore, q eventstore.Query) []eventstore.Row {
	t.Helper()
	var rows []eventstore.Row
	if err := st.Query(context.Background(), q, func(r eventstore.Row) error {
		rows = append(rows, r)
		return nil
	}); err != nil {
		t.Fatalf("query %q: %v", q.LogsQL, err)
	}
	return rows
}

// Run runs the suite.
func Run(t *testing.T, open Open) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)

	t.Run("write search stats", func(t *testing.T) {
		st := open(t)
		var evs []*event.Event
		for i := 0; i < 1000; i++ {
			evs = append(evs, mk("default", now.Add(-time.Duration(i)*time.Second), i, "web"+strconv.Itoa(i%3)))
		}
		res, err := st.Write(ctx, evs)
		if err != nil || res.Written != 1000 {
			t.Fatalf("write: %+v %v", res, err)
		}
		if err := st.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		rows := collect(t, st, eventstore.Query{Tenant: "default", LogsQL: `"user3"`})
		if len(rows) != 143 { // i%7 == 3 for i < 1000
			t.Fatalf("phrase search: %d rows", len(rows))
		}
		rows = collect(t, st, eventstore.Query{Tenant: "default", LogsQL: `host.name:web1 | stats count() n`})
		if len(rows) != 1 || rows[0].Get("n") != "333" {
			t.Fatalf("stats: %v", rows)
		}
		rows = collect(t, st, eventstore.Query{Tenant: "default", LogsQL: `* | stats by (host.name) count() n | sort by (host.name)`})
		if len(rows) != 3 || rows[0].Get("host.name") != "web0" || rows[0].Get("n") != "334" {
			t.Fatalf("stats by: %v", rows)
		}
		// Newest first with a limit; reserved fields are searchable.
		rows = collect(t, st, eventstore.Query{Tenant: "default", LogsQL: "source.listener:test", Limit: 5})
		if len(rows) != 5 || rows[0].Get("i") != "0" || rows[4].Get("i") != "4" {
			t.Fatalf("newest first: %v", rows)
		}
		// Time range.
		rows = collect(t, st, eventstore.Query{Tenant: "default", LogsQL: "*", Start: now.Add(-9 * time.Second), End: now.Add(time.Millisecond)})
		if len(rows) != 10 {
			t.Fatalf("time range: %d rows", len(rows))
		}
		if st.Stats().Rows < 1000 {
			t.Fatalf("stats rows %d", st.Stats().Rows)
		}
	})

	t.Run("tenants are isolated", func(t *testing.T) {
		st := open(t)
		if _, err := st.Write(ctx, []*event.Event{mk("acme", now, 1, "a"), mk("globex", now, 2, "g"), mk("globex", now, 3, "g")}); err != nil {
			t.Fatal(err)
		}
		st.Flush(ctx)
		if rows := collect(t, st, eventstore.Query{Tenant: "acme", LogsQL: "*"}); len(rows) != 1 || rows[0].Get("host.name") != "a" {
			t.Fatalf("acme sees %v", rows)
		}
		if rows := collect(t, st, eventstore.Query{Tenant: "globex", LogsQL: "*"}); len(rows) != 2 {
			t.Fatalf("globex sees %d", len(rows))
		}
		if rows := collect(t, st, eventstore.Query{Tenant: "initech", LogsQL: "*"}); len(rows) != 0 {
			t.Fatalf("unknown tenant sees %d", len(rows))
		}
	})

	t.Run("existing ids", func(t *testing.T) {
		st := open(t)
		a, b := mk("default", now, 1, "x"), mk("default", now, 2, "x")
		if _, err := st.Write(ctx, []*event.Event{a}); err != nil {
			t.Fatal(err)
		}
		st.Flush(ctx)
		have, err := st.Existing(ctx, "default", []string{a.ID, b.ID}, now, now.Add(time.Nanosecond))
		if err != nil {
			t.Fatal(err)
		}
		if !have[a.ID] || have[b.ID] {
			t.Fatalf("existing %v", have)
		}
	})

	t.Run("ids come back with every event row", func(t *testing.T) {
		st := open(t)
		evs := idEvents(now)
		if _, err := st.Write(ctx, evs); err != nil {
			t.Fatal(err)
		}
		st.Flush(ctx)
		rows := collect(t, st, eventstore.Query{Tenant: "default", LogsQL: "*"})
		if len(rows) != len(evs) {
			t.Fatalf("%d rows for %d events", len(rows), len(evs))
		}
		want := map[string]string{}
		for _, e := range evs {
			want[e.ID] = e.GetString("case")
		}
		for _, r := range rows {
			id := r.Get(event.FieldID)
			if c, ok := want[id]; !ok || c != r.Get("case") {
				t.Errorf("row of case %q has id %q, which no written event of that case has", r.Get("case"), id)
			}
			delete(want, id)
		}
		// What is stored: the id without its time part.
		for _, r := range collect(t, st, eventstore.Query{Tenant: "default", LogsQL: "case:plain | fields event.id"}) {
			if got, want := r.Get(event.FieldID), event.IDHashPart(evs[0].ID); got != want {
				t.Errorf("stored id %q, want the hash part %q", got, want)
			}
		}
	})

	t.Run("event.id filters", func(t *testing.T) {
		st := open(t)
		evs := idEvents(now)
		if _, err := st.Write(ctx, evs); err != nil {
			t.Fatal(err)
		}
		st.Flush(ctx)
		for _, e := range evs {
			for _, q := range []string{`event.id:=` + e.ID, `event.id:"` + e.ID + `"`, `event.id:in(` + e.ID + `)`} {
				rows := collect(t, st, eventstore.Query{Tenant: "default", LogsQL: q})
				if len(rows) != 1 || rows[0].Get(event.FieldID) != e.ID {
					t.Errorf("%s (case %s): %d rows", q, e.GetString("case"), len(rows))
				}
			}
		}
		a, b := evs[0], evs[1] // same instant, different content
		count := func(q string) int {
			return len(collect(t, st, eventstore.Query{Tenant: "default", LogsQL: q}))
		}
		for q, want := range map[string]int{
			`case:plain event.id:in(` + a.ID + `, "` + b.ID + `")`: 1,
			`event.id:=` + a.ID + ` or event.id:=` + b.ID:          2,
			`-event.id:=` + a.ID:                                   len(evs) - 1,
			`event.id:=0000000000000000abcdefabcdef`:               0,
			`"event.id:=` + a.ID + `"`:                             0, // a phrase, not a filter
		} {
			if got := count(q); got != want {
				t.Errorf("%s: %d rows, want %d", q, got, want)
			}
		}
		rows := collect(t, st, eventstore.Query{Tenant: "default", LogsQL: `event.id:in(` + a.ID + `, ` + b.ID + `)`, Limit: 1})
		if len(rows) != 1 {
			t.Fatalf("limit 1 gave %d rows", len(rows))
		}
		rows = collect(t, st, eventstore.Query{Tenant: "default", LogsQL: `event.id:=` + a.ID + ` | stats count() n`})
		if len(rows) != 1 || rows[0].Get("n") != "1" {
			t.Fatalf("id filter before a pipe: %v", rows)
		}
		have, err := st.Existing(ctx, "default", []string{evs[2].ID, evs[3].ID, "0000000000000000000000000000", "short"}, now.Add(-time.Hour), now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(have) != 2 || !have[evs[2].ID] || !have[evs[3].ID] {
			t.Fatalf("existing %v", have)
		}
	})

	t.Run("old and future events are dropped and counted", func(t *testing.T) {
		st := open(t)
		res, err := st.Write(ctx, []*event.Event{mk("default", now.AddDate(-5, 0, 0), 1, "x"), mk("default", now.AddDate(0, 0, 30), 2, "x"), mk("default", now, 3, "x")})
		if err != nil {
			t.Fatal(err)
		}
		if res.Written != 1 || res.Dropped["older_than_retention"] != 1 || res.Dropped["too_far_in_future"] != 1 {
			t.Fatalf("result %+v", res)
		}
		if s := st.Stats(); s.DroppedOld < 1 || s.DroppedFuture < 1 {
			t.Fatalf("stats %+v", s)
		}
	})

	t.Run("bad query is a user error", func(t *testing.T) {
		st := open(t)
		err := st.Query(ctx, eventstore.Query{Tenant: "default", LogsQL: "| | ("}, func(eventstore.Row) error { return nil })
		if err == nil {
			t.Fatal("no error for a broken query")
		}
	})

	t.Run("values come back as written", func(t *testing.T) {
		st := open(t)
		evs := NumberTextEvents(now, 300)
		if _, err := st.Write(ctx, evs); err != nil {
			t.Fatal(err)
		}
		st.Flush(ctx)
		byI := map[string]*event.Event{}
		for _, e := range evs {
			byI[e.GetString("i")] = e
		}
		rows := collect(t, st, eventstore.Query{Tenant: "default", LogsQL: "exact"})
		if len(rows) != len(evs) {
			t.Fatalf("%d rows for %d events", len(rows), len(evs))
		}
		for _, r := range rows {
			e := byI[r.Get("i")]
			if e == nil {
				t.Fatalf("row %v is no written event", r)
			}
			for _, name := range NumberTextFields {
				if got, want := r.Get(name), e.GetString(name); got != want {
					t.Errorf("event %s: %s = %q, written %q", r.Get("i"), name, got, want)
				}
			}
			if got := r.Get("_" + event.ExactName("ver")); got != "spoof" {
				t.Errorf("a record's own %s field: %q", event.ExactName("ver"), got)
			}
			for _, f := range r {
				if strings.HasPrefix(f.Name, event.ExactPrefix) {
					t.Errorf("row keeps the store's column %s", f.Name)
				}
			}
		}
		// Pipes that select fields keep the text too.
		for _, q := range []string{"exact | fields i, ver, dur, sep", "exact | keep i, v*, d*, s* | sort by (i)"} {
			rows := collect(t, st, eventstore.Query{Tenant: "default", LogsQL: q})
			if len(rows) != len(evs) {
				t.Fatalf("%s: %d rows", q, len(rows))
			}
			for _, r := range rows {
				e := byI[r.Get("i")]
				for _, name := range NumberTextFields {
					if got, want := r.Get(name), e.GetString(name); got != want {
						t.Fatalf("%s: event %s: %s = %q, written %q", q, r.Get("i"), name, got, want)
					}
				}
			}
		}
		// Search keeps the engine's semantics on such columns.
		if rows := collect(t, st, eventstore.Query{Tenant: "default", LogsQL: `ver:="5.10"`}); len(rows) != 1 || rows[0].Get("ver") != "5.10" {
			t.Fatalf(`ver:="5.10": %v`, rows)
		}
	})
}

// NumberTextFields are the fields of NumberTextEvents whose text the engine
// would change if it kept them as numbers.
var NumberTextFields = []string{"ver", "dur", "sep"}

// NumberTextEvents are n events that each carry every field of
// NumberTextFields, so that the engine keeps those columns as numbers:
// decimals with trailing zeros ("5.10"), decimals its reading rounds to a
// neighbouring float, and integers with "_" separators. Each also carries
// a field of its own named like the store's exact-text column.
func NumberTextEvents(now time.Time, n int) []*event.Event {
	evs := make([]*event.Event, 0, n)
	for i := 0; i < n; i++ {
		e := &event.Event{Tenant: "default", Time: now.Add(-time.Duration(i) * time.Millisecond), IngestTime: now, Message: "exact", Format: "json/1"}
		e.Add("i", event.String(strconv.Itoa(i)))
		e.Add("ver", event.String(fmt.Sprintf("%d.%d0", i/10, i%10)))
		e.Add("dur", event.String(strconv.FormatFloat(float64(i)*0.069778, 'f', -1, 64)))
		e.Add("sep", event.String(fmt.Sprintf("%d_000", i+1)))
		e.Add(event.ExactName("ver"), event.String("spoof"))
		e.ComputeID()
		evs = append(evs, e)
	}
	return evs
}
