package ueba

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// TestElasticDocumentedExample reproduces the worked example of Elastic
// Security's entity risk scoring documentation: User_A with five open
// alerts scored 21, 45, 21, 70 and 21 has an aggregated alert score of
// 36.16; with the extreme-impact criticality (weight 2) the criticality
// contribution is 16.95 and the user's risk 53.11, "Moderate".
func TestElasticDocumentedExample(t *testing.T) {
	r := ElasticScore([]float64{21, 45, 21, 70, 21}, WeightExtremeImpact)
	if r.Alerts != 36.16 || r.Criticality != 16.95 || r.Total != 53.11 || r.Level != "moderate" {
		t.Errorf("Elastic example: %+v, want alerts 36.16, criticality 16.95, total 53.11, moderate", r)
	}
	if r := ElasticScore([]float64{21, 45, 21, 70, 21}, 0); r.Total != 36.16 || r.Criticality != 0 || r.Level != "low" {
		t.Errorf("without criticality: %+v", r)
	}
	// Order does not matter; scores are clamped to 0-100; many maximal
	// alerts approach but do not pass 100.
	if a, b := ElasticScore([]float64{70, 45, 21, 21, 21}, 1), ElasticScore([]float64{21, 21, 70, 21, 45}, 1); a != b {
		t.Errorf("order changed the score: %+v %+v", a, b)
	}
	many := make([]float64, 10000)
	for i := range many {
		many[i] = 150
	}
	if r := ElasticScore(many, 1); r.Total > 100 || r.Total < 99 || r.Level != "critical" {
		t.Errorf("10,000 maximal alerts: %+v", r)
	}
	if r := ElasticScore([]float64{100}, WeightLowImpact); math.Abs(r.Total-100*0.3828*0.5/(1-0.3828*0.5)) > 0.05 {
		t.Errorf("low impact: %+v", r)
	}
}

// TestRiskInputs: sightings, exposure and identity modifiers add risk with
// the documented arithmetic, a single signal is capped, and the scores
// carry their normalised (ranked) form.
func TestRiskInputs(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Context(t)
		now := simStart
		svc, err := New(ctx, Options{DB: db, Now: func() time.Time { return now },
			Identity: IdentityRules{Admins: []string{"adm-*"}, WatchList: []string{"mallory"}, Contractors: []string{"*@ext.example"}},
			Criticality: func(_ context.Context, _ string, e Entity) int {
				if e == (Entity{KindHost, "dc-1"}) {
					return 5
				}
				return 0
			}})
		if err != nil {
			t.Fatal(err)
		}
		// A sighting of a 80-confidence indicator in an admin's event:
		// 40 × 0.8 × 1.5 = 48 on the admin, 40 × 0.8 × 1.4 = 44.8 on the
		// critical host; the sighted address itself gets nothing.
		svc.AddSighting(ctx, "t", SightingSignal{IndicatorID: "ind-1", Type: "ipv4-addr", Value: "203.0.113.9", Confidence: 80,
			Attack: []string{"attack.command_and_control", "attack.t1071"}, Entities: map[string]string{"user.name": "ADM-bob", "host.name": "DC-1"}, Time: now})
		if r, _ := svc.risk.Get("t", Entity{KindUser, "adm-bob"}, now); r.Score != 48 || r.Contributions[0].Kind != SignalIntel || len(r.Tactics) != 1 {
			t.Errorf("admin sighting: %+v", r)
		}
		if r, _ := svc.risk.Get("t", Entity{KindHost, "dc-1"}, now); r.Score != 44.8 {
			t.Errorf("critical host sighting: %+v", r)
		}
		// A known-exploited critical vulnerability on an internet-facing
		// host with an overdue fix: 30 × 1.5 × 1.5 × 1.2 = 81 × confidence 1.
		svc.AddExposure(ctx, "t", ExposureSignal{Host: "web-1", VulnID: "CVE-2024-3400", Severity: 4, KEV: true, Internet: true, SLABreached: true, Time: now})
		r, _ := svc.risk.Get("t", Entity{KindHost, "web-1"}, now)
		if r.Score != 60 || !r.Contributions[0].Capped || r.Contributions[0].Kind != SignalVuln {
			// 81 is over the per-source cap of 60.
			t.Errorf("exposure: %+v", r)
		}
		// EPSS sets the confidence of an unexploited one: 10 × (0.5 + 0.5 × 0.2) = 6.
		svc.AddExposure(ctx, "t", ExposureSignal{Host: "10.0.0.5", VulnID: "CVE-2023-1", Severity: 2, EPSS: 0.2, Time: now})
		if r, _ := svc.risk.Get("t", Entity{KindIP, "10.0.0.5"}, now); r.Score != 6 {
			t.Errorf("EPSS confidence: %+v", r)
		}
		// A critical detection on a watch-listed contractor: 99 × 2 × 1.25
		// = 247.5, capped at the signal cap 100 and then the source cap
		// 60 × 2.5.
		svc.AddDetection(ctx, "t", DetectionSignal{RuleID: "r-crit", Title: "Mimikatz", Level: 5, Time: now,
			Entities: map[string]string{"user.name": "mallory@ext.example"}})
		svc.opts.Identity.WatchList = append(svc.opts.Identity.WatchList, "mallory@ext.example")
		svc.AddDetection(ctx, "t", DetectionSignal{RuleID: "r-crit2", Title: "Mimikatz again", Level: 5, Time: now,
			Entities: map[string]string{"user.name": "mallory@ext.example"}})
		r, _ = svc.risk.Get("t", Entity{KindUser, "mallory@ext.example"}, now)
		// First: 99 × 1.25 = 123.75 → signal cap 100 → source cap 60 × 1.25 = 75.
		// Second: 99 × 2.5 = 247.5 → 100 (source cap 150 not reached).
		if r.Score != 175 || len(r.Contributions) != 2 || r.Normalized <= 0 || r.Normalized > 100 {
			t.Errorf("capped detections: %+v", r)
		}
		w, why := svc.opts.Identity.Weight("mallory@ext.example")
		if w != 2.5 || len(why) != 2 {
			t.Errorf("identity weight %v %v", w, why)
		}
	})
}
