package ueba

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

type fakeCases struct{ incs []IncidentFacts }

func (f fakeCases) Closed(context.Context, string, int) ([]IncidentFacts, error) { return f.incs, nil }
func (f fakeCases) Incident(_ context.Context, tenant, id string) (IncidentFacts, error) {
	for _, c := range f.incs {
		if c.ID == id && tenant == "t" {
			return c, nil
		}
	}
	return IncidentFacts{}, fmt.Errorf("incident %s: %w", id, ErrNotFound)
}

// TestServiceEndToEnd runs the simulated fleet through a service on both
// backends: anomalies are stored and published, production anomalies add
// risk, a restart restores the baselines, and the mode survives too.
func TestServiceEndToEnd(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Context(t)
		now := simStart.Add(15 * 24 * time.Hour)
		clock := func() time.Time { return now }
		b := bus.New(clock)
		sub := b.Subscribe(TopicAnomaly, 1000)
		svc, err := New(ctx, Options{DB: db, Bus: b, Now: clock, Config: Config{TimeOfWeekMin: 100}})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.SetMode(ctx, "t", DetFanOut, ModeProduction, "eve"); err != nil {
			t.Fatal(err)
		}
		var batches [][]*event.Event
		simulate(1, func(evs []*event.Event) { batches = append(batches, evs) })
		for _, evs := range batches[:12*24] {
			svc.Process(ctx, evs)
		}
		if len(sub.C()) == 0 {
			t.Fatal("no anomaly.detected published")
		}
		list, err := svc.Anomalies(ctx, "t", AnomalyFilter{Detector: DetFanOut})
		if err != nil || len(list) != 1 || list[0].Mode != ModeProduction || list[0].Entity.Value != "10.0.2.1" {
			t.Fatalf("fan-out anomalies: %v %+v", err, list)
		}
		if other, _ := svc.Anomalies(ctx, "other", AnomalyFilter{}); len(other) != 0 {
			t.Errorf("another tenant sees %d anomalies", len(other))
		}
		top := svc.Entities("t", 10)
		if len(top) == 0 || top[0].Entity != (Entity{KindIP, "10.0.2.1"}) || top[0].Contributions[0].Source != "fan_out" {
			t.Fatalf("risk top: %+v", top)
		}
		// Shadow detectors add no risk.
		if _, ok := svc.risk.Get("t", Entity{KindUser, "u7"}, now); ok {
			t.Error("a shadow anomaly added risk")
		}
		if err := svc.Snapshot(ctx); err != nil {
			t.Fatal(err)
		}
		// Restart: the baselines and the mode come back; the last days
		// still find the Sunday-night logon without a new learning period.
		svc2, err := New(ctx, Options{DB: db, Now: clock, Config: Config{TimeOfWeekMin: 100}})
		if err != nil {
			t.Fatal(err)
		}
		if svc2.Detectors("t")[6].Mode != ModeProduction {
			t.Errorf("mode lost on restart: %+v", svc2.Detectors("t"))
		}
		var found bool
		for _, evs := range batches[12*24:] {
			for _, a := range svc2.Process(ctx, evs) {
				found = found || (a.Detector == DetTimeOfWeek && a.Entity.Value == "u12")
			}
		}
		if !found {
			t.Error("restored service missed the time-of-week anomaly")
		}
		p, err := svc2.Entity(ctx, "t", Entity{KindHost, "ws-5"})
		if err != nil || p.HourlyMedian == 0 || len(p.Anomalies) == 0 {
			t.Errorf("entity profile: %v %+v", err, p)
		}
		if _, err := svc2.Entity(ctx, "t", Entity{KindHost, "nope"}); err == nil {
			t.Error("unknown entity found")
		}
	})
}

