package app

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/cases"
	"github.com/wacht-soc/wacht/internal/config"
	"github.com/wacht-soc/wacht/internal/detect"
	"github.com/wacht-soc/wacht/internal/parse"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
	"github.com/wacht-soc/wacht/sigma"
)

// A malformed alert in a burst does not cost the rest of the burst, and
// tenants stay apart.
func TestAlertingRaisesBursts(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := cases.New(db, cases.Options{})
		in := func(rule, host string) cases.AlertInput {
			return cases.AlertInput{Source: "sigma", RuleID: rule, Severity: cases.SevHigh, Entities: []cases.Entity{{Kind: "host", Value: host}}}
		}
		bad := in("r-bad", "h1")
		bad.Entities[0].Kind = "planet"
		raiseBatch(ctx, svc, slog.New(slog.DiscardHandler), []tenantAlert{
			{tenant: "a", in: in("r1", "h1")}, {tenant: "a", in: bad}, {tenant: "b", in: in("r1", "h1")},
			{tenant: "a", in: in("r2", "h1")}, {tenant: "a", in: in("r3", "h2")},
		})
		count := func(tenant string) int {
			as, err := svc.ListAlerts(ctx, tenant, cases.AlertFilter{})
			if err != nil {
				t.Fatal(err)
			}
			return len(as)
		}
		if a, b := count("a"), count("b"); a != 3 || b != 1 {
			t.Fatalf("stored %d alerts for a, %d for b; want 3 and 1", a, b)
		}
		incs, err := svc.ListIncidents(ctx, "a", cases.IncidentFilter{})
		if err != nil || len(incs) != 2 {
			t.Fatalf("tenant a: %d incidents (%v), want 2 (h1, h2)", len(incs), err)
		}
	})
}

// The configuration file's `cases:` section reaches the service options.
func TestCasesConfig(t *testing.T) {
	c := config.DefaultCases()
	c.Grouping.AcrossRules = []string{"host"}
	c.SLA.Targets = map[string]config.CaseTargets{"P1": {Acknowledge: config.Duration(5 * time.Minute)}}
	c.SLA.BusinessHours = &config.CaseBusinessHours{Timezone: "UTC", Days: []string{"mon"}, Start: "09:00", End: "17:00"}
	c.SLA.Escalation = []config.CaseEscalation{{Level: "ciso", After: config.Duration(time.Hour)}}
	o, err := casesConfig(c).Options()
	if err != nil {
		t.Fatal(err)
	}
	if o.Grouping == nil || o.Grouping.Window != 24*time.Hour || strings.Join(o.Grouping.AcrossRules, ",") != "host" {
		t.Fatalf("grouping %+v", o.Grouping)
	}
	p1 := o.SLA.Targets[cases.P1]
	// Unset durations keep the default policy's.
	if def := cases.DefaultSLAPolicy().Targets[cases.P1]; p1.Acknowledge != 5*time.Minute || p1.Contain != def.Contain || p1.Resolve != def.Resolve {
		t.Fatalf("P1 %+v", p1)
	}
	if o.SLA.Calendar == nil || !o.SLA.Calendar.Days[time.Monday] || o.SLA.Calendar.Days[time.Tuesday] {
		t.Fatalf("calendar %+v", o.SLA.Calendar)
	}
	if len(o.SLA.Escalation) != 1 || o.SLA.Escalation[0].Level != "ciso" {
		t.Fatalf("escalation %+v", o.SLA.Escalation)
	}
}

