package assets_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/assets"
	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

func TestObserveMergeAndEdit(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		b := bus.New(func() time.Time { return now })
		sub := b.Subscribe(assets.EventDiscovered, 16)
		s := assets.New(db, b, func() time.Time { return now }, nil)

		web, created, err := s.Observe(ctx, "t1", assets.Observation{Kind: assets.KindHost, Name: "web1", Identifiers: []assets.Identifier{{Type: "hostname", Value: "WEB1."}}})
		if err != nil || !created {
			t.Fatalf("observe: %v created=%v", err, created)
		}
		if e := <-sub.C(); e.Subject != web.ID || e.Tenant != "t1" {
			t.Fatalf("discovered event %+v", e)
		}
		now = now.Add(time.Minute)
		ip, _, err := s.Observe(ctx, "t1", assets.Observation{Name: "10.0.0.5", Identifiers: []assets.Identifier{{Type: "ip", Value: "10.0.0.5"}}})
		if err != nil || ip.ID == web.ID {
			t.Fatalf("second asset: %v", err)
		}
		// Another tenant with the same hostname is another asset.
		other, created, err := s.Observe(ctx, "t2", assets.Observation{Name: "web1", Identifiers: []assets.Identifier{{Type: "hostname", Value: "web1"}}})
		if err != nil || !created || other.ID == web.ID {
			t.Fatalf("tenant isolation: %v %v", err, created)
		}
		// An observation holding both identifiers merges them into the older.
		now = now.Add(time.Hour)
		merged, created, err := s.Observe(ctx, "t1", assets.Observation{Name: "web1", Identifiers: []assets.Identifier{{Type: "hostname", Value: "web1"}, {Type: "ip", Value: "10.0.0.5"}, {Type: "mac", Value: "AA:BB:CC:DD:EE:FF"}}})
		if err != nil || created {
			t.Fatalf("merge: %v created=%v", err, created)
		}
		if merged.ID != web.ID || len(merged.Identifiers) != 3 || !merged.LastSeen.Equal(now) {
			t.Fatalf("merged = %+v", merged)
		}
		if _, err := s.Get(ctx, "t1", ip.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("merged-away asset still there: %v", err)
		}
		if _, err := s.Get(ctx, "t2", web.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("asset visible to another tenant: %v", err)
		}
		got, err := s.Lookup(ctx, "t1", assets.Identifier{Type: "mac", Value: "aa:bb:cc:dd:ee:ff"})
		if err != nil || got.ID == "" || got.ID != web.ID {
			t.Fatalf("lookup by mac: %v", err)
		}

		crit, exp := assets.Criticality(4), assets.ExposureInternet
		upd, err := s.Update(ctx, "t1", web.ID, got.Version, assets.Patch{Criticality: &crit, Exposure: &exp})
		if err != nil || upd.Criticality != 4 || upd.Exposure != assets.ExposureInternet {
			t.Fatalf("update: %v %+v", err, upd)
		}
		if _, err := s.Update(ctx, "t1", web.ID, got.Version, assets.Patch{Criticality: &crit}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("stale update: %v, want conflict", err)
		}
		bad := assets.Criticality(9)
		if _, err := s.Update(ctx, "t1", web.ID, upd.Version, assets.Patch{Criticality: &bad}); !errors.Is(err, assets.ErrInvalid) {
			t.Fatalf("criticality 9: %v", err)
		}
	})
}

func TestCSVRoundTrip(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := assets.New(db, nil, nil, nil)
		in := "name,kind,identifiers,owner,criticality,exposure,tags\n" +
			"db1,host,hostname=db1 ip=192.168.1.10,alice,4,internal,\"pci,prod\"\n" +
			"shop,application,repository=github.com/acme/shop,bob,2,internet,\n"
		res, err := s.ImportCSV(ctx, "default", strings.NewReader(in))
		if err != nil || res.Created != 2 {
			t.Fatalf("import: %v %+v", err, res)
		}
		// Importing again updates instead of duplicating.
		res, err = s.ImportCSV(ctx, "default", strings.NewReader(in))
		if err != nil || res.Created != 0 || res.Updated != 2 {
			t.Fatalf("re-import: %v %+v", err, res)
		}
		var out bytes.Buffer
		if err := s.ExportCSV(ctx, "default", &out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "hostname=db1 ip=192.168.1.10,alice,,,,4,internal") || !strings.Contains(out.String(), "pci,prod") {
			t.Fatalf("export:\n%s", out.String())
		}
		if _, err := s.ImportCSV(ctx, "default", strings.NewReader("name,criticality\nx,high\n")); !errors.Is(err, assets.ErrInvalid) {
			t.Fatalf("bad criticality: %v", err)
		}
	})
}

