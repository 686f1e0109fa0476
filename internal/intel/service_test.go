package intel_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/eventstore"
	"github.com/wacht-soc/wacht/internal/intel"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

func TestMigrations(t *testing.T) { storetest.TestMigrations(t) }

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func newService(t *testing.T, db *store.DB, b *bus.Bus) *intel.Service {
	t.Helper()
	svc := intel.New(intel.Deps{DB: db, Bus: b, Now: func() time.Time { return now }, Log: storetest.Logger(t)}, intel.Config{})
	if err := svc.Start(storetest.Context(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Stop)
	return svc
}

func importAll(t *testing.T, svc *intel.Service, tenant string, inds ...intel.Indicator) intel.ImportStats {
	t.Helper()
	ctx := storetest.Context(t)
	im := svc.NewImport(tenant, "test")
	for _, ind := range inds {
		if err := im.Add(ctx, ind); err != nil {
			t.Fatal(err)
		}
	}
	st, err := im.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func eventWith(tenant, id string, fields ...string) *event.Event {
	e := &event.Event{ID: id, Tenant: tenant, Time: now.Add(-time.Minute)}
	for i := 0; i+1 < len(fields); i += 2 {
		e.Add(fields[i], event.String(fields[i+1]))
	}
	return e
}

func TestServiceImportMatchAndSight(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Context(t)
		b := bus.New(func() time.Time { return now })
		sub := b.Subscribe(intel.EventSighted, 100)
		svc := newService(t, db, b)
		im := svc.NewImport("a", "test")
		if err := im.AddWarninglist(ctx, &intel.Warninglist{Name: "resolvers", Type: intel.WLCIDR, List: []string{"8.8.8.8/32"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := im.Close(ctx); err != nil {
			t.Fatal(err)
		}
		st := importAll(t, svc, "a",
			intel.Indicator{Type: intel.TypeIP, Value: "203.0.113.7", Confidence: 80, TLP: intel.TLPAmber, Tags: []string{"c2"}, Attack: []string{"T1071"}},
			intel.Indicator{Type: intel.TypeDomain, Value: "Evil.Example", Confidence: 90},
			intel.Indicator{Type: intel.TypeIP, Value: "8.8.8.8", Confidence: 90},
			intel.Indicator{Type: intel.TypeIP, Value: "192.0.2.1", Confidence: 90, ValidUntil: now.Add(-48 * time.Hour)},
			intel.Indicator{Type: intel.TypeDomain, Value: "not a domain"},
			intel.Indicator{Type: intel.TypeIP, Value: "203.0.113.7", Confidence: 95, Tags: []string{"botnet"}}, // same value again
		)
		if st.Read != 6 || st.Stored != 4 || st.Invalid != 1 || st.Warninglisted != 1 {
			t.Fatalf("import stats %+v", st)
		}
		// The same value from the same import is one indicator, merged.
		ind, err := svc.Get(ctx, "a", intel.ID(intel.TypeIP, "203.0.113.7"))
		if err != nil {
			t.Fatal(err)
		}
		if ind.Confidence != 95 || len(ind.Tags) != 2 || ind.TLP != intel.TLPAmber || ind.Attack[0] != "T1071" || ind.Source != "test" {
			t.Errorf("merged indicator %+v", ind)
		}
		// Another tenant sees nothing.
		if _, err := svc.Get(ctx, "b", ind.ID); err != store.ErrNotFound {
			t.Errorf("tenant b get: %v", err)
		}

		svc.OnEvents([]*event.Event{
			eventWith("a", "e1", "source.ip", "203.0.113.7", "dns.question.name", "www.evil.example"),
			eventWith("a", "e2", "destination.ip", "8.8.8.8"),   // warninglisted: never alerts
			eventWith("a", "e3", "destination.ip", "192.0.2.1"), // expired
			eventWith("b", "e4", "source.ip", "203.0.113.7"),    // other tenant
		})
		got := map[string]*intel.Sighted{}
		timeout := time.After(20 * time.Second)
		for len(got) < 2 {
			select {
			case e := <-sub.C():
				s := e.Data.(*intel.Sighted)
				if e.Tenant != "a" || s.Event == nil {
					t.Fatalf("sighting %+v", e)
				}
				got[s.Indicator.Value] = s
			case <-timeout:
				t.Fatalf("only %d sightings published", len(got))
			}
		}
		if s := got["203.0.113.7"]; s == nil || s.Indicator.Confidence != 95 || s.Indicator.TLP != intel.TLPAmber || s.Sighting.EventID != "e1" || s.Sighting.Field != "source.ip" {
			t.Errorf("ip sighting %+v", s)
		}
		if s := got["evil.example"]; s == nil || s.Sighting.Observed != "www.evil.example" {
			t.Errorf("domain sighting %+v", s)
		}
		select {
		case e := <-sub.C():
			t.Errorf("unexpected sighting %+v", e.Data.(*intel.Sighted).Indicator)
		case <-time.After(700 * time.Millisecond):
		}
		stats := svc.Stats()
		if stats.Sighted != 2 || stats.Suppressed != 2 || stats.Events != 3 {
			t.Errorf("stats %+v", stats)
		}
		ss, err := svc.Sightings(ctx, "a", ind.ID, 10)
		if err != nil || len(ss) != 1 || ss[0].EventID != "e1" {
			t.Errorf("sightings %+v %v", ss, err)
		}
		ind, _ = svc.Get(ctx, "a", ind.ID)
		if ind.Sightings != 1 || ind.LastSighted.IsZero() {
			t.Errorf("sighting count %d %v", ind.Sightings, ind.LastSighted)
		}
		// The same event again (a replay) is not a second sighting.
		svc.OnEvents([]*event.Event{eventWith("a", "e1", "source.ip", "203.0.113.7")})
		select {
		case e := <-sub.C():
			t.Errorf("replayed event sighted again: %+v", e.Data.(*intel.Sighted).Sighting)
		case <-time.After(1500 * time.Millisecond):
		}
		ind, _ = svc.Get(ctx, "a", ind.ID)
		if ind.Sightings != 1 {
			t.Errorf("replayed event counted: %d sightings", ind.Sightings)
		}
	})
}

func TestServiceLookupListDelete(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Context(t)
		svc := newService(t, db, nil)
		importAll(t, svc, "a",
			intel.Indicator{Type: intel.TypeCIDR, Value: "198.51.100.0/24", Confidence: 70},
			intel.Indicator{Type: intel.TypeDomain, Value: "evil.example"},
			intel.Indicator{Type: intel.TypeMD5, Value: "d41d8cd98f00b204e9800998ecf8427e"},
		)
		f := func(tenant, value string, want int, alerting bool) {
			t.Helper()
			res, err := svc.Lookup(ctx, tenant, value)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Indicators) != want || res.Alerting != alerting {
				t.Errorf("lookup %s in %s: %d indicators alerting %v, want %d %v", value, tenant, len(res.Indicators), res.Alerting, want, alerting)
			}
		}
		f("a", "198.51.100.9", 1, true)
		f("a", "198.51.100.0/24", 1, true)
		f("a", "deep.sub.evil.example", 1, true)
		f("a", "D41D8CD98F00B204E9800998ECF8427E", 1, true)
		f("a", "example.com", 0, false)
		f("b", "198.51.100.9", 0, false)
		if _, err := svc.Lookup(ctx, "a", "no such thing"); err != intel.ErrBadValue {
			t.Errorf("bad value: %v", err)
		}
		list, err := svc.List(ctx, "a", intel.ListFilter{Type: intel.TypeDomain})
		if err != nil || len(list) != 1 || list[0].Value != "evil.example" {
			t.Fatalf("list %+v %v", list, err)
		}
		page, err := svc.List(ctx, "a", intel.ListFilter{Limit: 2})
		if err != nil || len(page) != 2 {
			t.Fatalf("page %d %v", len(page), err)
		}
		rest, err := svc.List(ctx, "a", intel.ListFilter{Limit: 2, After: page[1].ID})
		if err != nil || len(rest) != 1 {
			t.Fatalf("next page %d %v", len(rest), err)
		}
		if err := svc.Delete(ctx, "b", list[0].ID); err != store.ErrNotFound {
			t.Errorf("delete from other tenant: %v", err)
		}
		if err := svc.Delete(ctx, "a", list[0].ID); err != nil {
			t.Fatal(err)
		}
		f("a", "evil.example", 0, false)
		if svc.Index("a").Len() != 2 {
			t.Errorf("index has %d after delete", svc.Index("a").Len())
		}
	})
}