// TestRiskArithmetic is a golden test of the ledger: impact × confidence ×
// modifier, half-life decay, a per-source cap, the threshold alert firing
// once, and the tactics rule.
func TestRiskArithmetic(t *testing.T) {
	r := NewRisk(RiskConfig{HalfLife: 24 * time.Hour, Threshold: 100, SourceCap: 60})
	t0 := simStart
	ent := Entity{KindUser, "bob"}
	// A high detection repeated 10 times: capped at 60, never alerts.
	for i := range 10 {
		if al := r.Add("t", Signal{Kind: SignalDetection, Source: "rule-a", Entity: ent, Impact: 50, Time: t0}, t0.Add(time.Duration(i)*time.Minute)); al != nil {
			t.Fatalf("one repeated rule raised an alert: %+v", al)
		}
	}
	got, _ := r.Get("t", ent, t0.Add(9*time.Minute))
	if got.Score != 60 || !got.Contributions[0].Capped || got.Contributions[0].Count != 10 {
		t.Fatalf("capped score %+v", got)
	}
	// One day later the 60 has decayed to 30.
	got, _ = r.Get("t", ent, t0.Add(9*time.Minute+24*time.Hour))
	if math.Abs(got.Score-30) > 0.1 {
		t.Errorf("decayed score %.1f, want 30", got.Score)
	}
	// A critical asset modifier 1.6 on a medium rule (25) with confidence
	// 0.5 adds 20; two more rules cross the threshold exactly once.
	now := t0.Add(9 * time.Minute)
	r.Add("t", Signal{Kind: SignalAnomaly, Source: "fan_out", Entity: ent, Impact: 25, Confidence: 0.5, Modifier: 1.6}, now)
	got, _ = r.Get("t", ent, now)
	if math.Abs(got.Score-80) > 0.1 {
		t.Errorf("score %.1f, want 80", got.Score)
	}
	al := r.Add("t", Signal{Kind: SignalDetection, Source: "rule-b", Entity: ent, Impact: 25, Tactics: []string{"execution"}}, now)
	if al == nil || al.Risk.Score != 105 {
		t.Fatalf("threshold alert %+v", al)
	}
	if again := r.Add("t", Signal{Kind: SignalDetection, Source: "rule-c", Entity: ent, Impact: 5}, now); again != nil {
		t.Errorf("alert repeated while armed: %+v", again)
	}
	// Tactics rule: three tactics over three distinct detections.
	other := Entity{KindHost, "ws-1"}
	var tac *RiskAlert
	for i, tc := range []string{"execution", "persistence", "lateral_movement"} {
		tac = r.Add("t", Signal{Kind: SignalDetection, Source: fmt.Sprint("r", i), Entity: other, Impact: 5, Tactics: []string{tc}, Time: now}, now)
	}
	if tac == nil || len(tac.Risk.Tactics) != 3 {
		t.Errorf("tactics alert %+v", tac)
	}
}

// TestLikelihood trains on synthetic closed cases where severity and the
// number of ATT&CK tags drive the truth, and checks calibration and
// reasons; with few labels it falls back to the Beta/noisy-OR model.
func TestLikelihood(t *testing.T) {
	var incs []IncidentFacts
	for i := range 400 {
		sev := i % 5
		tags := (i / 5) % 4
		p := 1 / (1 + math.Exp(-(-3 + 0.8*float64(sev) + 0.6*float64(tags))))
		// Deterministic pseudo-random draw.
		u := math.Mod(float64(i)*0.6180339887, 1)
		v := VerdictFalse
		if u < p {
			v = VerdictTrue
		}
		incs = append(incs, IncidentFacts{ID: fmt.Sprint("inc-", i), Severity: sev, Alerts: int64(1 + i%3), Rules: []string{fmt.Sprint("rule-", i%7)},
			Attack: make([]string, tags), Verdict: v})
	}
	m := Train(incs, simStart)
	if m.Method != MethodLogistic {
		t.Fatalf("method %s", m.Method)
	}
	if m.Calibration.ECE > 0.1 || m.Calibration.Brier > 0.2 {
		t.Errorf("cross-fitted calibration ECE %.3f Brier %.3f", m.Calibration.ECE, m.Calibration.Brier)
	}
	t.Logf("logistic+isotonic: n=%d brier=%.3f ece=%.3f", m.Calibration.N, m.Calibration.Brier, m.Calibration.ECE)
	hi := m.Predict(IncidentFacts{ID: "x", Severity: 4, Attack: make([]string, 3), Rules: []string{"rule-1"}})
	lo := m.Predict(IncidentFacts{ID: "y", Severity: 0, Rules: []string{"rule-1"}})
	if hi.Probability <= lo.Probability || len(hi.Reasons) != len(featureNames) {
		t.Errorf("high %+v low %+v", hi, lo)
	}
	few := Train(incs[:12], simStart)
	if few.Method != MethodBeta {
		t.Fatalf("few labels: method %s", few.Method)
	}
	l := few.Predict(IncidentFacts{ID: "z", Rules: []string{"rule-1", "rule-2"}})
	if l.Probability <= 0 || l.Probability >= 1 || len(l.Reasons) != 2 {
		t.Errorf("noisy-OR likelihood %+v", l)
	}
	if Train(nil, simStart).Predict(IncidentFacts{}).Method != MethodPrior {
		t.Error("no labels should give the prior")
	}
	// Through the service.
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		svc, err := New(storetest.Context(t), Options{DB: db, Now: func() time.Time { return simStart }, Cases: fakeCases{incs}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := svc.IncidentLikelihood(context.Background(), "t", "inc-9")
		if err != nil || got.Method != MethodLogistic || got.Labelled != 400 {
			t.Errorf("likelihood: %v %+v", err, got)
		}
		if _, err := svc.IncidentLikelihood(context.Background(), "other", "inc-9"); err == nil {
			t.Error("another tenant's incident scored")
		}
	})
}
