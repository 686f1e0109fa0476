package app

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/assets"
	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/cases"
	"github.com/wacht-soc/wacht/internal/config"
	"github.com/wacht-soc/wacht/internal/eventstore/vlstore"
	"github.com/wacht-soc/wacht/internal/ingest"
	"github.com/wacht-soc/wacht/internal/intel"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/ueba"
	"github.com/wacht-soc/wacht/internal/vuln"
	"github.com/wacht-soc/wacht/internal/vuln/report"
)

// TestUEBAModule starts the module without a snapshot over an event store
// holding four days of a host's events: it relearns them, reports a new
// process at once, turns a sighting and an overdue vulnerability into
// risk, and records a closed case's verdict against the detector.
func TestUEBAModule(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Hour)
	clock := func() time.Time { return now }
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	db, err := store.Open(ctx, store.Config{Driver: "sqlite", DSN: filepath.Join(dir, "state.db")}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	es, err := vlstore.Open(vlstore.Config{Path: filepath.Join(dir, "events"), MemoryBytes: 64 << 20}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	proc := func(at time.Time, img string) *event.Event {
		e := &event.Event{Tenant: "default", Time: at}
		e.Add("host.name", event.String("ws-1"))
		e.Add("process.executable", event.String(img))
		return e
	}
	var old []*event.Event
	for h := 4 * 24; h > 0; h-- {
		old = append(old, proc(now.Add(-time.Duration(h)*time.Hour), `c:\windows\explorer.exe`))
	}
	if _, err := es.Write(ctx, old); err != nil {
		t.Fatal(err)
	}
	_ = es.Flush(ctx)
	inv := assets.New(db, nil, clock, log)
	web, _, err := inv.Observe(ctx, "default", assets.Observation{Kind: assets.KindHost, Name: "web-1", Identifiers: []assets.Identifier{{Type: "hostname", Value: "web-1"}}})
	if err != nil {
		t.Fatal(err)
	}
	internet := assets.ExposureInternet
	if _, err := inv.Update(ctx, "default", web.ID, web.Version, assets.Patch{Exposure: &internet}); err != nil {
		t.Fatal(err)
	}

	cfg := config.Default()
	cfg.Data = dir
	cfg.UEBA.Rebuild = config.UEBARebuild{Days: 5, Tenants: []string{"default"}}
	cfg.UEBA.LearningPeriod = config.Duration(24 * time.Hour)
	a := &App{}
	b := bus.New(clock)
	env := &Env{Config: cfg, Log: log, DB: db, Events: es, API: api.New(api.Deps{Ingest: &ingest.HTTP{}}), Bus: b, Now: clock, app: a}
	stop, err := startUEBA(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	waitFor := func(what, q string) {
		t.Helper()
		var n int
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if err := db.QueryRow(ctx, q).Scan(&n); err == nil && n > 0 {
				return
			}
		}
		t.Fatalf("no %s", what)
	}
	// The rebuild snapshots when it is done.
	waitFor("rebuilt snapshot", `SELECT COUNT(*) FROM ueba_state WHERE tenant = 'default'`)
	a.fanOut([]*event.Event{proc(now, `c:\users\public\evil.exe`)})
	waitFor("new-process anomaly", `SELECT COUNT(*) FROM ueba_anomalies WHERE detector = 'new_process'`)

	sighting := &event.Event{Tenant: "default", Time: now}
	sighting.Add("user.name", event.String("bob"))
	sighting.Add("destination.ip", event.String("203.0.113.7"))
	b.Publish(ctx, bus.Event{Type: intel.EventSighted, Tenant: "default", Data: &intel.Sighted{
		Indicator: intel.Indicator{ID: "ind-1", Type: intel.TypeIP, Value: "203.0.113.7", Confidence: 50},
		Sighting:  intel.Sighting{Time: now, Field: "destination.ip", Observed: "203.0.113.7"}, Event: sighting}})
	b.Publish(ctx, bus.Event{Type: vuln.EventSLABreached, Tenant: "default", Data: vuln.Finding{ID: "f-1", Tenant: "default", AssetID: web.ID,
		VulnID: "CVE-2024-3400", Severity: report.SeverityHigh, KEV: true}})
	b.Publish(ctx, bus.Event{Type: cases.EventIncidentUpdated, Tenant: "default", Data: cases.IncidentChange{Incident: cases.Incident{
		ID: "inc-1", Status: cases.StatusClosed, Resolution: cases.ResTruePositive, CreatedAt: now, UpdatedAt: now.Add(time.Hour),
		Entities: []cases.Entity{{Kind: "host", Value: "WS-1"}}}}})
	waitFor("feedback", `SELECT COUNT(*) FROM ueba_feedback WHERE detector = 'new_process' AND verdict = 'true'`)
	stop()

	svc, err := ueba.New(ctx, ueba.Options{DB: db, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	risk := map[ueba.Entity]ueba.EntityRisk{}
	for _, r := range svc.Entities("default", 0) {
		risk[r.Entity] = r
	}
	// 40 × 0.5 on bob; 20 × 1.5 (known exploited) × 1.5 (internet) × 1.2
	// (overdue) = 54 on web-1.
	if r := risk[ueba.Entity{Kind: ueba.KindUser, Value: "bob"}]; r.Score != 20 || r.Contributions[0].Kind != ueba.SignalIntel {
		t.Errorf("sighting risk: %+v", r)
	}
	if r := risk[ueba.Entity{Kind: ueba.KindHost, Value: "web-1"}]; r.Score != 54 || r.Contributions[0].Kind != ueba.SignalVuln {
		t.Errorf("exposure risk: %+v", r)
	}
	if fb := svc.Detectors("default")[0].Feedback; fb.TruePositives != 1 {
		t.Errorf("feedback: %+v", fb)
	}
}
