package ueba

import (
	"errors"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// An allow-listed entity's anomalies are recorded with the entry but add no
// risk; the entry survives a restart, expires on its own, and is refused
// without a reason or an expiry.
func TestAllowList(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Context(t)
		now := simStart.Add(10 * 24 * time.Hour)
		clock := func() time.Time { return now }
		opts := Options{DB: db, Now: clock, Config: Config{LearningPeriod: 150 * time.Minute}}
		svc, err := New(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.SetMode(ctx, "t", DetNewProcess, ModeProduction, "eve"); err != nil {
			t.Fatal(err)
		}
		host := Entity{KindHost, "ws-9"}
		for _, bad := range []AllowEntry{
			{Entity: host, ExpiresAt: now.Add(time.Hour)},
			{Entity: host, Reason: "build server"},
			{Entity: host, Reason: "build server", ExpiresAt: now.Add(400 * 24 * time.Hour)},
			{Reason: "build server", ExpiresAt: now.Add(time.Hour)},
		} {
			if _, err := svc.Allow(ctx, "t", bad); !errors.Is(err, ErrAllowInvalid) {
				t.Errorf("Allow(%+v) = %v, want refused", bad, err)
			}
		}
		entry, err := svc.Allow(ctx, "t", AllowEntry{Detector: DetNewProcess, Entity: host, Reason: "build server installs tools", CreatedBy: "eve", ExpiresAt: now.Add(48 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		run := func(s *Service, at time.Time, img string) []Anomaly {
			return s.Process(ctx, []*event.Event{{Time: at, Tenant: "t", Fields: []event.Field{
				{Name: "host.name", Value: event.String("WS-9")}, {Name: "process.executable", Value: event.String(img)}}}})
		}
		run(svc, simStart, "a.exe")
		run(svc, simStart.Add(2*time.Hour), "b.exe")
		got := run(svc, simStart.Add(3*time.Hour), "c.exe")
		if len(got) != 1 || got[0].AllowedBy == "" {
			t.Fatalf("anomaly on an allow-listed host: %+v", got)
		}
		if r, _ := svc.risk.Get("t", host, now); r.Score != 0 {
			t.Errorf("allow-listed anomaly added risk: %+v", r)
		}
		// After a restart the entry still holds.
		if err := svc.Snapshot(ctx); err != nil {
			t.Fatal(err)
		}
		svc2, err := New(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if l := svc2.AllowList("t"); len(l) != 1 || l[0].ID != entry.ID || l[0].Reason != entry.Reason {
			t.Fatalf("allow-list after restart: %+v", l)
		}
		if got := run(svc2, simStart.Add(4*time.Hour), "d.exe"); len(got) != 1 || got[0].AllowedBy == "" {
			t.Fatalf("after restart: %+v", got)
		}
		// Once it expires, anomalies add risk again.
		now = now.Add(49 * time.Hour)
		if l := svc2.AllowList("t"); len(l) != 0 {
			t.Errorf("expired entry listed: %+v", l)
		}
		if got := run(svc2, simStart.Add(5*time.Hour), "e.exe"); len(got) != 1 || got[0].AllowedBy != "" {
			t.Fatalf("after expiry: %+v", got)
		}
		if r, _ := svc2.risk.Get("t", host, now); r.Score <= 0 {
			t.Errorf("no risk after the entry expired: %+v", r)
		}
		if ok, err := svc2.Disallow(ctx, "t", entry.ID); err != nil || !ok {
			t.Errorf("Disallow: %v %v", ok, err)
		}
	})
}
