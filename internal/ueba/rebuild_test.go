package ueba

import (
	"context"
	"log/slog"
	"maps"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/detect"
	"github.com/wacht-soc/wacht/internal/eventstore"
	"github.com/wacht-soc/wacht/internal/eventstore/vlstore"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// TestRebuildFromEventStore loses the snapshot, relearns twelve days from
// the real event store in learning mode, and checks that the baselines
// equal those learned live and still catch the Sunday-night logon.
func TestRebuildFromEventStore(t *testing.T) {
	es, err := vlstore.Open(vlstore.Config{Path: t.TempDir(), Retention: 10 * 365 * 24 * time.Hour, MemoryBytes: 64 << 20}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	// Subtests may run in parallel after this function returned.
	t.Cleanup(func() { es.Close() })
	ctx := context.Background()
	var batches [][]*event.Event
	simulate(1, func(evs []*event.Event) { batches = append(batches, evs) })
	live := NewEngine(Config{TimeOfWeekMin: 100})
	for _, evs := range batches[:12*24] {
		live.Process(evs, nil)
		if r, err := es.Write(ctx, evs); err != nil || r.Written != len(evs) {
			t.Fatalf("write: %v %+v", err, r)
		}
	}
	if err := es.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	src := func(ctx context.Context, tenant string, start, end time.Time, fn func(*event.Event) error) error {
		return es.Query(ctx, eventstore.Query{Tenant: tenant, LogsQL: "*", Start: start, End: end.Add(-time.Nanosecond)}, func(row eventstore.Row) error {
			return fn(detect.EventFromRow(row, tenant))
		})
	}
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Context(t)
		now := simStart.Add(12 * 24 * time.Hour)
		svc, err := New(ctx, Options{DB: db, Now: func() time.Time { return now }, Config: Config{TimeOfWeekMin: 100}})
		if err != nil {
			t.Fatal(err)
		}
		if svc.HasState("t") {
			t.Fatal("state before the rebuild")
		}
		if _, err := svc.Rebuild(ctx, "t", src, 0); err == nil {
			t.Error("a rebuild over zero days was accepted")
		}
		res, err := svc.Rebuild(ctx, "t", src, 13)
		if err != nil {
			t.Fatal(err)
		}
		want := live.tenants["t"]
		got := svc.engine.tenants["t"]
		n := 0
		for _, evs := range batches[:12*24] {
			n += len(evs)
		}
		if res.Events != n || res.Entities != len(want.Entities) || !maps.Equal(got.Pairs, want.Pairs) || got.Hosts != want.Hosts {
			t.Fatalf("rebuild read %d events (want %d), %d entities (want %d), pairs equal %v", res.Events, n, res.Entities, len(want.Entities), maps.Equal(got.Pairs, want.Pairs))
		}
		for ent, w := range want.Entities {
			g := got.Entities[ent]
			if g == nil || g.Vol.Ring != w.Vol.Ring || g.Vol.Hour != w.Vol.Hour || g.First != w.First || g.ToWTotal != w.ToWTotal {
				t.Fatalf("entity %s differs after the rebuild", ent)
			}
		}
		if list, _ := svc.Anomalies(ctx, "t", AnomalyFilter{}); len(list) != 0 {
			t.Errorf("the rebuild reported %d anomalies", len(list))
		}
		if err := svc.Snapshot(ctx); err != nil {
			t.Fatal(err)
		}
		// A restart finds the rebuilt snapshot and catches what follows.
		svc2, err := New(ctx, Options{DB: db, Now: func() time.Time { return now }, Config: Config{TimeOfWeekMin: 100}})
		if err != nil || !svc2.HasState("t") {
			t.Fatalf("restart after rebuild: %v", err)
		}
		var found bool
		for _, evs := range batches[12*24:] {
			for _, a := range svc2.Process(ctx, evs) {
				found = found || (a.Detector == DetTimeOfWeek && a.Entity.Value == "u12")
			}
		}
		if !found {
			t.Error("rebuilt baselines missed the time-of-week anomaly")
		}
	})
}
