package comply_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/comply"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

func TestEngagementWindowIsTimeBoxed(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		now := e.clock.Now()
		if _, err := e.svc.AuditorWindow(ctx, "a", "audrey"); !errors.Is(err, comply.ErrNoEngagement) {
			t.Fatalf("window without engagement: %v", err)
		}
		bad := comply.Engagement{Framework: comply.FrameworkISO27001, Auditor: "audrey", WindowFrom: now, WindowTo: now.Add(-time.Hour), AccessUntil: now.Add(time.Hour)}
		if _, err := e.svc.CreateEngagement(ctx, "a", bad, "alice"); !errors.Is(err, comply.ErrInvalid) {
			t.Fatalf("inverted window accepted: %v", err)
		}
		eng, err := e.svc.CreateEngagement(ctx, "a", comply.Engagement{Framework: comply.FrameworkISO27001, Scope: "ISMS", Auditor: "audrey",
			WindowFrom: now.AddDate(0, -3, 0), WindowTo: now, AccessUntil: now.Add(7 * 24 * time.Hour)}, "alice")
		if err != nil {
			t.Fatal(err)
		}
		w, err := e.svc.AuditorWindow(ctx, "a", "audrey")
		if err != nil || !w.From.Equal(eng.WindowFrom) || !w.To.Equal(eng.WindowTo) {
			t.Fatalf("window %+v %v", w, err)
		}
		if _, err := e.svc.AuditorWindow(ctx, "b", "audrey"); !errors.Is(err, comply.ErrNoEngagement) {
			t.Fatalf("window in another tenant: %v", err)
		}
		f, err := e.svc.AddFinding(ctx, "a", eng.ID, comply.AuditFinding{Kind: comply.FindingMajor, Requirement: "A.8.13",
			Title: "No restore test", Owner: "ops", DueAt: now.AddDate(0, 1, 0)}, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.AddFinding(ctx, "a", eng.ID, comply.AuditFinding{Kind: "serious", Title: "x", Owner: "y"}, "alice"); !errors.Is(err, comply.ErrInvalid) {
			t.Fatalf("unknown kind: %v", err)
		}
		closed, err := e.svc.CloseFinding(ctx, "a", f.ID, f.Version, "ops")
		if err != nil || closed.Status != "closed" || closed.ClosedAt.IsZero() {
			t.Fatalf("close: %+v %v", closed, err)
		}
		if _, err := e.svc.CloseFinding(ctx, "a", f.ID, f.Version, "ops"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("stale close: %v", err)
		}
		// Access ends: the window is gone.
		e.clock.Add(8 * 24 * time.Hour)
		if _, err := e.svc.AuditorWindow(ctx, "a", "audrey"); !errors.Is(err, comply.ErrNoEngagement) {
			t.Fatalf("window after access ended: %v", err)
		}
	})
}

func TestDashboard(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		now := e.clock.Now()
		if _, err := e.svc.AddEvidence(ctx, "a", comply.EvidenceInput{Title: "Pen test", Kind: comply.EvidenceLink, Framework: comply.FrameworkISO27001,
			Requirement: "A.8.8", URL: "https://x.example/pt", EffectiveAt: now.AddDate(-1, 0, 0), RenewBy: now.AddDate(0, 0, 10)}, "alice"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.Evaluate(ctx, "a", now, comply.CauseDemand, "x"); err != nil {
			t.Fatal(err)
		}
		(*e.accts)[1].MFA = true
		e.clock.Add(time.Hour)
		if _, _, err := e.svc.Evaluate(ctx, "a", e.clock.Now(), comply.CauseDemand, "x"); err != nil {
			t.Fatal(err)
		}
		d, err := e.svc.DashboardOf(ctx, "a", comply.FrameworkISO27001, 30)
		if err != nil {
			t.Fatal(err)
		}
		if d.Requirements != 93 || d.Covered == 0 || len(d.Trend) != 2 {
			t.Fatalf("dashboard %d requirements, %d covered, %d trend points", d.Requirements, d.Covered, len(d.Trend))
		}
		if d.Trend[0].Counts[comply.StatusFail] == 0 || d.Trend[1].Counts[comply.StatusFail] != 0 {
			t.Fatalf("trend %+v", d.Trend)
		}
		if len(d.RenewalDue) != 1 || len(d.Failing) != 0 {
			t.Fatalf("renewal %d failing %+v", len(d.RenewalDue), d.Failing)
		}
	})
}

func TestTenantParams(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		before, _ := e.svc.Bundle(ctx, "a")
		if _, err := e.svc.SetParams(ctx, "a", "logging.critical_assets", map[string]any{"max_silence_hours": "one"}, "alice"); !errors.Is(err, comply.ErrInvalid) {
			t.Fatalf("string for a number accepted: %v", err)
		}
		if _, err := e.svc.SetParams(ctx, "a", "logging.critical_assets", map[string]any{"nope": 1}, "alice"); !errors.Is(err, comply.ErrInvalid) {
			t.Fatalf("unknown parameter accepted: %v", err)
		}
		if _, err := e.svc.SetParams(ctx, "a", "no.such.check", map[string]any{}, "alice"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown check: %v", err)
		}
		c, err := e.svc.SetParams(ctx, "a", "logging.critical_assets", map[string]any{"max_silence_hours": 4}, "alice")
		if err != nil || c.Params["max_silence_hours"] != 4 {
			t.Fatalf("set: %+v %v", c.Params, err)
		}
		after, _ := e.svc.Bundle(ctx, "a")
		if after.Hash() == before.Hash() {
			t.Fatal("parameters do not change the policy hash")
		}
		for _, c := range after.Checks {
			if c.ID == "logging.critical_assets" && c.Params["max_silence_hours"] != float64(4) {
				t.Fatalf("merged params %+v", c.Params)
			}
		}
		other, _ := e.svc.Bundle(ctx, "b")
		if other.Hash() != before.Hash() {
			t.Fatal("tenant a's parameters leak into tenant b")
		}
		builtin, _ := comply.BuiltinBundle()
		if builtin.Hash() != before.Hash() {
			t.Fatal("setting parameters changed the built-in bundle")
		}
		if _, err := e.svc.SetParams(ctx, "a", "logging.critical_assets", map[string]any{"max_silence_hours": nil}, "alice"); err != nil {
			t.Fatal(err)
		}
		if reset, _ := e.svc.Bundle(ctx, "a"); reset.Hash() != before.Hash() {
			t.Fatal("restoring the default did not restore the hash")
		}
	})
}
