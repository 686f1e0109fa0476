package soar_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/soar"
	"github.com/wacht-soc/wacht/internal/store"
)

const fiveSteps = `name: five
on:
  alert.created: {}
inputs: { url: { type: string } }
steps:
  - { id: s1, uses: http.request, with: { method: POST, url: "${{ inputs.url }}/1" } }
  - { id: s2, uses: http.request, with: { method: POST, url: "${{ inputs.url }}/2" } }
  - { id: s3, uses: http.request, with: { method: POST, url: "${{ inputs.url }}/3" } }
  - { id: s4, uses: http.request, with: { method: POST, url: "${{ inputs.url }}/4" } }
  - { id: s5, uses: http.request, with: { method: POST, url: "${{ inputs.url }}/5" } }
`

func benchService(b *testing.B, target string) (*soar.Service, *bus.Bus) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{Driver: "sqlite", DSN: filepath.Join(b.TempDir(), "state.db")}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	bs := bus.New(nil)
	svc := soar.New(db, soar.Options{Bus: bs, Workers: 16, Poll: 50 * time.Millisecond,
		Deps: soar.Deps{HTTP: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}, AllowLoopback: true}})
	if err := svc.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(svc.Stop)
	if _, err := svc.Apply(ctx, "a", []byte(fiveSteps), "bench"); err != nil {
		b.Fatal(err)
	}
	return svc, bs
}

// BenchmarkFiveStepRuns: runs/s of a five-step playbook against a local
// target on SQLite (every step state durable).
func BenchmarkFiveStepRuns(b *testing.B) {
	var calls atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	defer ts.Close()
	svc, bs := benchService(b, ts.URL)
	sub := bs.Subscribe(soar.EventRunFinished, b.N+16)
	ctx := context.Background()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for range b.N {
		if _, err := svc.StartRun(ctx, "a", soar.StartRequest{Playbook: "five", Inputs: map[string]any{"url": ts.URL}}); err != nil {
			b.Fatal(err)
		}
	}
	for range b.N {
		e := <-sub.C()
		if e.Data.(soar.RunSummary).Status != soar.RunSucceeded {
			b.Fatalf("%+v", e.Data)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "runs/s")
	// CPU per run (runner, SQLite and the target in this process): what
	// the runs/s would be on idle cores, whatever else the machine runs.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/run")
	if calls.Load() != int64(5*b.N) {
		b.Fatalf("%d calls, want %d", calls.Load(), 5*b.N)
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTriggerLatency: from a domain event on the bus to the first
// action's request at the target (p50, p99), one event at a time.
func BenchmarkTriggerLatency(b *testing.B) {
	hit := make(chan time.Time, 16)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/1" {
			hit <- time.Now()
		}
	}))
	defer ts.Close()
	ctx := context.Background()
	svc, bs := benchService(b, ts.URL)
	// Triggered runs have no inputs: the URL comes from the event.
	if _, err := svc.Apply(ctx, "a", []byte(`name: five
on:
  alert.created: {}
steps:
  - { id: s1, uses: http.request, with: { method: POST, url: "${{ alert.url }}/1" } }
  - { id: s2, uses: http.request, with: { method: POST, url: "${{ alert.url }}/2" } }
`), "bench"); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		bs.Publish(ctx, bus.Event{Type: "alert.created", Tenant: "a", Subject: "x", Data: map[string]any{"url": ts.URL}})
		select {
		case t1 := <-hit:
			lat = append(lat, t1.Sub(t0))
		case <-time.After(10 * time.Second):
			b.Fatal("no first action")
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