func TestDeferredRebuild(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Context(t)
		svc := newService(t, db, nil)
		im := svc.NewImport("a", "x")
		im.DeferRebuild = true
		_ = im.Add(ctx, intel.Indicator{Type: intel.TypeIP, Value: "203.0.113.1"})
		if _, err := im.Close(ctx); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(15 * time.Second)
		for svc.Index("a").Len() != 1 {
			if time.Now().After(deadline) {
				t.Fatal("deferred rebuild did not happen")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// fakeEvents is an event store holding rows for retro-matching.
type fakeEvents struct {
	eventstore.EventStore
	rows  []eventstore.Row
	query eventstore.Query
}

func (f *fakeEvents) Query(_ context.Context, q eventstore.Query, fn func(eventstore.Row) error) error {
	f.query = q
	for _, r := range f.rows {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func TestRetroMatchAndDecay(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Context(t)
		b := bus.New(func() time.Time { return now })
		sub := b.Subscribe(intel.EventSighted, 10)
		events := &fakeEvents{rows: []eventstore.Row{
			{{Name: "_time", Value: now.Add(-48 * time.Hour).Format(time.RFC3339Nano)}, {Name: "event.id", Value: "old1"},
				{Name: "_msg", Value: "dns"}, {Name: "dns.question.name", Value: "cdn.late.example"}},
			{{Name: "_time", Value: now.Add(-47 * time.Hour).Format(time.RFC3339Nano)}, {Name: "event.id", Value: "old2"},
				{Name: "source.ip", Value: "192.0.2.44"}},
		}}
		svc := intel.New(intel.Deps{DB: db, Bus: b, Events: events, Now: func() time.Time { return now }, Log: storetest.Logger(t)}, intel.Config{RetroDays: 3})
		if err := svc.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer svc.Stop()
		st := importAll(t, svc, "a",
			intel.Indicator{Type: intel.TypeDomain, Value: "late.example", Confidence: 80},
			// Seen 60 days ago: an address decays to nothing within 30.
			intel.Indicator{Type: intel.TypeIP, Value: "192.0.2.44", Confidence: 80, LastSeen: now.Add(-60 * 24 * time.Hour)},
		)
		if st.Retro != 2 {
			t.Errorf("retro matches %d, want 2 (one of them decayed)", st.Retro)
		}
		if !events.query.Start.Equal(now.Add(-72*time.Hour)) || events.query.Tenant != "a" {
			t.Errorf("retro query %+v", events.query)
		}
		select {
		case e := <-sub.C():
			s := e.Data.(*intel.Sighted)
			if !s.Retro || s.Sighting.EventID != "old1" || s.Indicator.Value != "late.example" {
				t.Errorf("retro sighting %+v", s)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("no retro sighting")
		}
		select {
		case e := <-sub.C():
			t.Errorf("decayed indicator sighted: %+v", e.Data.(*intel.Sighted).Indicator)
		case <-time.After(700 * time.Millisecond):
		}
		if res, _ := svc.Lookup(ctx, "a", "192.0.2.44"); len(res.Indicators) != 1 || res.Alerting {
			t.Errorf("decayed indicator: %+v", res)
		}
	})
}

// TestImportInBatches writes an import larger than a batch through the
// background writer: everything is stored once, re-imports update, and a
// failing write fails the import.
func TestImportInBatches(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Context(t)
		svc := intel.New(intel.Deps{DB: db, Now: func() time.Time { return now }, Log: storetest.Logger(t)}, intel.Config{ImportBatch: 100, RetroDays: -1})
		var inds []intel.Indicator
		for i := range 1050 {
			inds = append(inds, intel.Indicator{Type: intel.TypeDomain, Value: fmt.Sprintf("host%d.batch.example", i), Confidence: 60, Tags: []string{"list:batch"}})
		}
		st := importAll(t, svc, "a", inds...)
		if st.Read != 1050 || st.Stored != 1050 {
			t.Fatalf("import stats %+v", st)
		}
		if n := svc.Index("a").Len(); n != 1050 {
			t.Fatalf("index holds %d, want 1050", n)
		}
		ind, err := svc.Get(ctx, "a", intel.ID(intel.TypeDomain, "host1049.batch.example"))
		if err != nil || ind.Confidence != 60 || len(ind.Tags) != 1 || ind.Tags[0] != "list:batch" || ind.FirstSeen.IsZero() {
			t.Fatalf("stored %+v, %v", ind, err)
		}
		for i := range inds {
			inds[i].Confidence = 70
		}
		if st := importAll(t, svc, "a", inds...); st.Stored != 1050 {
			t.Fatalf("re-import stats %+v", st)
		}
		list, err := svc.List(ctx, "a", intel.ListFilter{Limit: 10000})
		if err != nil || len(list) != 1050 || list[0].Confidence != 70 {
			t.Fatalf("after re-import: %d indicators, %v", len(list), err)
		}

		// A write that fails (the table is gone) fails Close, whichever
		// batch it hits.
		im := svc.NewImport("a", "broken")
		if _, err := db.Exec(ctx, "DROP TABLE intel_indicators"); err != nil {
			t.Fatal(err)
		}
		var addErr error
		for i := range 350 {
			if err := im.Add(ctx, intel.Indicator{Type: intel.TypeIP, Value: fmt.Sprintf("198.51.100.%d", i%250), Confidence: 50}); err != nil {
				addErr = err
			}
		}
		if _, err := im.Close(ctx); err == nil && addErr == nil {
			t.Fatal("import into a dropped table succeeded")
		}
	})
}

// TestPatternOverSeveralEvents imports a STIX pattern that relates two
// events and sees it sighted when the second arrives, within its window.
func TestPatternOverSeveralEvents(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		b := bus.New(func() time.Time { return now })
		sub := b.Subscribe(intel.EventSighted, 100)
		svc := newService(t, db, b)
		const pattern = "([file:hashes.MD5 = '79054025255fb1a26e4bc422aef54eb4'] FOLLOWEDBY [domain-name:value = 'c2.example']) WITHIN 300 SECONDS"
		importAll(t, svc, "a", intel.Indicator{Type: intel.TypePattern, Value: pattern, Confidence: 85, TLP: intel.TLPGreen})
		at := func(id string, d time.Duration, fields ...string) *event.Event {
			e := eventWith("a", id, fields...)
			e.Time = now.Add(-time.Hour + d)
			return e
		}
		svc.OnEvents([]*event.Event{
			at("e1", 0, "dns.question.name", "c2.example"),                                   // before the file: no
			at("e2", time.Minute, "file.hash.md5", "79054025255FB1A26E4BC422AEF54EB4"),       // A
			at("e3", 10*time.Minute, "dns.question.name", "c2.example"),                      // 9 min later: too late
			at("e4", 11*time.Minute, "process.hash.md5", "79054025255fb1a26e4bc422aef54eb4"), // A again
		})
		// An unrelated import rebuilds the index: the half match survives.
		importAll(t, svc, "a", intel.Indicator{Type: intel.TypeIP, Value: "192.0.2.77"})
		svc.OnEvents([]*event.Event{at("e5", 12*time.Minute, "dns.question.name", "www.c2.example", "url.domain", "c2.example")})
		select {
		case e := <-sub.C():
			s := e.Data.(*intel.Sighted)
			if s.Indicator.Type != intel.TypePattern || s.Indicator.Confidence != 85 || s.Indicator.TLP != intel.TLPGreen ||
				s.Sighting.EventID != "e5" || s.Sighting.Field != intel.PatternObservationsField || s.Sighting.Observed != "e4 e5" {
				t.Errorf("sighting %+v of %+v", s.Sighting, s.Indicator)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("pattern not sighted")
		}
		select {
		case e := <-sub.C():
			t.Errorf("unexpected sighting %+v", e.Data.(*intel.Sighted).Sighting)
		case <-time.After(700 * time.Millisecond):
		}
	})
}

// TestNotYetValid: an indicator whose valid_from is after the event does
// not alert, and lookup says so.
func TestNotYetValid(t *testing.T) {
	db := storetest.Open(t, store.Config{Driver: "sqlite", DSN: t.TempDir() + "/state.db"})
	b := bus.New(func() time.Time { return now })
	sub := b.Subscribe(intel.EventSighted, 10)
	svc := newService(t, db, b)
	importAll(t, svc, "a",
		intel.Indicator{Type: intel.TypeIP, Value: "198.51.100.20", Confidence: 90, ValidFrom: now.Add(time.Hour)},
		intel.Indicator{Type: intel.TypeIP, Value: "198.51.100.21", Confidence: 90, ValidFrom: now.Add(-time.Hour)})
	res, err := svc.Lookup(storetest.Context(t), "a", "198.51.100.20")
	if err != nil || len(res.Indicators) != 1 || res.Alerting {
		t.Errorf("lookup of a future indicator: %+v %v", res, err)
	}
	svc.OnEvents([]*event.Event{eventWith("a", "e1", "source.ip", "198.51.100.20", "destination.ip", "198.51.100.21")})
	select {
	case e := <-sub.C():
		if s := e.Data.(*intel.Sighted); s.Indicator.Value != "198.51.100.21" {
			t.Errorf("sighted %s", s.Indicator.Value)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("valid indicator not sighted")
	}
	select {
	case e := <-sub.C():
		t.Errorf("sighted before valid_from: %+v", e.Data.(*intel.Sighted).Indicator)
	case <-time.After(700 * time.Millisecond):
	}
}

// TestImportRoundTrip stores values with every kind of character and
// reads them back byte for byte (SQLite's bulk path carries them in JSON).
func TestImportRoundTrip(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Context(t)
		svc := newService(t, db, nil)
		desc := "a \"quoted\" C:\\path\nnew line\ttab \x01\x1f\x7f ünïcödé 🦀 \u2028 end"
		vf, vu := now.Add(-time.Hour), now.Add(30*24*time.Hour)
		in := []intel.Indicator{
			{Type: intel.TypeDomain, Value: "bücher.example", Confidence: 77, TLP: intel.TLPAmberStrict, PAP: intel.PAPRed,
				ValidFrom: vf, ValidUntil: vu, Source: `feed "x"`, Tags: []string{`tag "1"`, `back\slash`}, Attack: []string{"T1566.001"},
				STIXID: "indicator--0b2c8a54-1b5e-4b4a-9f0c-000000000001", Description: desc},
			{Type: intel.TypeDomain, Value: "bad.example", Confidence: 10, Description: "not UTF-8: \xff\xfe end"},
			{Type: intel.TypeURL, Value: "http://evil.example/a?b=\"c\"&d=\\e", Confidence: 60},
		}
		// Separately: text that is not UTF-8 is made UTF-8.
		importAll(t, svc, "a", in[0], in[2])
		importAll(t, svc, "a", in[1])
		got, err := svc.Get(ctx, "a", intel.ID(intel.TypeDomain, "bücher.example"))
		if err != nil {
			t.Fatal(err)
		}
		if got.Description != desc || got.Source != `feed "x"` || len(got.Tags) != 2 || got.Tags[0] != `tag "1"` || got.Tags[1] != `back\slash` ||
			got.Attack[0] != "T1566.001" || got.STIXID != in[0].STIXID || got.Confidence != 77 || got.TLP != intel.TLPAmberStrict ||
			got.PAP != intel.PAPRed || !got.ValidFrom.Equal(vf) || !got.ValidUntil.Equal(vu) || !got.FirstSeen.Equal(now) {
			t.Errorf("read back %+v", got)
		}
		if got, err := svc.Get(ctx, "a", intel.ID(intel.TypeDomain, "bad.example")); err != nil || got.Description != "not UTF-8: \uFFFD end" || !got.ValidFrom.IsZero() {
			t.Errorf("non-UTF-8 description: %q %v", got.Description, err)
		}
		if got, err := svc.Get(ctx, "a", intel.ID(intel.TypeURL, `evil.example/a?b="c"&d=\e`)); err != nil || got.Confidence != 60 {
			t.Errorf("url: %+v %v", got, err)
		}
	})
}
