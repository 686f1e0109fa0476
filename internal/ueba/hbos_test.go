package ueba

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
)

// hbosFleet simulates 8 days of 40 workstations, each with its own user
// logging on from its own address and running 2-5 of a dozen common
// processes every hour with a few failed logons, plus a server that is
// always 10-50 times busier than any workstation, with many users and
// processes, varying hour to hour. In hour
// outlierHour ws-7 sees 12 users, 30 processes and mostly failed logons
// at a near-normal event count.
func hbosFleet(seed uint64, outlierHour int, batch func([]*event.Event)) {
	rng := rand.New(rand.NewPCG(seed, 7))
	mk := func(t time.Time, kv ...string) *event.Event {
		e := &event.Event{Time: t, Tenant: "t"}
		for i := 0; i+1 < len(kv); i += 2 {
			e.Fields = append(e.Fields, event.Field{Name: kv[i], Value: event.String(kv[i+1])})
		}
		return e
	}
	for hour := 0; hour < 8*24; hour++ {
		t0 := simStart.Add(time.Duration(hour) * time.Hour)
		var evs []*event.Event
		for h := range 40 {
			host, user := fmt.Sprintf("ws-%d", h), fmt.Sprintf("u%d", h)
			n := 8 + rng.IntN(8)
			procs := 2 + rng.IntN(4)
			for i := range n {
				outcome := "success"
				if rng.IntN(20) == 0 {
					outcome = "failure"
				}
				evs = append(evs, mk(t0.Add(time.Duration(i)*time.Minute), "host.name", host, "user.name", user, "source.ip", fmt.Sprintf("10.0.0.%d", h),
					"process.executable", fmt.Sprintf(`c:\windows\tool%d.exe`, i%procs), "event.outcome", outcome))
			}
			if h == 7 && hour == outlierHour {
				for i := range 30 {
					evs = append(evs, mk(t0.Add(time.Duration(20+i)*time.Second), "host.name", host, "user.name", fmt.Sprintf("svc%d", i%12),
						"process.executable", fmt.Sprintf(`c:\temp\x%d.exe`, i), "event.outcome", "failure"))
				}
			}
		}
		np, nu := 20+rng.IntN(60), 30+rng.IntN(90)
		for i := range 150 + rng.IntN(400) {
			evs = append(evs, mk(t0.Add(time.Duration(i)*time.Second), "host.name", "srv-1", "user.name", fmt.Sprintf("s%d", i%nu),
				"process.executable", fmt.Sprintf(`c:\srv\p%d.exe`, i%np), "event.outcome", "success"))
		}
		sortEvents(evs)
		batch(evs)
	}
}

// TestHBOSOutlierHour: the multi-feature outlier hour of ws-7 is the only
// HBOS anomaly (the always-busy server is not one: it is compared with
// its own usual score too), and its explanation lists each feature's
// value, bin density and contribution, which add up to the score.
func TestHBOSOutlierHour(t *testing.T) {
	const outlierHour = 6*24 + 10
	en := NewEngine(Config{})
	var got []Anomaly
	hbosFleet(1, outlierHour, func(evs []*event.Event) { got = en.Process(evs, got) })
	got = append(got, en.Flush(simStart.Add(9*24*time.Hour))...)
	var hb []Anomaly
	for _, a := range got {
		if a.Detector == DetHBOS {
			hb = append(hb, a)
		}
	}
	found := false
	for _, a := range hb {
		if a.Entity != (Entity{KindHost, "ws-7"}) {
			t.Errorf("false HBOS anomaly: %s %s", a.Entity, a.What)
			continue
		}
		found = true
		parts := map[string]float64{}
		for _, p := range a.Parts {
			parts[p.Name] = p.Value
		}
		sum := 0.0
		for _, name := range hbosFeatureNames(KindHost) {
			v, okV := parts[name]
			d, okD := parts[name+"_density"]
			c, okC := parts[name+"_contribution"]
			if !okV || !okD || !okC || d <= 0 || d > 1 || math.Abs(c+math.Log(d)) > 1e-9 {
				t.Errorf("feature %s: value %v density %v contribution %v", name, v, d, c)
			}
			sum += c
		}
		if math.Abs(sum-parts["hbos"]) > 1e-9 || parts["hbos"] < parts["threshold"] || parts["processes"] < 25 || parts["users"] < 8 {
			t.Errorf("parts %+v: want contributions summing to hbos above the threshold, ~31 processes and ~13 users", a.Parts)
		}
		if !strings.Contains(a.What, "processes") || !strings.Contains(a.Observed, "bin density") || a.Baseline == "" {
			t.Errorf("explanation: %q / %q / %q", a.What, a.Observed, a.Baseline)
		}
	}
	if !found {
		t.Fatalf("no HBOS anomaly on ws-7's outlier hour; HBOS anomalies: %+v", hb)
	}
	// Without the outlier hour, the same fleet gives no HBOS anomaly.
	en2 := NewEngine(Config{})
	var quiet []Anomaly
	hbosFleet(1, -1, func(evs []*event.Event) { quiet = en2.Process(evs, quiet) })
	for _, a := range quiet {
		if a.Detector == DetHBOS {
			t.Errorf("HBOS anomaly on a benign fleet: %s %s", a.Entity, a.What)
		}
	}
}

// TestHBOSStateBounded: a user's and a host's outlier state is one small
// fixed-size record whatever the hour holds.
func TestHBOSStateBounded(t *testing.T) {
	en := NewEngine(Config{})
	var evs []*event.Event
	for i := range 20000 {
		evs = append(evs, &event.Event{Time: simStart, Tenant: "t", Fields: []event.Field{{Name: "host.name", Value: event.String("h")},
			{Name: "user.name", Value: event.String(fmt.Sprintf("u%d", i))}, {Name: "process.executable", Value: event.String(fmt.Sprintf("p%d", i))}}})
	}
	en.Process(evs, nil)
	x := en.tenants["t"].Entities[Entity{KindHost, "h"}].Out
	f := x.features()
	if x.Events != 20000 || f[featDistinctA] < 1000 || f[featDistinctA] > 2000 {
		t.Errorf("hour state %d events, %v distinct processes: want 20000 and a saturated estimate", x.Events, f[featDistinctA])
	}
}
