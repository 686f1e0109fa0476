package ueba

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
)

func connEvent(t time.Time, src, dst string) *event.Event {
	return &event.Event{Time: t, Tenant: "t", Fields: []event.Field{
		{Name: "source.ip", Value: event.String(src)}, {Name: "destination.ip", Value: event.String(dst)}}}
}

// TestFanOutBurst: an address that talks to a handful of peers every
// hour for a week and then reaches 300 distinct destinations in one hour
// is reported by the HyperLogLog fan-out detector, once, with its
// baseline; the quiet hours before are not.
func TestFanOutBurst(t *testing.T) {
	en := NewEngine(Config{})
	var got []Anomaly
	for h := 0; h < 7*24; h++ {
		t0 := simStart.Add(time.Duration(h) * time.Hour)
		var evs []*event.Event
		for i := range 40 {
			evs = append(evs, connEvent(t0.Add(time.Duration(i)*time.Minute), "10.0.0.1", fmt.Sprintf("10.9.0.%d", (h+i)%6)))
		}
		if h == 6*24+10 {
			for i := range 300 {
				evs = append(evs, connEvent(t0.Add(40*time.Minute+time.Duration(i)*time.Second), "10.0.0.1", fmt.Sprintf("10.%d.%d.%d", 20+i/250, i%250, i%7)))
			}
		}
		got = en.Process(evs, got)
	}
	var fan []Anomaly
	for _, a := range got {
		if a.Detector == DetFanOut {
			fan = append(fan, a)
		}
	}
	if len(fan) != 1 {
		t.Fatalf("fan-out anomalies: %+v, want exactly one", fan)
	}
	a := fan[0]
	if a.Entity != (Entity{KindIP, "10.0.0.1"}) || a.Time.Before(simStart.Add((6*24+10)*time.Hour)) || a.Time.After(simStart.Add((6*24+11)*time.Hour)) {
		t.Errorf("fan-out on %s at %s, want 10.0.0.1 in hour %d", a.Entity, a.Time, 6*24+10)
	}
	parts := map[string]float64{}
	for _, p := range a.Parts {
		parts[p.Name] = p.Value
	}
	if parts["median"] < 5 || parts["median"] > 7 || parts["distinct_destinations"] < parts["threshold"] || a.Score <= 0 {
		t.Errorf("explanation %+v: want a median of about 6 destinations and an observed count above the threshold", a.Parts)
	}
}

// TestFanOutStateBounded: one address reaching 200,000 distinct
// destinations in an hour keeps a fan-out sketch of a few hundred bytes
// whose estimate is within 20 % of the truth, and the sketch survives the
// snapshot codec.
func TestFanOutStateBounded(t *testing.T) {
	en := NewEngine(Config{})
	const n = 200000
	evs := make([]*event.Event, 0, 1000)
	t0 := simStart
	for i := range n {
		evs = append(evs, connEvent(t0.Add(time.Duration(i)*time.Millisecond), "10.0.0.1", fmt.Sprintf("d%d", i)))
		if len(evs) == cap(evs) {
			en.Process(evs, nil)
			evs = evs[:0]
		}
	}
	en.Process(evs, nil)
	ts := en.tenants["t"]
	f := ts.Entities[Entity{KindIP, "10.0.0.1"}].Fan
	b, err := f.HLL.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 1024 {
		t.Errorf("fan-out sketch of %d bytes after %d destinations, want ≤ 1 KiB", len(b), n)
	}
	est := float64(f.HLL.Estimate())
	if math.Abs(est-n)/n > 0.2 {
		t.Errorf("estimate %.0f for %d destinations, want within 20 %%", est, n)
	}
	var snap bytes.Buffer
	if err := gob.NewEncoder(&snap).Encode(ts); err != nil {
		t.Fatal(err)
	}
	var back TenantState
	if err := gob.NewDecoder(&snap).Decode(&back); err != nil {
		t.Fatal(err)
	}
	bf := back.Entities[Entity{KindIP, "10.0.0.1"}].Fan
	if bf == nil || bf.HLL == nil || float64(bf.HLL.Estimate()) != est || bf.Inserts != f.Inserts {
		t.Errorf("fan-out state after the snapshot round trip: %+v, want the estimate %.0f", bf, est)
	}
	// Small hours stay near exact in the sparse representation.
	en2 := NewEngine(Config{})
	var small []*event.Event
	for i := range 57 {
		small = append(small, connEvent(t0, "10.0.0.2", fmt.Sprintf("s%d", i)), connEvent(t0, "10.0.0.2", fmt.Sprintf("s%d", i)))
	}
	en2.Process(small, nil)
	if got := en2.tenants["t"].Entities[Entity{KindIP, "10.0.0.2"}].Fan.HLL.Estimate(); got != 57 {
		t.Errorf("estimate %d for 57 destinations seen twice each, want 57", got)
	}
}
