package cases

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
//
// WACHT_CASES_BENCH_BATCH=1000 runs one batch size instead of 1, 100,
// 1000 and 5000 (the alerting module raises up to 5,000 queued alerts at
// once); WACHT_CASES_BENCH_DIST=uniform or zipf one host distribution;
// WACHT_CASES_BENCH_CACHE=65536 sets SQLite's page cache (KiB) of the
// writer, WACHT_CASES_BENCH_WAL=16384 its WAL auto-checkpoint (pages).
// Alerts per CPU second is the figure to compare on a shared
// machine; alerts per second depends on what else runs.

func benchDB(tb testing.TB) *store.DB {
	dir := tb.TempDir()
	db := storetest.Open(tb, store.Config{Driver: "sqlite", DSN: filepath.Join(dir, "state.db")})
	if os.Getenv("WACHT_CASES_BENCH_CACHE") != "" {
		// The writer has one connection: the pragma sticks to it.
		if _, err := db.Exec(context.Background(), "PRAGMA cache_size = -"+os.Getenv("WACHT_CASES_BENCH_CACHE")); err != nil {
			tb.Fatal(err)
		}
	}
	if v := os.Getenv("WACHT_CASES_BENCH_WAL"); v != "" {
		if _, err := db.Exec(context.Background(), "PRAGMA wal_autocheckpoint = "+v); err != nil {
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
	hosts := open + open/10
	// Uniform: every alert about a random one of 110,000 hosts, the worst
	// case for the database (each alert touches other pages). Zipf: a few
	// hosts raise most alerts, as in real alert streams.
	zipf := rand.NewZipf(rand.New(rand.NewPCG(3, 4)), 1.2, 1, uint64(hosts-1))
	dists := map[string]func() int{
		"uniform": func() int { return rng.IntN(hosts) },
		"zipf":    func() int { return int(zipf.Uint64()) },
	}
	mk := func(i, h int) AlertInput {
		// A user works on a few hosts (20 hosts per user), as in an
		// organisation; random user-host pairs would chain every incident
		// into a few giant ones.
		in := alert("rule"+strconv.Itoa(i%50), SevHigh, "host:h"+strconv.Itoa(h), "user:u"+strconv.Itoa(h/20))
		in.Events = append(in.Events, []byte(`{"_time":"2026-03-02T09:00:00Z","_msg":"x","process.command_line":"powershell -enc AAAA"}`))
		return in
	}
	batches := []int{1, 100, 1000, 5000}
	if v := os.Getenv("WACHT_CASES_BENCH_BATCH"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("WACHT_CASES_BENCH_BATCH=%q: %v", v, err)
		}
		batches = []int{n}
	}
	names := []string{"uniform", "zipf"}
	if v := os.Getenv("WACHT_CASES_BENCH_DIST"); v != "" {
		if dists[v] == nil {
			t.Fatalf("WACHT_CASES_BENCH_DIST=%q: want uniform or zipf", v)
		}
		names = []string{v}
	}
	for _, dist := range names {
		for _, batch := range batches {
			const total = 20_000
			start, cpu0 := time.Now(), cpuTime()
			repeats := 0
			for i := 0; i < total; i += batch {
				ins := make([]AlertInput, 0, batch)
				for j := i; j < i+batch; j++ {
					ins = append(ins, mk(j, dists[dist]()))
				}
				as, err := f.svc.RaiseAlerts(f.ctx, "t", ins)
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range as {
					if a.Deduplicated {
						repeats++
					}
				}
				f.clock.Advance(time.Millisecond)
			}
			el, cpu := time.Since(start), cpuTime()-cpu0
			t.Logf("grouping with %d open incidents, %s hosts, batch %d: %d alerts (%d repeats counted) in %v = %.0f alerts/s (%v CPU = %.0f alerts per CPU second)",
				open, dist, batch, total, repeats, el.Round(time.Millisecond), total/el.Seconds(), cpu.Round(time.Millisecond), total/cpu.Seconds())
		}
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
	bulkLoadAlerts(t, f, n)
	var stored int
	if err := f.svc.db.QueryRow(f.ctx, "SELECT count(*) FROM case_alerts WHERE tenant = 't'").Scan(&stored); err != nil || stored < n {
		t.Fatalf("stored %d alerts (%v), want at least %d", stored, err, n)
	}
	t.Logf("stored %d alerts in %v", stored, time.Since(start))
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
		{"sev+since", AlertFilter{Severity: SevLow, Since: now.Add(-2 * time.Hour), Limit: 100}},
		{"rule, page", AlertFilter{RuleID: "rule42", Before: now.Add(-4 * time.Hour), Limit: 100}},
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

// bulkLoadAlerts stores n alerts spread over the tenant's incidents,
// 200 rules and 4 severities, 50 a second up to the fake clock's now (which
// it moves on): generated inside SQLite with the alert table's indexes
// dropped and rebuilt afterwards, which takes seconds where raising them
// would take many minutes.
func bulkLoadAlerts(tb testing.TB, f *fixture, n int) {
	tb.Helper()
	ctx, db := f.ctx, f.svc.db
	rows, err := db.Query(ctx, "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'case_alerts' AND sql IS NOT NULL")
	if err != nil {
		tb.Fatal(err)
	}
	var indexes []string
	for rows.Next() {
		var q string
		if err := rows.Scan(&q); err != nil {
			tb.Fatal(err)
		}
		indexes = append(indexes, q)
	}
	rows.Close()
	if len(indexes) < 4 {
		tb.Fatalf("found %d indexes on case_alerts", len(indexes))
	}
	for _, q := range indexes {
		name := strings.Fields(q)[2]
		if _, err := db.Exec(ctx, "DROP INDEX "+name); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := db.Exec(ctx, "CREATE TABLE bench_inc AS SELECT row_number() OVER (ORDER BY id) - 1 AS n, id FROM case_incidents WHERE tenant = 't'"); err != nil {
		tb.Fatal(err)
	}
	var incs int
	if err := db.QueryRow(ctx, "SELECT count(*) FROM bench_inc").Scan(&incs); err != nil || incs == 0 {
		tb.Fatalf("incidents to load alerts into: %d %v", incs, err)
	}
	base := f.clock.Now().Unix()
	const chunk = 100_000
	for from := 0; from < n; from += chunk {
		to := min(n, from+chunk) - 1
		_, err := db.Exec(ctx, `WITH RECURSIVE seq(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM seq WHERE i < ?),
gen AS (SELECT i, strftime('%Y-%m-%dT%H:%M:%S', ? + i / 50, 'unixepoch') || '.000000Z' AS at FROM seq)
INSERT INTO case_alerts (`+alertCols+`, events)
SELECT 't', printf('alr_%016x', i), bench_inc.id, 'bench', 'rule' || (i % 200), 'Rule ' || (i % 200),
	CASE i % 4 WHEN 0 THEN 'low' WHEN 1 THEN 'medium' WHEN 2 THEN 'high' ELSE 'critical' END, '[]',
	'[{"kind":"host","value":"h' || (i % 20000) || '"}]', printf('%032x', i), 1, 40, 'P3', '[]', 0, 0, '{}', '',
	at, at, at, '[{"_msg":"bench"}]'
FROM gen JOIN bench_inc ON bench_inc.n = gen.i % ?`, from, to, base, incs)
		if err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := db.Exec(ctx, "DROP TABLE bench_inc"); err != nil {
		tb.Fatal(err)
	}
	for _, q := range indexes {
		if _, err := db.Exec(ctx, q); err != nil {
			tb.Fatal(err)
		}
	}
	f.clock.Advance(time.Duration(n/50) * time.Second)
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
