package ueba

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
)

// simStart is a Monday.
var simStart = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// simulate writes 15 days of a small fleet's events, hour by hour: 60
// users working weekdays 8-18 on their own workstation and address, 30
// workstations running a common set of processes around the clock, a
// server talking to a handful of peers, and a Linux audit source at a
// steady 100 events an hour. Six known anomalies are injected; want maps
// each to its entity.
func simulate(seed uint64, batch func([]*event.Event)) (want map[Entity]Detector) {
	rng := rand.New(rand.NewPCG(seed, 11))
	mk := func(t time.Time, ls event.LogSource, kv ...string) *event.Event {
		e := &event.Event{Time: t, Tenant: "t", LogSource: ls}
		for i := 0; i+1 < len(kv); i += 2 {
			e.Fields = append(e.Fields, event.Field{Name: kv[i], Value: event.String(kv[i+1])})
		}
		return e
	}
	auth := event.LogSource{Product: "windows", Service: "security", Category: "authentication"}
	proc := event.LogSource{Product: "windows", Category: "process_creation"}
	netw := event.LogSource{Product: "zeek", Category: "network_connection"}
	audit := event.LogSource{Product: "linux", Service: "auditd"}
	images := make([]string, 15)
	for i := range images {
		images[i] = fmt.Sprintf(`c:\windows\system32\tool%02d.exe`, i)
	}
	for hour := 0; hour < 15*24; hour++ {
		t0 := simStart.Add(time.Duration(hour) * time.Hour)
		day, hod := hour/24, hour%24
		var evs []*event.Event
		at := func() time.Time { return t0.Add(time.Duration(rng.IntN(3600)) * time.Second) }
		if wd := t0.Weekday(); wd != time.Saturday && wd != time.Sunday && hod >= 8 && hod < 18 {
			for u := range 60 {
				for range 2 + rng.IntN(3) {
					evs = append(evs, mk(at(), auth, "user.name", fmt.Sprintf("u%d", u), "host.name", fmt.Sprintf("ws-%d", u%30), "source.ip", fmt.Sprintf("10.0.1.%d", u)))
				}
			}
		}
		for h := range 30 {
			for range 5 + rng.IntN(10) {
				evs = append(evs, mk(at(), proc, "host.name", fmt.Sprintf("ws-%d", h), "process.executable", images[rng.IntN(len(images))]))
			}
		}
		for range 3 + rng.IntN(3) {
			evs = append(evs, mk(at(), netw, "source.ip", "10.0.2.1", "destination.ip", fmt.Sprintf("10.0.3.%d", rng.IntN(5))))
		}
		if !(day == 12 && hod >= 10 && hod < 15) {
			for range 90 + rng.IntN(20) {
				evs = append(evs, mk(at(), audit, "host.name", "srv-1"))
			}
		}
		// Injected anomalies, all after the learning period.
		switch {
		case day == 10 && hod == 9:
			evs = append(evs, mk(t0.Add(time.Minute), proc, "host.name", "ws-3", "process.executable", `c:\users\public\evil.exe`))
		case day == 10 && hod == 10:
			for i := range 80 {
				evs = append(evs, mk(t0.Add(time.Duration(i)*time.Second), netw, "source.ip", "10.0.2.1", "destination.ip", fmt.Sprintf("10.0.4.%d", i)))
			}
		case day == 10 && hod == 11:
			evs = append(evs, mk(t0.Add(time.Minute), auth, "user.name", "u7", "host.name", "ws-7", "source.ip", "203.0.113.9"))
		case day == 10 && hod == 14:
			for i := range 2000 {
				evs = append(evs, mk(t0.Add(time.Duration(i)*time.Second), proc, "host.name", "ws-5", "process.executable", images[i%len(images)]))
			}
		case day == 13 && hod == 3:
			evs = append(evs, mk(t0.Add(time.Minute), auth, "user.name", "u12", "host.name", "ws-12", "source.ip", "10.0.1.12"))
		}
		// Events arrive in time order within a batch.
		sortEvents(evs)
		batch(evs)
	}
	return map[Entity]Detector{
		{KindProcess, `ws-3|c:\users\public\evil.exe`}: DetNewProcess,
		{KindIP, "10.0.2.1"}:                           DetFanOut,
		{KindUser, "u7"}:                               DetNewLogonSource,
		{KindHost, "ws-5"}:                             DetVolumeEntity,
		{KindUser, "u12"}:                              DetTimeOfWeek,
		{KindSource, "linux/auditd/"}:                  DetVolumeSource,
	}
}

