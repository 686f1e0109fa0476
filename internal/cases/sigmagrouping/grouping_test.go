// Package sigmagrouping_test runs SigmaHQ's Windows rules over the OTRF
// recorded attacks, raises what they match as alerts and checks how the
// cases package groups them. It lives apart from package cases so that the
// cases tests do not build the Sigma engine.
package sigmagrouping_test

import (
	"archive/zip"
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fastjson"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/cases"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
	"github.com/wacht-soc/wacht/sigma"
)

func sharedDir(t *testing.T) string {
	if d := os.Getenv("WACHT_SHARED"); d != "" {
		return d
	}
	d := filepath.Join("..", "..", "..", "..", "shared")
	if _, err := os.Stat(d); err != nil {
		t.Skipf("shared data not found at %s", d)
	}
	return d
}

// load compiles the Windows rules and reads the OTRF events (bounded).
func load(t *testing.T, maxEvents int) (*sigma.Engine, []*event.Event) {
	t.Helper()
	dir := sharedDir(t)
	coll, _ := sigma.LoadFS(os.DirFS(filepath.Join(dir, "sigma", "rules", "rules")), "windows")
	if len(coll.Rules) < 1000 {
		t.Skipf("only %d Windows rules found", len(coll.Rules))
	}
	eng, _ := sigma.Compile(coll, sigma.Options{})
	lsm, err := os.ReadFile(filepath.Join(dir, "sigma", "tests-data", "thor.yml"))
	if err != nil {
		t.Skip(err)
	}
	m, err := sigma.ParseLogSourceMap(lsm)
	if err != nil {
		t.Fatal(err)
	}
	var zips []string
	_ = filepath.WalkDir(filepath.Join(dir, "datasets", "otrf-security-datasets", "atomic", "windows"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".zip") {
			zips = append(zips, p)
		}
		return nil
	})
	sort.Strings(zips)
	var evs []*event.Event
	var p fastjson.Parser
	for _, z := range zips {
		zr, err := zip.OpenReader(z)
		if err != nil {
			continue
		}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				continue
			}
			sc := bufio.NewScanner(rc)
			sc.Buffer(make([]byte, 1<<20), 16<<20)
			for sc.Scan() && len(evs) < maxEvents {
				ev := &event.Event{}
				if _, err := ev.ParseJSONObject(&p, sc.Bytes()); err != nil {
					continue
				}
				if ts := ev.GetString("@timestamp"); ts != "" {
					ev.Time, _ = time.Parse(time.RFC3339Nano, ts)
				}
				if m.Apply(ev) {
					evs = append(evs, ev)
				}
			}
			_, _ = io.Copy(io.Discard, rc)
			rc.Close()
		}
		zr.Close()
	}
	if len(evs) == 0 {
		t.Skip("no OTRF events")
	}
	return eng, evs
}

// alertOf turns a Sigma match into what the detection module will send.
func alertOf(m sigma.Match) cases.AlertInput {
	r, ev := m.Rule, m.Event
	in := cases.AlertInput{Source: "sigma", RuleID: r.ID, RuleTitle: r.Title, Severity: cases.Severity(r.Level), Attack: r.Tags,
		Events: cases.CopyEvents([]*event.Event{ev}), EventTime: ev.Time,
		Logsource: map[string]string{"product": r.LogSource.Product, "category": r.LogSource.Category, "service": r.LogSource.Service}}
	if _, err := cases.ParseSeverity(r.Level); err != nil {
		in.Severity = cases.SevMedium
	}
	add := func(kind, field string) {
		if v := ev.GetString(field); v != "" && v != "-" {
			in.Entities = append(in.Entities, cases.Entity{Kind: kind, Value: v})
		}
	}
	add("host", "Hostname")
	add("user", "TargetUserName")
	add("user", "SubjectUserName")
	add("process", "Image")
	return in
}

func TestGroupingOverSigmaAlerts(t *testing.T) {
	eng, evs := load(t, 60_000)
	var matches []sigma.Match
	for _, ev := range evs {
		eng.Match(ev, func(m sigma.Match) {
			if m.Rule != nil && m.Event != nil {
				matches = append(matches, m)
			}
		})
	}
	if len(matches) < 50 {
		t.Skipf("only %d matches", len(matches))
	}
	t.Logf("%d events, %d Sigma matches", len(evs), len(matches))
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		for _, tc := range []struct {
			name     string
			grouping cases.Grouping
		}{
			{"default", cases.DefaultGrouping()},
			{"rule-and-entity only", cases.Grouping{Window: 24 * time.Hour, DedupWindow: time.Hour, RuleEntity: true}},
		} {
			tenant := strings.ReplaceAll(tc.name, " ", "-")
			now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
			svc := cases.New(db, cases.Options{Now: func() time.Time { return now }, Grouping: &tc.grouping})
			ctx := context.Background()
			var ins []cases.AlertInput
			for _, m := range matches {
				ins = append(ins, alertOf(m))
			}
			raised := 0
			stored := map[string]string{} // alert → incident
			for i := 0; i < len(ins); i += 200 {
				as, err := svc.RaiseAlerts(ctx, tenant, ins[i:min(len(ins), i+200)])
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range as {
					raised++
					if a.IncidentID == "" {
						t.Fatalf("alert %s (deduplicated %v, suppressed %v) has no incident", a.ID, a.Deduplicated, a.Suppressed)
					}
					stored[a.ID] = a.IncidentID
				}
			}
			incs, err := svc.ListIncidents(ctx, tenant, cases.IncidentFilter{Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			var total int64
			hostOwner := map[string]string{}
			for _, inc := range incs {
				total += inc.AlertCount
				alerts, _ := svc.ListAlerts(ctx, tenant, cases.AlertFilter{IncidentID: inc.ID, Limit: 1000})
				for _, a := range alerts {
					if stored[a.ID] != inc.ID {
						t.Fatalf("alert %s is in %s, RaiseAlerts said %s", a.ID, inc.ID, stored[a.ID])
					}
					for _, e := range a.Entities {
						if e.Kind != "host" || tc.name != "default" {
							continue
						}
						// Across rules, one host is one open incident.
						if o, ok := hostOwner[e.Value]; ok && o != inc.ID {
							t.Fatalf("host %s in incidents %s and %s", e.Value, o, inc.ID)
						}
						hostOwner[e.Value] = inc.ID
					}
				}
			}
			if int(total) != len(stored) {
				t.Fatalf("%s: incidents hold %d alerts, %d stored", tc.name, total, len(stored))
			}
			if len(incs) == 0 || len(incs) >= len(stored) {
				t.Fatalf("%s: %d incidents for %d alerts: nothing grouped", tc.name, len(incs), len(stored))
			}
			t.Logf("%s: %d matches → %d alerts (rest de-duplicated) → %d incidents", tc.name, raised, len(stored), len(incs))
		}
	})
}
