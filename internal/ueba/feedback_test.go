package ueba

import (
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// TestFeedbackFromClosedCases: a case closed as a false positive lowers
// the precision of the detectors that reported on its entities, and with
// it the risk their anomalies add; closing it again as a true positive
// replaces the verdict; detectors without anomalies there are untouched.
func TestFeedbackFromClosedCases(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Context(t)
		now := simStart.Add(10 * 24 * time.Hour)
		svc, err := New(ctx, Options{DB: db, Now: func() time.Time { return now }, Config: Config{LearningPeriod: 150 * time.Minute}})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.SetMode(ctx, "t", DetNewProcess, ModeProduction, "eve"); err != nil {
			t.Fatal(err)
		}
		run := func(at time.Time, img string) []Anomaly {
			return svc.Process(ctx, []*event.Event{{Time: at, Tenant: "t", Fields: []event.Field{
				{Name: "host.name", Value: event.String("WS-9")}, {Name: "process.executable", Value: event.String(img)}}}})
		}
		run(simStart, "a.exe")
		run(simStart.Add(2*time.Hour), "b.exe")
		if got := run(simStart.Add(3*time.Hour), "c.exe"); len(got) != 1 || got[0].Detector != DetNewProcess {
			t.Fatalf("new process: %+v", got)
		}
		before, _ := svc.risk.Get("t", Entity{KindHost, "ws-9"}, now)

		out := Outcome{IncidentID: "inc-1", Verdict: VerdictFalse, Entities: []Entity{{KindHost, "ws-9"}, {KindUser, "nobody"}},
			From: simStart.Add(3 * time.Hour), To: simStart.Add(5 * time.Hour)}
		dets, err := svc.Feedback(ctx, "t", out)
		if err != nil || len(dets) != 1 || dets[0] != DetNewProcess {
			t.Fatalf("feedback: %v %v", err, dets)
		}
		// Recorded twice (the incident was updated again while closed):
		// still one verdict.
		if _, err := svc.Feedback(ctx, "t", out); err != nil {
			t.Fatal(err)
		}
		st := svc.Detectors("t")
		if fb := st[0].Feedback; st[0].Detector != DetNewProcess || fb.FalsePositives != 1 || fb.TruePositives != 0 || fb.Weight >= 1 {
			t.Errorf("after a false positive: %+v", st[0])
		}
		if fb := st[1].Feedback; fb.FalsePositives != 0 || fb.Weight != 1 {
			t.Errorf("a detector without anomalies there changed: %+v", st[1])
		}
		// Its next anomaly adds less risk: 60 × 40 / 100 × (1/3 ÷ 1/2).
		run(simStart.Add(4*time.Hour), "d.exe")
		after, _ := svc.risk.Get("t", Entity{KindHost, "ws-9"}, now)
		if added := after.Score - before.Score; added < 15.9 || added > 16.1 {
			t.Errorf("risk added after the false positive: %.1f, want 16 (%+v → %+v)", added, before, after)
		}
		// Reopened and closed as a true positive: the verdict is replaced,
		// and it survives a restart.
		out.Verdict = VerdictTrue
		if _, err := svc.Feedback(ctx, "t", out); err != nil {
			t.Fatal(err)
		}
		svc2, err := New(ctx, Options{DB: db, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		if fb := svc2.Detectors("t")[0].Feedback; fb.TruePositives != 1 || fb.FalsePositives != 0 || fb.Precision != 0.67 || fb.Weight <= 1 {
			t.Errorf("after the true positive and a restart: %+v", fb)
		}
		if other := svc2.Detectors("other")[0].Feedback; other.TruePositives != 0 || other.Weight != 1 {
			t.Errorf("another tenant sees the feedback: %+v", other)
		}
		// Without a verdict nothing is recorded.
		if dets, err := svc.Feedback(ctx, "t", Outcome{IncidentID: "inc-2", Entities: out.Entities, From: out.From}); err != nil || len(dets) != 0 {
			t.Errorf("unresolved incident: %v %v", err, dets)
		}
	})
}