func sortEvents(evs []*event.Event) {
	for i := 1; i < len(evs); i++ {
		for j := i; j > 0 && evs[j].Time.Before(evs[j-1].Time); j-- {
			evs[j], evs[j-1] = evs[j-1], evs[j]
		}
	}
}

// TestDetectorsOnSimulatedFleet measures recall over the injected
// anomalies and precision over everything reported.
func TestDetectorsOnSimulatedFleet(t *testing.T) {
	en := NewEngine(Config{TimeOfWeekMin: 100})
	var got []Anomaly
	want := simulate(1, func(evs []*event.Event) { got = en.Process(evs, got) })
	// The fan-out and the process spike also lift their log sources'
	// hourly volume: reported, correct, but not separately injected.
	derived := map[Entity]bool{{KindSource, "zeek//network_connection"}: true, {KindSource, "windows//process_creation"}: true}
	found := map[Entity]bool{}
	tp := 0
	for _, a := range got {
		if derived[a.Entity] {
			tp++
			continue
		}
		if _, ok := want[a.Entity]; ok {
			tp++
			if want[a.Entity] == a.Detector || a.Detector == DetRareProcess {
				found[a.Entity] = true
			}
			if a.What == "" || a.Baseline == "" || a.Observed == "" || len(a.Parts) == 0 || a.Score <= 0 {
				t.Errorf("anomaly without a full explanation: %+v", a)
			}
		} else {
			t.Logf("false positive: %s %s %s", a.Detector, a.Entity, a.What)
		}
		if a.Time.Before(simStart.Add(72 * time.Hour)) {
			t.Errorf("anomaly inside the learning period: %+v", a)
		}
	}
	recall := float64(len(found)) / float64(len(want))
	precision := float64(tp) / float64(max(len(got), 1))
	t.Logf("anomalies %d, recall %.2f, precision %.2f", len(got), recall, precision)
	for e, d := range want {
		if !found[e] {
			t.Errorf("missed %s on %s", d, e)
		}
	}
	if recall < 1 || precision < 0.9 {
		t.Errorf("recall %.2f precision %.2f, want 1 and ≥ 0.9", recall, precision)
	}
	// Daily cap: the five silent hours of the audit source give at most
	// DailyCap anomalies.
	drops := 0
	for _, a := range got {
		if a.Entity.Value == "linux/auditd/" {
			drops++
		}
	}
	if drops == 0 || drops > en.Config().DailyCap {
		t.Errorf("%d source anomalies, want 1..%d", drops, en.Config().DailyCap)
	}
}

// TestLearningPeriodSilences checks that nothing is reported while the
// baseline is being learned, even for a blatant novelty.
func TestLearningPeriodSilences(t *testing.T) {
	en := NewEngine(Config{LearningPeriod: 48 * time.Hour})
	mk := func(t time.Time, img string) *event.Event {
		return &event.Event{Time: t, Tenant: "t", Fields: []event.Field{{Name: "host.name", Value: event.String("h")}, {Name: "process.executable", Value: event.String(img)}}}
	}
	var got []Anomaly
	got = en.Process([]*event.Event{mk(simStart, "a.exe"), mk(simStart.Add(time.Hour), "b.exe")}, got)
	if len(got) != 0 {
		t.Fatalf("anomalies during learning: %+v", got)
	}
	got = en.Process([]*event.Event{mk(simStart.Add(49*time.Hour), "c.exe"), mk(simStart.Add(50*time.Hour), "a.exe")}, got)
	if len(got) != 1 || got[0].Detector != DetNewProcess || got[0].Entity.Value != "h|c.exe" {
		t.Fatalf("after learning: %+v", got)
	}
	// Expiry: a.exe unseen for longer than FirstSeenExpiry is new again.
	got = en.Process([]*event.Event{mk(simStart.Add(50*time.Hour+en.Config().FirstSeenExpiry+2*time.Hour), "a.exe")}, got[:0])
	if len(got) != 1 || got[0].Detector != DetNewProcess {
		t.Fatalf("after expiry: %+v", got)
	}
}

func BenchmarkDetectors(b *testing.B) {
	var evs [][]*event.Event
	simulate(2, func(batch []*event.Event) { evs = append(evs, batch) })
	n := 0
	for _, batch := range evs {
		n += len(batch)
	}
	b.ResetTimer()
	total := 0
	for i := 0; i < b.N; i++ {
		en := NewEngine(Config{TimeOfWeekMin: 100})
		var out []Anomaly
		for _, batch := range evs {
			out = en.Process(batch, out[:0])
		}
		total += n
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "events/s")
}
