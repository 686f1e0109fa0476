package vuln_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/assets"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
	"github.com/wacht-soc/wacht/internal/vuln"
	"github.com/wacht-soc/wacht/internal/vuln/report"
)

// A re-import updates what the scanner now says (batched UPDATE … FROM
// VALUES) and keeps first seen.
func TestReimportUpdates(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		fx := newFixture(t, db)
		r := rep("CVE-2024-0001", "CVE-2024-0002")
		if _, err := fx.svc.Import(ctx, "default", r, vuln.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		first := fx.clk.t
		fx.clk.t = fx.clk.t.Add(2 * time.Hour)
		r.Detections[0].Severity, r.Detections[0].FixedVersion, r.Detections[0].Title = report.SeverityCritical, "1.1", "new title"
		r.Detections[0].CVSS3Vector = "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N"
		res, err := fx.svc.Import(ctx, "default", r, vuln.ImportOptions{})
		if err != nil || res.Updated != 2 || res.Created != 0 {
			t.Fatalf("re-import %+v %v", res, err)
		}
		p, _ := fx.svc.List(ctx, "default", vuln.Filter{VulnID: "CVE-2024-0001"})
		if len(p.Findings) != 1 {
			t.Fatalf("%d findings", len(p.Findings))
		}
		f := p.Findings[0]
		if f.Severity != report.SeverityCritical || f.FixedVersion != "1.1" || f.Title != "new title" || f.CVSS3Score != 1.8 || f.Priority != vuln.DecisionTrack ||
			f.Version != 2 || !f.FirstSeen.Equal(first) || !f.LastSeen.Equal(fx.clk.t) || f.State != vuln.StateOpen || f.LastScan != res.ScanID {
			t.Fatalf("after re-import: %+v", f)
		}
		// The changed vector is no longer automatable: the reasons follow.
		if slices.ContainsFunc(f.Reasons, func(s string) bool { return strings.Contains(s, "automatable") }) {
			t.Fatalf("stale reasons %q", f.Reasons)
		}
	})
}

// KeepMissing: a full rescan that no longer shows a finding leaves it open.
func TestKeepMissing(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := &clock{time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		svc := vuln.New(db, assets.New(db, nil, clk.now, nil), nil, vuln.Options{Now: clk.now, KeepMissing: true})
		if _, err := svc.Import(ctx, "default", rep("CVE-2024-0001", "CVE-2024-0002"), vuln.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		res, err := svc.Import(ctx, "default", rep("CVE-2024-0001"), vuln.ImportOptions{})
		if err != nil || res.Closed != 0 {
			t.Fatalf("rescan %+v %v", res, err)
		}
		p, _ := svc.List(ctx, "default", vuln.Filter{States: []vuln.State{vuln.StateOpen}})
		if len(p.Findings) != 2 {
			t.Fatalf("%d open findings, want 2", len(p.Findings))
		}
	})
}

// Per-priority days set the due date before BOD 26-04, and say so.
func TestPriorityDays(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := &clock{time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		prof := vuln.DefaultProfile()
		prof.PriorityDays = map[vuln.Decision]int{vuln.DecisionTrack: 5, vuln.DecisionAttend: 2}
		if err := prof.Validate(); err != nil {
			t.Fatal(err)
		}
		svc := vuln.New(db, assets.New(db, nil, clk.now, nil), nil, vuln.Options{Now: clk.now, Profile: prof})
		// Unrated asset, no exploitation: track.
		if _, err := svc.Import(ctx, "default", rep("CVE-2024-0001"), vuln.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		p, _ := svc.List(ctx, "default", vuln.Filter{})
		f := p.Findings[0]
		if f.Priority != vuln.DecisionTrack || !f.DueAt.Equal(clk.t.Add(5*24*time.Hour)) ||
			!slices.Contains(f.Reasons, "SLA profile cisa-bod-26-04: track within 5 days") {
			t.Fatalf("priority %s due %v reasons %q", f.Priority, f.DueAt, f.Reasons)
		}
		bad := vuln.DefaultProfile()
		bad.PriorityDays = map[vuln.Decision]int{"urgent": 1}
		if bad.Validate() == nil {
			t.Fatal("unknown decision accepted")
		}
	})
}
