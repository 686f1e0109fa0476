package ueba

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
)

// BenchmarkStatePerEntity builds the state of 100,000 entities (users,
// their workstations and addresses, each seen every hour for eight days
// so every hourly ring is full, each user with a time-of-week histogram,
// each address with fan-out history, each host with a few processes) and
// reports the heap it takes per entity and the snapshot bytes per entity.
func BenchmarkStatePerEntity(b *testing.B) {
	const users = 33333 // × user, host, address ≈ 100,000 entities
	for range b.N {
		en := NewEngine(Config{})
		ev := make([]*event.Event, 0, 4096)
		fields := func(kv ...string) []event.Field {
			out := make([]event.Field, 0, len(kv)/2)
			for i := 0; i < len(kv); i += 2 {
				out = append(out, event.Field{Name: kv[i], Value: event.String(kv[i+1])})
			}
			return out
		}
		names := make([][4]string, users)
		for u := range users {
			names[u] = [4]string{fmt.Sprintf("user%05d", u), fmt.Sprintf("ws-%05d", u), fmt.Sprintf("10.%d.%d.%d", u>>16, (u>>8)&255, u&255), fmt.Sprintf(`c:\apps\tool%d.exe`, u%40)}
		}
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		for h := 0; h < 8*24; h += 1 {
			t0 := simStart.Add(time.Duration(h) * time.Hour)
			for u := range users {
				n := names[u]
				ev = append(ev, &event.Event{Time: t0, Tenant: "t", Fields: fields("user.name", n[0], "host.name", n[1], "source.ip", n[2],
					"destination.ip", fmt.Sprintf("10.200.0.%d", h%7), "process.executable", n[3])})
				if len(ev) == cap(ev) {
					en.Process(ev, nil)
					ev = ev[:0]
				}
			}
		}
		en.Process(ev, nil)
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		ts := en.tenants["t"]
		n := len(ts.Entities)
		heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
		var snap bytes.Buffer
		if err := gob.NewEncoder(&snap).Encode(ts); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(n), "entities")
		b.ReportMetric(heap/float64(n), "heap-B/entity")
		b.ReportMetric(float64(snap.Len())/float64(n), "snapshot-B/entity")
		b.ReportMetric(heap/float64(n)*100000/(1<<20), "MiB/100k-entities")
		runtime.KeepAlive(names)
	}
}

// TestBoundEvictsTies: a tenant over its entity and pair limits shrinks
// to 80 % of them even when every entity was last seen in the same hour.
func TestBoundEvictsTies(t *testing.T) {
	en := NewEngine(Config{MaxEntities: 100, MaxPairs: 50})
	var evs []*event.Event
	for i := range 150 {
		evs = append(evs, &event.Event{Time: simStart, Tenant: "t", Fields: []event.Field{
			{Name: "host.name", Value: event.String(fmt.Sprintf("h%d", i))}, {Name: "process.executable", Value: event.String("a.exe")}}})
	}
	en.Process(evs, nil)
	ts := en.tenants["t"]
	if len(ts.Entities) != 80 || ts.Hosts != 80 || len(ts.Pairs) != 40 {
		t.Errorf("after bound: %d entities, %d hosts, %d pairs; want 80, 80, 40", len(ts.Entities), ts.Hosts, len(ts.Pairs))
	}
}
