package cases

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// The benchmarks: alerts per second through grouping with 100,000
// open incidents, and p99 latency of listing and filtering alerts with
// 1,000,000 stored, on SQLite. They take minutes, so they run only with
// WACHT_CASES_BENCH=1:
//
//	WACHT_CASES_BENCH=1 go test ./internal/cases -run TestScale -v -timeout 30m

func benchDB(tb testing.TB) *store.DB {
	dir := tb.TempDir()
	return storetest.Open(tb, store.Config{Driver: "sqlite", DSN: filepath.Join(dir, "state.db")})
}

func seedIncidents(tb testing.TB, f *fixture, n, batch int) {
	tb.Helper()
	for i := 0; i < n; i += batch {
		ins := make([]AlertInput, 0, batch)
		for j := i; j < min(n, i+batch); j++ {
			ins = append(ins, alert("seed", SevMedium, "host:h"+strconv.Itoa(j)))
		}
		if _, err := f.svc.RaiseAlerts(f.ctx, "t", ins); err != nil {
			tb.Fatal(err)
		}
	}
}

func TestScaleGrouping(t *testing.T) {
	if os.Getenv("WACHT_CASES_BENCH") != "1" {
		t.Skip("set WACHT_CASES_BENCH=1")
	}
	f := newFixture(t, benchDB(t))
	f.ctx = context.Background()
	f.sub.Close()
	const open = 100_000
	start := time.Now()
	seedIncidents(t, f, open, 1000)
	t.Logf("seeded %d open incidents in %v", open, time.Since(start))
	f.clock.Advance(time.Minute)
	rng := rand.New(rand.NewPCG(1, 2))
	mk := func(i int) AlertInput {
		// Mostly alerts about known hosts (grouped), some new ones, some
		// user-based across rules.
		in := alert("rule"+strconv.Itoa(i%50), SevHigh, "host:h"+strconv.Itoa(rng.IntN(open+open/10)), "user:u"+strconv.Itoa(rng.IntN(5000)))
		in.Events = append(in.Events, []byte(`{"_time":"2026-03-02T09:00:00Z","_msg":"x","process.command_line":"powershell -enc AAAA"}`))
		return in
	}
	for _, batch := range []int{1, 100} {
		const total = 20_000
		start := time.Now()
		for i := 0; i < total; i += batch {
			ins := make([]AlertInput, 0, batch)
			for j := i; j < i+batch; j++ {
				ins = append(ins, mk(j))
			}
			if _, err := f.svc.RaiseAlerts(f.ctx, "t", ins); err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(time.Millisecond)
		}
		el := time.Since(start)
		t.Logf("grouping with %d open incidents, batch %d: %d alerts in %v = %.0f alerts/s", open, batch, total, el, total/el.Seconds())
	}
}

func TestScaleListing(t *testing.T) {
	if os.Getenv("WACHT_CASES_BENCH") != "1" {
		t.Skip("set WACHT_CASES_BENCH=1")
	}
	f := newFixture(t, benchDB(t))
	f.ctx = context.Background()
	f.sub.Close()
	const n = 1_000_000
	start := time.Now()
	sevs := []Severity{SevLow, SevMedium, SevHigh, SevCritical}
	for i := 0; i < n; i += 1000 {
		ins := make([]AlertInput, 0, 1000)
		for j := i; j < i+1000; j++ {
			ins = append(ins, alert("rule"+strconv.Itoa(j%200), sevs[j%4], "host:h"+strconv.Itoa(j%20000)))
		}
		if _, err := f.svc.RaiseAlerts(f.ctx, "t", ins); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(time.Second)
	}
	t.Logf("stored %d alerts in %v", n, time.Since(start))
	now := f.clock.Now()
	queries := []struct {
		name string
		f    AlertFilter
	}{
		{"newest 100", AlertFilter{Limit: 100}},
		{"by severity", AlertFilter{Severity: SevCritical, Limit: 100}},
		{"by rule", AlertFilter{RuleID: "rule17", Limit: 100}},
		{"since 1h", AlertFilter{Since: now.Add(-time.Hour), Limit: 100}},
		{"page before", AlertFilter{Before: now.Add(-100 * time.Hour), Limit: 100}},
	}
	for _, q := range queries {
		var lat []time.Duration
		for range 200 {
			s := time.Now()
			as, err := f.svc.ListAlerts(f.ctx, "t", q.f)
			if err != nil || len(as) == 0 {
				t.Fatalf("%s: %d %v", q.name, len(as), err)
			}
			lat = append(lat, time.Since(s))
		}
		slices.Sort(lat)
		t.Logf("list alerts %-12s p50 %v p99 %v", q.name, lat[len(lat)/2], lat[len(lat)*99/100])
	}
	var lat []time.Duration
	for range 200 {
		s := time.Now()
		if _, err := f.svc.ListIncidents(f.ctx, "t", IncidentFilter{Open: true, Limit: 100}); err != nil {
			t.Fatal(err)
		}
		lat = append(lat, time.Since(s))
	}
	slices.Sort(lat)
	t.Logf("list open incidents p50 %v p99 %v", lat[len(lat)/2], lat[len(lat)*99/100])
}

// BenchmarkRaiseAlert is a quick per-alert figure on a small database.
func BenchmarkRaiseAlert(b *testing.B) {
	f := newFixture(b, benchDB(b))
	f.sub.Close()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := f.svc.RaiseAlert(f.ctx, "t", alert("r"+strconv.Itoa(i%20), SevHigh, fmt.Sprintf("host:h%d", i%1000))); err != nil {
			b.Fatal(err)
		}
	}
}
