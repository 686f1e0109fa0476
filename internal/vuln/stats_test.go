package vuln_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
	"github.com/wacht-soc/wacht/internal/vuln"
)

// The metrics on a fake clock: open by priority, KEV exposure, MTTR, SLA
// compliance and the 30-day trend.
func TestStatsMetrics(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		fx := newFixture(t, db)
		t0 := fx.clk.t
		if _, err := fx.svc.ImportKEV(ctx, strings.NewReader(`{"vulnerabilities":[{"cveID":"CVE-2024-0003"}]}`)); err != nil {
			t.Fatal(err)
		}
		// Three findings on one image; CVE-2024-0003 is in KEV. Not in KEV,
		// automatable with total impact, unknown exposure: BOD 26-04 gives
		// 60 days.
		if _, err := fx.svc.Import(ctx, "default", rep("CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003"), vuln.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		// Ten days later a rescan no longer shows CVE-2024-0002: fixed.
		fx.clk.t = t0.Add(10 * 24 * time.Hour)
		if res, err := fx.svc.Import(ctx, "default", rep("CVE-2024-0001", "CVE-2024-0003"), vuln.ImportOptions{}); err != nil || res.Closed != 1 {
			t.Fatalf("rescan %+v %v", res, err)
		}
		fx.clk.t = t0.Add(20 * 24 * time.Hour)
		st, err := fx.svc.Stats(ctx, "default")
		if err != nil {
			t.Fatal(err)
		}
		if st.Open != 2 || st.KEVOpen != 1 || st.KEVAssets != 1 || st.Fixed != 1 || math.Abs(st.MTTRDays-10) > 1e-9 ||
			st.SLACompliance != 1 || st.Overdue != 0 || st.ByPriority["act"] != 1 || st.BySeverity["high"] != 2 {
			t.Fatalf("stats at day 20: %+v", st)
		}
		if len(st.Trend) != 30 || st.Trend[29].Day != "2026-03-21" {
			t.Fatalf("trend days %d, last %+v", len(st.Trend), st.Trend[len(st.Trend)-1])
		}
		opened, fixed := map[string]int{}, map[string]int{}
		for _, p := range st.Trend {
			opened[p.Day], fixed[p.Day] = p.Opened, p.Fixed
		}
		if opened["2026-03-01"] != 3 || fixed["2026-03-11"] != 1 {
			t.Fatalf("trend %+v", st.Trend)
		}
		// At day 70 the 60-day finding breached; the KEV one (3 days) long
		// before. Compliance: 1 fixed on time + 2 open, both overdue.
		fx.clk.t = t0.Add(70 * 24 * time.Hour)
		if sw, err := fx.svc.Sweep(ctx); err != nil || sw.Breached != 2 {
			t.Fatalf("sweep %+v %v", sw, err)
		}
		if st, err = fx.svc.Stats(ctx, "default"); err != nil {
			t.Fatal(err)
		}
		if st.Overdue != 2 || math.Abs(st.SLACompliance-1.0/3) > 1e-9 {
			t.Fatalf("stats at day 70: %+v", st)
		}
	})
}
