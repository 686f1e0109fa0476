package sim

import (
	"bytes"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
)

// TestEvaluateMeetsTargets runs the detectors and the risk ledger over a
// 300-user organisation for 24 days with 14 injected attacks and checks
// the targets (the full-size run is `wacht ueba eval`).
func TestEvaluateMeetsTargets(t *testing.T) {
	rep, err := Evaluate(Config{Seed: 1, Users: 300, Days: 24}, EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	rep.Print(&buf)
	t.Log("\n" + buf.String())
	if len(rep.Scenarios) != len(Kinds)*2 || rep.Events < 500000 {
		t.Fatalf("simulation too small: %d scenarios, %d events", len(rep.Scenarios), rep.Events)
	}
	if rep.Recall < 0.9 || rep.RecallLowAndSlow < 0.6 {
		t.Errorf("recall %.3f, low-and-slow %.3f", rep.Recall, rep.RecallLowAndSlow)
	}
	if rep.IncidentsPer1000 > 1 {
		t.Errorf("%.3f false incidents per day per 1,000 entities", rep.IncidentsPer1000)
	}
	if time.Duration(rep.MedianTTD) > time.Hour {
		t.Errorf("median time to detect %s", time.Duration(rep.MedianTTD))
	}
	if rep.Calibration.ECE > 0.05 || rep.Calibration.N == 0 || rep.CalibrationRisky.ECE > 0.05 {
		t.Errorf("calibration %+v, on risky days %+v", rep.Calibration, rep.CalibrationRisky)
	}
	if rep.EntityDayPrecision < 0.5 || rep.PrecisionAt10 < 0.5 {
		t.Errorf("precision: entity-day %.3f, @10 %.3f", rep.EntityDayPrecision, rep.PrecisionAt10)
	}
	// Every scenario's entities drew anomalies that explain themselves.
	for _, sc := range rep.Scenarios {
		if len(sc.Anomalies) == 0 && sc.Kind != PrivilegeChange {
			t.Errorf("%s: no anomaly on its entities", sc.ID)
		}
	}
	// Without GeoIP the new-country and new-network detectors are silent.
	off, err := Evaluate(Config{Seed: 1, Users: 300, Days: 24}, EvalOptions{NoGeo: true, NoPeers: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range off.Scenarios {
		for _, d := range sc.Anomalies {
			if d == "new_country" || d == "new_asn" || d == "rare_in_peers" {
				t.Errorf("%s reported %s without GeoIP or peers", sc.ID, d)
			}
		}
	}
}

// TestSimulatorIsSeeded: the same seed gives the same events, another
// seed other events; events come in time order with the benign change
// and the attacks in them.
func TestSimulatorIsSeeded(t *testing.T) {
	digest := func(seed uint64) (string, int, []Scenario) {
		s := New(Config{Seed: seed, Users: 50, Days: 14, LearnDays: 5})
		var h bytes.Buffer
		n := 0
		var last time.Time
		err := s.Run(func(_ time.Time, evs []*event.Event, _ []Detection) error {
			for _, e := range evs {
				if e.Time.Before(last) {
					t.Fatalf("events out of order: %s after %s", e.Time, last)
				}
				last = e.Time
				if n%97 == 0 {
					h.Write(e.AppendJSON(nil))
				}
				n++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return h.String(), n, s.Scenarios()
	}
	a, na, sa := digest(7)
	b, nb, _ := digest(7)
	c, _, _ := digest(8)
	if a != b || na != nb {
		t.Error("the same seed gave different events")
	}
	if a == c {
		t.Error("another seed gave the same events")
	}
	if len(sa) != len(Kinds)*2 {
		t.Errorf("%d scenarios", len(sa))
	}
	for _, sc := range sa {
		if sc.Start.Before(time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)) || len(sc.Entities) == 0 {
			t.Errorf("scenario %+v starts inside the learning days or has no entities", sc)
		}
	}
	// The events carry the rollout and an attack's traces.
	if !strings.Contains(a, "windows") {
		t.Error("no Windows events")
	}
	s := New(Config{Seed: 7, Users: 50, Days: 14, LearnDays: 5})
	if s.PeerOf("", "ws-00003") == "" || s.PeerOf("", "srv-finance-0") != "" || s.HostOf("10.3.0.4") != "ws-00003" {
		t.Errorf("peer groups or address plan wrong: %q %q", s.PeerOf("", "ws-00003"), s.HostOf("10.3.0.4"))
	}
	if info, ok := s.Geo().Lookup(mustAddr("185.220.1.2")); !ok || info.Country != "RU" || info.ASN == 0 {
		t.Errorf("sim GeoIP: %+v %v", info, ok)
	}
	if _, ok := s.Geo().Lookup(mustAddr("10.0.0.1")); ok {
		t.Error("a private address has a country")
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// TestRecordedTraces replays recorded attacks from the shared OTRF data
// sets in the rare-process scenarios; they are caught like the synthetic
// ones.
func TestRecordedTraces(t *testing.T) {
	dir := SharedDatasets()
	if dir == "" {
		if os.Getenv("WACHT_REQUIRE_SHARED") != "" {
			t.Fatal("shared data sets not found")
		}
		t.Skip("shared data sets not found")
	}
	traces, err := LoadTraces(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(traces) < 10 {
		t.Fatalf("%d traces", len(traces))
	}
	for _, tr := range traces {
		if tr.Steps[0].Offset != 0 || !strings.HasSuffix(tr.Steps[0].Image, ".exe") {
			t.Fatalf("trace %s: %+v", tr.Name, tr.Steps[0])
		}
	}
	rep, err := Evaluate(Config{Seed: 1, Users: 300, Days: 24, Traces: traces}, EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, sc := range rep.Scenarios {
		if sc.Kind != RareProcess {
			continue
		}
		n++
		if !strings.Contains(sc.ID, "-") || !sc.Detected || !slices.Contains(sc.Anomalies, "rare_process") {
			t.Errorf("recorded trace %s: detected %v, anomalies %v", sc.ID, sc.Detected, sc.Anomalies)
		}
	}
	if n != 2 || rep.Recall < 0.9 {
		t.Errorf("%d trace scenarios, recall %.3f", n, rep.Recall)
	}
}