// TestGroupingOverEVTXDetections takes the production path end to end:
// the EVTX attack samples of the shared datasets through the parse
// registry, SigmaHQ's Windows rules through the detect package, each
// detection mapped to an alert as this module does, then grouped. Every
// alert that opened an incident must share no grouping key (same rule and
// entity, or the same host or user) with an alert raised before it, and
// every alert that joined one must share a key with an earlier alert of
// that incident.
func TestGroupingOverEVTXDetections(t *testing.T) {
	shared := os.Getenv("WACHT_SHARED")
	if shared == "" {
		shared = filepath.Join("..", "..", "..", "shared")
	}
	set := filepath.Join(shared, "datasets", "evtx-attack-samples.tgz")
	if _, err := os.Stat(set); err != nil {
		if os.Getenv("WACHT_REQUIRE_SHARED") != "" {
			t.Fatalf("shared data not found: %v", err)
		}
		t.Skipf("shared data not found: %v", err)
	}
	rs, err := detect.Load(detect.LoadOptions{Paths: []string{filepath.Join(shared, "sigma", "rules", "rules", "windows")},
		Sigma: sigma.Options{UnknownPlaceholder: sigma.PlaceholderNoMatch}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	inst, err := parse.NewInstance("evtx")
	if err != nil {
		t.Fatal(err)
	}
	var ins []cases.AlertInput
	record := func(m sigma.Match) { ins = append(ins, detectionAlert(detect.FromMatch(m, "test"))) }
	f, err := os.Open(set)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg || !strings.HasSuffix(strings.ToLower(h.Name), ".evtx") || strings.HasPrefix(filepath.Base(h.Name), "._") {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		_ = inst.Parser.(parse.MultiParser).ParseAll(data, event.Event{Tenant: event.DefaultTenant}, func(ev *event.Event) error {
			if ls, ok := detect.RouteLogSource(ev); ok {
				ev.LogSource = ls
			}
			rs.Engine.Match(ev, record)
			return nil
		})
	}
	rs.Engine.Flush(time.Time{}, record)
	if len(ins) < 200 {
		t.Fatalf("only %d detections over the EVTX samples", len(ins))
	}
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
		svc := cases.New(db, cases.Options{Now: func() time.Time { return now }})
		keysOf := func(a cases.Alert) []string {
			var ks []string
			for _, e := range a.Entities {
				ks = append(ks, "rule:"+a.RuleID+"|"+e.String())
				if e.Kind == "host" || e.Kind == "user" {
					ks = append(ks, e.String())
				}
			}
			if len(a.Entities) == 0 {
				ks = append(ks, "rule:"+a.RuleID)
			}
			return ks
		}
		seen := map[string]map[string]bool{} // key → incidents that took it
		opened, joined, repeats := 0, 0, 0
		for i := 0; i < len(ins); i += 250 {
			as, err := svc.RaiseAlerts(ctx, "", ins[i:min(len(ins), i+250)])
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range as {
				if a.Deduplicated {
					repeats++
					continue
				}
				if a.IncidentID == "" {
					t.Fatalf("alert %s (%s) has no incident", a.ID, a.RuleID)
				}
				shares, sharesOwn := false, false
				for _, k := range keysOf(a) {
					if len(seen[k]) > 0 {
						shares = true
					}
					if seen[k][a.IncidentID] {
						sharesOwn = true
					}
				}
				known := false
				for _, incs := range seen {
					if incs[a.IncidentID] {
						known = true
						break
					}
				}
				switch {
				case !known && shares:
					t.Fatalf("alert %s (%s %v) opened %s though an earlier alert shares a key", a.ID, a.RuleID, a.Entities, a.IncidentID)
				case known && !sharesOwn:
					t.Fatalf("alert %s (%s %v) joined %s without sharing a key with it", a.ID, a.RuleID, a.Entities, a.IncidentID)
				case known:
					joined++
				default:
					opened++
				}
				for _, k := range keysOf(a) {
					if seen[k] == nil {
						seen[k] = map[string]bool{}
					}
					seen[k][a.IncidentID] = true
				}
			}
		}
		incs, err := svc.ListIncidents(ctx, event.DefaultTenant, cases.IncidentFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, inc := range incs {
			total += inc.AlertCount
		}
		if len(incs) != opened || int(total) != opened+joined {
			t.Fatalf("%d incidents holding %d alerts; raising opened %d and joined %d", len(incs), total, opened, joined)
		}
		if joined == 0 || repeats == 0 {
			t.Fatalf("opened %d, joined %d, repeats %d: grouping or de-duplication never happened", opened, joined, repeats)
		}
		t.Logf("%d detections: %d repeats counted, %d alerts opened incidents, %d joined one", len(ins), repeats, opened, joined)
	})
}
