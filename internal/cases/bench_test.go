package cases

import (
	"context"
	"encoding/json"
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
	db := storetest.Open(tb, store.Config{Driver: "sqlite", DSN: filepath.Join(dir, "state.db")})
	if os.Getenv("WACHT_CASES_BENCH_CACHE") != "" {
		// The writer has one connection: the pragma sticks to it.
		if _, err := db.Exec(context.Background(), "PRAGMA cache_size = -"+os.Getenv("WACHT_CASES_BENCH_CACHE")); err != nil {
			tb.Fatal(err)
		}
	}
	return db
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
		// A user works on a few hosts (20 hosts per user), as in an
		// organisation; random user-host pairs would chain every incident
		// into a few giant ones.
		h := rng.IntN(open + open/10)
		in := alert("rule"+strconv.Itoa(i%50), SevHigh, "host:h"+strconv.Itoa(h), "user:u"+strconv.Itoa(h/20))
		in.Events = append(in.Events, []byte(`{"_time":"2026-03-02T09:00:00Z","_msg":"x","process.command_line":"powershell -enc AAAA"}`))
		return in
	}
	for _, batch := range []int{1, 100, 1000} {
		const total = 20_000
		start, cpu0 := time.Now(), cpuTime()
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
		el, cpu := time.Since(start), cpuTime()-cpu0
		t.Logf("grouping with %d open incidents, batch %d: %d alerts in %v = %.0f alerts/s (%v CPU = %.0f alerts per CPU second)",
			open, batch, total, el.Round(time.Millisecond), total/el.Seconds(), cpu.Round(time.Millisecond), total/cpu.Seconds())
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
	// 20,000 incidents through the service, then the alerts straight into
	// the table (the listing, not grouping, is measured here).
	seedIncidents(t, f, 20_000, 1000)
	incs, err := f.svc.ListIncidents(f.ctx, "t", IncidentFilter{Limit: 1000})
	if err != nil || len(incs) == 0 {
		t.Fatal(err)
	}
	sevs := []Severity{SevLow, SevMedium, SevHigh, SevCritical}
	for i := 0; i < n; i += 5000 {
		err := f.svc.db.Tx(f.ctx, func(tx *store.Tx) error {
			rows := make([][]any, 0, 5000)
			for j := i; j < i+5000; j++ {
				in, _ := f.svc.normalize(f.ctx, "t", alert("rule"+strconv.Itoa(j%200), sevs[j%4], "host:h"+strconv.Itoa(j%20000)), f.clock.Now())
				sc, expl := score(in.Severity, 0, 0, nil)
				a := Alert{ID: newID("alr_"), Tenant: "t", IncidentID: incs[j%len(incs)].ID, Source: "bench", RuleID: in.RuleID, RuleTitle: in.RuleTitle,
					Severity: in.Severity, Attack: []string{}, Entities: in.Entities, DedupKey: in.DedupKey + strconv.Itoa(j), Count: 1, Score: sc,
					Priority: priorityOf(sc), Explanation: expl, EventTime: f.clock.Now(), CreatedAt: f.clock.Now(), LastSeenAt: f.clock.Now(),
					Events: []json.RawMessage{json.RawMessage(`{"_msg":"bench"}`)}}
				rows = append(rows, alertInsertArgs(&a))
				if j%50 == 0 {
					f.clock.Advance(time.Second)
				}
			}
			return insertRows(f.ctx, tx, "INSERT INTO case_alerts ("+alertCols+", events)", rows, "")
		})
		if err != nil {
			t.Fatal(err)
		}
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
		{"page before", AlertFilter{Before: now.Add(-3 * time.Hour), Limit: 100}},
		{"by incident", AlertFilter{IncidentID: incs[7].ID, Limit: 100}},
		{"sev+rule", AlertFilter{Severity: SevHigh, RuleID: "rule18", Limit: 100}},
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

// BenchmarkRaiseBatch raises batches of 100 alerts that mostly join some of
// 10,000 open incidents (ns/op is per alert).
func BenchmarkRaiseBatch(b *testing.B) {
	f := newFixture(b, benchDB(b))
	f.sub.Close()
	const open = 10_000
	seedIncidents(b, f, open, 1000)
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += 100 {
		ins := make([]AlertInput, 0, 100)
		for j := range 100 {
			h := rng.IntN(open + open/10)
			ins = append(ins, alert("rule"+strconv.Itoa((i+j)%50), SevHigh, "host:h"+strconv.Itoa(h), "user:u"+strconv.Itoa(h/20)))
		}
		if _, err := f.svc.RaiseAlerts(f.ctx, "t", ins); err != nil {
			b.Fatal(err)
		}
		f.clock.Advance(time.Millisecond)
	}
}
