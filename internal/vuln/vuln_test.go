package vuln_test

import (
	"context"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/assets"
	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
	"github.com/wacht-soc/wacht/internal/vuln"
	"github.com/wacht-soc/wacht/internal/vuln/report"
	"github.com/wacht-soc/wacht/internal/vuln/report/reporttest"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

type fixture struct {
	svc *vuln.Service
	inv *assets.Service
	clk *clock
	bus *bus.Bus
}

func newFixture(t *testing.T, db *store.DB) *fixture {
	clk := &clock{time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	b := bus.New(clk.now)
	inv := assets.New(db, b, clk.now, nil)
	return &fixture{svc: vuln.New(db, inv, b, vuln.Options{Now: clk.now}), inv: inv, clk: clk, bus: b}
}

func rep(ids ...string) *report.Report {
	r := &report.Report{Format: "trivy", Assets: []report.Asset{{Kind: report.KindImage, Name: "app:1", Identifiers: []report.Identifier{{Type: report.IDImageRef, Value: "app:1"}}}}}
	for _, id := range ids {
		r.Detections = append(r.Detections, report.Detection{VulnID: id, Package: "openssl", Version: "1.0", Severity: report.SeverityHigh,
			CVSS3Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"})
	}
	return r
}

func TestLifecycle(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		fx := newFixture(t, db)
		breaches := fx.bus.Subscribe(vuln.EventSLABreached, 16)
		res, err := fx.svc.Import(ctx, "default", rep("CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0002"), vuln.ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Created != 2 || res.Findings != 2 || res.Detections != 3 {
			t.Fatalf("first import %+v", res)
		}
		// Re-import is idempotent.
		fx.clk.t = fx.clk.t.Add(time.Hour)
		res, err = fx.svc.Import(ctx, "default", rep("CVE-2024-0001", "CVE-2024-0002"), vuln.ImportOptions{})
		if err != nil || res.Created != 0 || res.Updated != 2 || res.Closed != 0 {
			t.Fatalf("re-import %+v %v", res, err)
		}
		page, err := fx.svc.List(ctx, "default", vuln.Filter{})
		if err != nil || len(page.Findings) != 2 {
			t.Fatalf("list: %v %d", err, len(page.Findings))
		}
		f := page.Findings[0]
		if !f.LastSeen.Equal(fx.clk.t) || f.FirstSeen.Equal(f.LastSeen) || f.CVSS3Score != 9.8 || len(f.Reasons) == 0 {
			t.Fatalf("finding after re-import: %+v", f)
		}
		// The other tenant sees nothing.
		if p, _ := fx.svc.List(ctx, "other", vuln.Filter{}); len(p.Findings) != 0 {
			t.Fatal("findings leak across tenants")
		}
		// Accept one, then a rescan without both: the open one is fixed, the
		// accepted one stays accepted.
		one, _ := fx.svc.Get(ctx, "default", vuln.FindingID("default", f.AssetID, "CVE-2024-0001", "openssl@1.0"))
		acc, err := fx.svc.SetState(ctx, "default", one.ID, "alice", vuln.Transition{State: vuln.StateAccepted, Reason: "compensating WAF", Approver: "ciso", Until: fx.clk.t.Add(48 * time.Hour), Version: one.Version})
		if err != nil || acc.State != vuln.StateAccepted {
			t.Fatalf("accept: %v", err)
		}
		if _, err := fx.svc.SetState(ctx, "default", one.ID, "alice", vuln.Transition{State: vuln.StateAccepted, Reason: "x", Approver: "y", Until: fx.clk.t.Add(time.Hour), Version: one.Version}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("stale transition: %v", err)
		}
		res, err = fx.svc.Import(ctx, "default", rep(), vuln.ImportOptions{})
		if err != nil || res.Closed != 1 {
			t.Fatalf("rescan %+v %v", res, err)
		}
		two, _ := fx.svc.Get(ctx, "default", vuln.FindingID("default", f.AssetID, "CVE-2024-0002", "openssl@1.0"))
		if two.State != vuln.StateFixed || two.FixedAt.IsZero() {
			t.Fatalf("disappeared finding: %s", two.State)
		}
		if one, _ = fx.svc.Get(ctx, "default", one.ID); one.State != vuln.StateAccepted {
			t.Fatalf("accepted finding became %s", one.State)
		}
		// Reappearance reopens.
		res, err = fx.svc.Import(ctx, "default", rep("CVE-2024-0002"), vuln.ImportOptions{})
		if err != nil || res.Reopened != 1 {
			t.Fatalf("reappearance %+v %v", res, err)
		}
		// Time passes: the acceptance expires and the reopened finding's
		// SLA (critical-path: KEV-less, automatable, total impact) breaches.
		fx.clk.t = fx.clk.t.Add(90 * 24 * time.Hour)
		sw, err := fx.svc.Sweep(ctx)
		if err != nil || sw.Expired != 1 || sw.Breached < 1 {
			t.Fatalf("sweep %+v %v", sw, err)
		}
		if one, _ = fx.svc.Get(ctx, "default", one.ID); one.State != vuln.StateReopened {
			t.Fatalf("expired acceptance: %s", one.State)
		}
		select {
		case e := <-breaches.C():
			if e.Tenant != "default" {
				t.Fatalf("breach event %+v", e)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no vuln.sla_breached event")
		}
		if sw, _ := fx.svc.Sweep(ctx); sw.Breached != 0 {
			t.Fatalf("breach reported twice: %+v", sw)
		}
		st, err := fx.svc.Stats(ctx, "default")
		if err != nil || st.Open != 2 || st.Overdue == 0 {
			t.Fatalf("stats %+v %v", st, err)
		}
	})
}

func TestKEVEPSSPrioritize(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		fx := newFixture(t, db)
		shared := reporttest.Shared(t)
		kev, err := os.Open(filepath.Join(shared, "vuln", "kev", "known_exploited_vulnerabilities.json"))
		if err != nil {
			t.Fatal(err)
		}
		defer kev.Close()
		if n, err := fx.svc.ImportKEV(ctx, kev); err != nil || n < 1000 {
			t.Fatalf("kev: %d %v", n, err)
		}
		epss, err := os.Open(filepath.Join(shared, "vuln", "epss", "epss-from-grype-sample-2025-06-18.csv"))
		if err != nil {
			t.Fatal(err)
		}
		defer epss.Close()
		if n, err := fx.svc.ImportEPSS(ctx, epss); err != nil || n == 0 {
			t.Fatalf("epss: %d %v", n, err)
		}
		// CVE-2021-44228 (log4shell) is in KEV.
		res, err := fx.svc.Import(ctx, "default", rep("CVE-2021-44228"), vuln.ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p, _ := fx.svc.List(ctx, "default", vuln.Filter{KEV: true})
		if len(p.Findings) != 1 || res.Created != 1 {
			t.Fatalf("kev findings = %d", len(p.Findings))
		}
		f := p.Findings[0]
		// Unrated asset (medium mission), active, automatable, total: act;
		// BOD 26-04: KEV + automatable + total = 3 days & forensics.
		if f.Priority != vuln.DecisionAct || f.Timeline != vuln.Timeline3DaysFore || !f.DueAt.Equal(f.FirstSeen.Add(72*time.Hour)) {
			t.Fatalf("priority %s timeline %s due %v reasons %q", f.Priority, f.Timeline, f.DueAt, f.Reasons)
		}
		// Rating the asset low makes it attend.
		a, _ := fx.inv.Get(ctx, "default", f.AssetID)
		crit, exp := assets.Criticality(1), assets.ExposureInternal
		if _, err := fx.inv.Update(ctx, "default", a.ID, a.Version, assets.Patch{Criticality: &crit, Exposure: &exp}); err != nil {
			t.Fatal(err)
		}
		if err := fx.svc.Reprioritize(ctx); err != nil {
			t.Fatal(err)
		}
		if f, _ = fx.svc.Get(ctx, "default", f.ID); f.Priority != vuln.DecisionAttend {
			t.Fatalf("after rating the asset: %s %q", f.Priority, f.Reasons)
		}
	})
}

// The decision functions agree with CISA's published tables row by row.
func TestSSVCTables(t *testing.T) {
	dir := filepath.Join(reporttest.Shared(t), "vuln", "ssvc")
	rows := readCSV(t, filepath.Join(dir, "cisa_coordinator_2_0_3.csv"))
	for _, r := range rows {
		in := vuln.Inputs{Automatable: r[2] == "yes", TotalImpact: r[3] == "total"}
		in.Exploitation = map[string]vuln.Exploitation{"none": vuln.ExploitNone, "public poc": vuln.ExploitPoC, "active": vuln.ExploitActive}[r[1]]
		in.Mission = map[string]vuln.Impact{"low": vuln.ImpactLow, "medium": vuln.ImpactMedium, "high": vuln.ImpactHigh}[r[4]]
		if got := vuln.Coordinator(in); string(got) != r[5] {
			t.Errorf("coordinator row %s %v: got %s, want %s", r[0], r[1:5], got, r[5])
		}
	}
	for _, r := range readCSV(t, filepath.Join(dir, "cisa_bod_26_04_1_0_0.csv")) {
		in := vuln.Inputs{InKEV: r[1] == "yes", PubliclyExposed: r[2] == "yes", Automatable: r[3] == "yes", TotalImpact: r[4] == "total"}
		if got := vuln.BOD2604(in).String(); got != r[5] {
			t.Errorf("bod row %s %v: got %s, want %s", r[0], r[1:5], got, r[5])
		}
	}
}

func readCSV(t *testing.T, path string) [][]string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("read %s: %v", path, err)
	}
	return rows[1:]
}

func TestParseReportDetects(t *testing.T) {
	for rel, want := range map[string]string{
		"trivy/alpine-310.json.golden":            "trivy",
		"grype-defectdojo/many_vulns.json":        "grype",
		"sarif/codeQL-output.sarif":               "sarif",
		"cyclonedx-defectdojo/log4j.json":         "cyclonedx",
		"trivy-defectdojo/legacy_many_vulns.json": "trivy",
	} {
		r, err := vuln.ParseReport(reporttest.Sample(t, rel), "auto")
		if err != nil || r.Format != want {
			t.Errorf("%s: %v, format %v want %s", rel, err, r, want)
		}
	}
	if _, err := vuln.ParseReport([]byte("hello"), ""); !errors.Is(err, vuln.ErrInvalid) {
		t.Fatalf("unknown format: %v", err)
	}
}

// Merging two assets re-keys their findings: a later scan of the merged
// asset updates them instead of creating duplicates.
func TestMergeRekeysFindings(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		fx := newFixture(t, db)
		byIP := &report.Report{Format: "nessus", Assets: []report.Asset{{Kind: report.KindHost, Name: "10.0.0.7", Identifiers: []report.Identifier{{Type: report.IDIP, Value: "10.0.0.7"}}}},
			Detections: []report.Detection{{VulnID: "CVE-2024-1111", Location: "443/tcp", Severity: report.SeverityHigh}}}
		if _, err := fx.svc.Import(ctx, "default", byIP, vuln.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		fx.clk.t = fx.clk.t.Add(time.Hour)
		byName := &report.Report{Format: "nessus", Assets: []report.Asset{{Kind: report.KindHost, Name: "web7", Identifiers: []report.Identifier{{Type: report.IDHostname, Value: "web7"}}}},
			Detections: []report.Detection{{VulnID: "CVE-2024-1111", Location: "443/tcp", Severity: report.SeverityHigh}}}
		if _, err := fx.svc.Import(ctx, "default", byName, vuln.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		// A scan naming both identifiers merges the two hosts.
		both := &report.Report{Format: "nessus", Assets: []report.Asset{{Kind: report.KindHost, Name: "web7", Identifiers: []report.Identifier{{Type: report.IDHostname, Value: "web7"}, {Type: report.IDIP, Value: "10.0.0.7"}}}},
			Detections: []report.Detection{{VulnID: "CVE-2024-1111", Location: "443/tcp", Severity: report.SeverityHigh}}}
		res, err := fx.svc.Import(ctx, "default", both, vuln.ImportOptions{})
		if err != nil || res.Created != 0 {
			t.Fatalf("import after merge: %+v %v", res, err)
		}
		p, _ := fx.svc.List(ctx, "default", vuln.Filter{})
		if len(p.Findings) != 1 || !p.Findings[0].FirstSeen.Equal(fx.clk.t.Add(-time.Hour)) {
			t.Fatalf("findings after merge: %d (%+v)", len(p.Findings), p.Findings)
		}
	})
}

// CVE JSON 5 records with CISA's SSVC decide exploitation, automatable and
// technical impact, and give a vector to a finding that had none.
func TestCVERecordsPrioritize(t *testing.T) {
	dir := filepath.Join(reporttest.Shared(t), "vuln", "cve")
	var recs []vuln.CVERecord
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".json" {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if r, err := vuln.ParseCVERecord(b); err == nil {
			recs = append(recs, r)
		}
		return nil
	})
	if err != nil || len(recs) < 10 {
		t.Fatalf("records: %d %v", len(recs), err)
	}
	var ssvc *vuln.CVERecord
	for i := range recs {
		if recs[i].Exploitation == "poc" && recs[i].CVSS3Vector != "" {
			ssvc = &recs[i]
			break
		}
	}
	if ssvc == nil {
		t.Fatal("no record with a CISA SSVC poc and a vector")
	}
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		fx := newFixture(t, db)
		if err := fx.svc.ImportCVERecords(ctx, recs); err != nil {
			t.Fatal(err)
		}
		r := rep(ssvc.ID)
		r.Detections[0].CVSS3Vector = ""
		if _, err := fx.svc.Import(ctx, "default", r, vuln.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		p, _ := fx.svc.List(ctx, "default", vuln.Filter{VulnID: ssvc.ID})
		if len(p.Findings) != 1 {
			t.Fatalf("findings %d", len(p.Findings))
		}
		f := p.Findings[0]
		if f.CVSS3Vector != ssvc.CVSS3Vector || f.CVSS3Score == 0 || !slices.Contains(f.Reasons, "CISA SSVC: exploitation poc") {
			t.Fatalf("finding %s: vector %q score %v reasons %q", f.VulnID, f.CVSS3Vector, f.CVSS3Score, f.Reasons)
		}
	})
}
