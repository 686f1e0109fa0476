package vuln_test

import (
	"cmp"
	"context"
	"fmt"
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

// listRow is what the brute-force listing reads straight from the table.
type listRow struct {
	id, asset, vulnID, state, source string
	rank, sev, kev, breached         int
}

// TestListMatchesBruteForce pages through many filters three findings at
// a time and compares the result with the table sorted and filtered in
// Go: every priority, severity, state, KEV and breach mix, across lanes.
func TestListMatchesBruteForce(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		fx := newFixture(t, db)
		if _, err := fx.svc.ImportKEV(ctx, strings.NewReader(`{"vulnerabilities":[{"cveID":"CVE-2024-0003"},{"cveID":"CVE-2024-0007"}]}`)); err != nil {
			t.Fatal(err)
		}
		vectors := []string{"", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N",
			"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:N"}
		r := &report.Report{Format: "trivy"}
		for a := range 4 {
			name := fmt.Sprintf("app-%d:1", a)
			ai := r.AddAsset(report.Asset{Kind: report.KindImage, Name: name, Identifiers: []report.Identifier{{Type: report.IDImageRef, Value: name}}})
			for i := range 12 {
				r.Detections = append(r.Detections, report.Detection{Asset: ai, VulnID: fmt.Sprintf("CVE-2024-%04d", i%9), Package: fmt.Sprintf("pkg%d", i),
					Version: "1", Severity: report.Severity(1 + (i+a)%5), CVSS3Vector: vectors[(i*a+i)%len(vectors)], ExploitAvailable: i%5 == 1})
			}
		}
		res, err := fx.svc.Import(ctx, "default", r, vuln.ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// Rate assets differently so that priorities spread.
		as, _ := fx.inv.List(ctx, "default", assets.Filter{})
		for i, a := range as {
			crit, exp := assets.Criticality(1+i), []assets.Exposure{assets.ExposureInternet, assets.ExposureInternal}[i%2]
			if _, err := fx.inv.Update(ctx, "default", a.ID, a.Version, assets.Patch{Criticality: &crit, Exposure: &exp}); err != nil {
				t.Fatal(err)
			}
		}
		if err := fx.svc.Reprioritize(ctx); err != nil {
			t.Fatal(err)
		}
		all := readRows(t, db)
		if len(all) != res.Findings || len(all) != 48 {
			t.Fatalf("%d rows, %d findings", len(all), res.Findings)
		}
		// Some states and breaches.
		for i, x := range all {
			f, _ := fx.svc.Get(ctx, "default", x.id)
			var tr vuln.Transition
			switch i % 7 {
			case 1:
				tr = vuln.Transition{State: vuln.StateFalsePositive, Reason: "test"}
			case 3:
				tr = vuln.Transition{State: vuln.StateInTriage}
			case 5:
				tr = vuln.Transition{State: vuln.StateAccepted, Reason: "test", Approver: "ciso", Until: fx.clk.t.Add(1000 * 24 * time.Hour)}
			default:
				continue
			}
			tr.Version = f.Version
			if _, err := fx.svc.SetState(ctx, "default", x.id, "test", tr); err != nil {
				t.Fatal(err)
			}
		}
		fx.clk.t = fx.clk.t.Add(20 * 24 * time.Hour)
		if sw, err := fx.svc.Sweep(ctx); err != nil || sw.Breached == 0 {
			t.Fatalf("sweep %+v %v", sw, err)
		}
		all = readRows(t, db)
		ranks, sevs, kevs := map[int]bool{}, map[int]bool{}, 0
		for _, x := range all {
			ranks[x.rank], sevs[x.sev] = true, true
			kevs += x.kev
		}
		if len(ranks) < 3 || len(sevs) < 4 || kevs == 0 {
			t.Fatalf("fixture does not spread: ranks %v severities %v kev %d", ranks, sevs, kevs)
		}
		active := []vuln.State{vuln.StateOpen, vuln.StateInTriage, vuln.StateReopened}
		filters := []vuln.Filter{
			{}, {States: active}, {States: []vuln.State{vuln.StateAccepted}}, {States: []vuln.State{vuln.StateFalsePositive, vuln.StateOpen}},
			{MinSeverity: report.SeverityHigh}, {States: active, MinSeverity: report.SeverityCritical},
			{Priority: vuln.DecisionAttend}, {Priority: vuln.DecisionTrack, MinSeverity: report.SeverityMedium},
			{KEV: true}, {KEV: true, States: active}, {Overdue: true}, {Overdue: true, KEV: true},
			{AssetID: all[0].asset}, {AssetID: all[0].asset, States: active, MinSeverity: report.SeverityHigh, KEV: true},
			{VulnID: "CVE-2024-0003"}, {VulnID: "CVE-2024-0001", Overdue: true}, {Source: "trivy", States: active}, {Source: "grype"},
		}
		nonEmpty := 0
		for _, f := range filters {
			want := bruteForce(all, f)
			if len(want) > 0 {
				nonEmpty++
			}
			var got []string
			f.Limit = 3
			for pages := 0; ; pages++ {
				p, err := fx.svc.List(ctx, "default", f)
				if err != nil {
					t.Fatalf("%+v: %v", f, err)
				}
				for _, x := range p.Findings {
					got = append(got, x.ID)
				}
				if p.Next == "" || pages > 100 {
					break
				}
				f.After = p.Next
			}
			if !slices.Equal(got, want) {
				t.Errorf("filter %+v:\n got %v\nwant %v", f, got, want)
			}
		}
		if nonEmpty < len(filters)-2 {
			t.Errorf("only %d of %d filters match anything: the fixture tests little", nonEmpty, len(filters))
		}
		if _, err := fx.svc.List(ctx, "default", vuln.Filter{Priority: "urgent"}); err == nil {
			t.Error("unknown priority accepted")
		}
		if _, err := fx.svc.List(ctx, "default", vuln.Filter{After: "9.9.x"}); err == nil {
			t.Error("bad cursor accepted")
		}
	})
}

func readRows(t *testing.T, db *store.DB) []listRow {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT id, asset_id, vuln_id, state, source, priority_rank, severity, kev, sla_breached FROM vuln_findings WHERE tenant = ?`, "default")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []listRow
	for rows.Next() {
		var x listRow
		if err := rows.Scan(&x.id, &x.asset, &x.vulnID, &x.state, &x.source, &x.rank, &x.sev, &x.kev, &x.breached); err != nil {
			t.Fatal(err)
		}
		out = append(out, x)
	}
	return out
}

func bruteForce(all []listRow, f vuln.Filter) []string {
	var keep []listRow
	for _, x := range all {
		switch {
		case len(f.States) > 0 && !slices.Contains(f.States, vuln.State(x.state)),
			x.sev < int(f.MinSeverity),
			f.Priority != vuln.DecisionNone && x.rank != f.Priority.Rank(),
			f.AssetID != "" && x.asset != f.AssetID,
			f.VulnID != "" && x.vulnID != f.VulnID,
			f.Source != "" && x.source != f.Source,
			f.KEV && x.kev != 1,
			f.Overdue && x.breached != 1:
			continue
		}
		keep = append(keep, x)
	}
	slices.SortFunc(keep, func(a, b listRow) int {
		return cmp.Or(cmp.Compare(b.rank, a.rank), cmp.Compare(b.sev, a.sev), strings.Compare(b.id, a.id))
	})
	ids := []string{}
	for _, x := range keep {
		ids = append(ids, x.id)
	}
	return ids
}