func TestObservationsFromEvents(t *testing.T) {
	e := &event.Event{}
	e.Set("host.name", event.String("ws-17"))
	e.Set("source.ip", event.String("10.1.2.3"))
	e.Set("destination.ip", event.String("8.8.8.8"))
	obs := assets.Observations(e)
	if len(obs) != 2 || obs[0].Name != "ws-17" || obs[1].Name != "10.1.2.3" {
		t.Fatalf("observations = %+v, want the host and the private source only", obs)
	}
}

func TestDiscoveryFromEvents(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s := assets.New(db, nil, nil, nil)
		go s.RunDiscovery(ctx)
		e := &event.Event{Tenant: "default"}
		e.Set("host.name", event.String("dc01"))
		s.ObserveEvents([]*event.Event{e, e})
		deadline := time.Now().Add(10 * time.Second)
		for {
			a, err := s.Lookup(ctx, "default", assets.Identifier{Type: "hostname", Value: "dc01"})
			if err == nil {
				if a.Source != "events" {
					t.Fatalf("source = %q", a.Source)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("asset not discovered: %v", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// A merge keeps every attribute the surviving asset lacks and the tags of
// both.
func TestMergeKeepsAttributes(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		s := assets.New(db, nil, func() time.Time { return now }, nil)
		old, _, err := s.Observe(ctx, "t1", assets.Observation{Name: "db1", Identifiers: []assets.Identifier{{Type: "hostname", Value: "db1"}}})
		if err != nil {
			t.Fatal(err)
		}
		team, tags := "dba", []string{"pci"}
		if old, err = s.Update(ctx, "t1", old.ID, old.Version, assets.Patch{Team: &team, Tags: &tags}); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Hour)
		young, _, err := s.Observe(ctx, "t1", assets.Observation{Name: "10.1.1.1", Identifiers: []assets.Identifier{{Type: "ip", Value: "10.1.1.1"}}})
		if err != nil {
			t.Fatal(err)
		}
		svc, env, prev, lc, crit := "billing", "prod", "Essential", "production", assets.Criticality(3)
		tags2 := []string{"pci", "sox"}
		if _, err = s.Update(ctx, "t1", young.ID, young.Version, assets.Patch{BusinessService: &svc, Environment: &env,
			MissionPrevalence: &prev, Lifecycle: &lc, Criticality: &crit, Tags: &tags2, Team: &svc}); err != nil {
			t.Fatal(err)
		}
		if err := s.Merge(ctx, "t1", young.ID, old.ID); err != nil {
			t.Fatal(err)
		}
		m, err := s.Get(ctx, "t1", old.ID)
		if err != nil {
			t.Fatal(err)
		}
		if m.Team != "dba" || m.BusinessService != "billing" || m.Environment != "prod" || m.MissionPrevalence != "essential" ||
			m.Lifecycle != "production" || m.Criticality != 3 || strings.Join(m.Tags, ",") != "pci,sox" || len(m.Identifiers) != 2 ||
			!m.FirstSeen.Equal(old.FirstSeen) || !m.LastSeen.Equal(now) {
			t.Fatalf("merged %+v", m)
		}
		bad := "vital"
		if _, err := s.Update(ctx, "t1", m.ID, m.Version, assets.Patch{MissionPrevalence: &bad}); !errors.Is(err, assets.ErrInvalid) {
			t.Fatalf("mission prevalence %q: %v", bad, err)
		}
	})
}
