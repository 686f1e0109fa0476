package console

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/auth"
	"github.com/wacht-soc/wacht/internal/cases"
	"github.com/wacht-soc/wacht/internal/store"
)

// benchAlerts is how many alerts the page benchmark stores.
const benchAlerts = 1 << 20

// BenchmarkPages times each console page's server side (guard, handler,
// template) with about a million alerts in SQLite. The state database is
// built once: 1,024 alerts raised through the cases service (real
// grouping into incidents, SLA clocks), then copied ten times over in SQL
// (each copy doubles the table under new ids). Set WACHT_BENCH_STATE to a
// file path to keep the database between runs.
//
//	go test ./internal/console -run '^$' -bench Pages -benchtime 20x
func BenchmarkPages(b *testing.B) {
	ctx := context.Background()
	path := os.Getenv("WACHT_BENCH_STATE")
	if path == "" {
		path = filepath.Join(b.TempDir(), "state.db")
	}
	log := slog.New(slog.DiscardHandler)
	db, err := store.Open(ctx, store.Config{Driver: "sqlite", DSN: path}, log)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC()
	clock := func() time.Time { return now }
	cs := cases.New(db, cases.Options{Now: clock, Log: log})
	var n int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM case_alerts WHERE tenant = 'a'`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	if n < benchAlerts {
		start := time.Now()
		if err := seedAlerts(ctx, db, cs); err != nil {
			b.Fatal(err)
		}
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM case_alerts WHERE tenant = 'a'`).Scan(&n); err != nil {
			b.Fatal(err)
		}
		b.Logf("stored %d alerts in %s", n, time.Since(start).Round(time.Millisecond))
	}
	var incID string
	if err := db.QueryRow(ctx, `SELECT incident_id FROM case_alerts WHERE tenant = 'a' AND incident_id <> '' LIMIT 1`).Scan(&incID); err != nil {
		b.Fatal(err)
	}

	ids := identities{"admin-a": {Subject: "token:admin-a", Tenant: "a", Role: api.RoleAdmin, Method: api.AuthToken}}
	s := api.New(api.Deps{Auth: ids, Store: &fakeEvents{}, Log: log})
	s.Mount(api.CasesRoutes(cs)...)
	svc, err := New(Options{Events: &fakeEvents{}, Cases: cs, API: s, Now: clock, Log: log,
		Users: auth.NewUsers(db, auth.UsersOptions{Now: clock, Log: log, FastHashing: true}), Tokens: auth.NewTokenStore(db, clock)})
	if err != nil {
		b.Fatal(err)
	}
	s.MountPages(svc.Routes()...)
	b.Logf("%d alerts stored; incident %s", n, incID)
	for _, pg := range []string{"/console/overview", "/console/overview/trends", "/console/overview/trends#uncached", "/console/alerts", "/console/alerts?group=host", "/console/alerts?severity=high",
		"/console/incidents", "/console/incidents/" + incID, "/console/hunt?q=alice", "/console/settings/users"} {
		uncached := strings.HasSuffix(pg, "#uncached")
		b.Run(strings.TrimPrefix(pg, "/console/"), func(b *testing.B) {
			// One request first, so that caches (the trend chart, SQLite's
			// pages) are as in a console that is in use.
			warm := httptest.NewRequest("GET", strings.TrimSuffix(pg, "#uncached"), nil)
			warm.Header.Set("Authorization", "Bearer admin-a")
			s.ServeHTTP(httptest.NewRecorder(), warm)
			for b.Loop() {
				if uncached {
					// The MTTA / MTTR chart is cached per tenant for
					// trendTTL; this times computing it.
					svc.trends.mu.Lock()
					svc.trends.m = nil
					svc.trends.mu.Unlock()
				}
				req := httptest.NewRequest("GET", strings.TrimSuffix(pg, "#uncached"), nil)
				req.Header.Set("Authorization", "Bearer admin-a")
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d %.300s", pg, rec.Code, rec.Body.String())
				}
			}
		})
	}
}

// seedAlerts raises 1,024 alerts over 64 rules and 200 hosts, then
// doubles the alert table ten times under new ids.
func seedAlerts(ctx context.Context, db *store.DB, cs *cases.Service) error {
	sevs := []cases.Severity{cases.SevCritical, cases.SevHigh, cases.SevMedium, cases.SevLow, cases.SevInformational}
	var ins []cases.AlertInput
	for i := range 1024 {
		ins = append(ins, cases.AlertInput{Source: "bench", RuleID: fmt.Sprintf("rule-%d", i%64), RuleTitle: fmt.Sprintf("Rule %d", i%64),
			Severity: sevs[i%len(sevs)], Entities: []cases.Entity{{Kind: "host", Value: fmt.Sprintf("web-%d", i%200)},
				{Kind: "user", Value: fmt.Sprintf("user-%d", i%50)}}})
	}
	for i := 0; i < len(ins); i += 128 {
		if _, err := cs.RaiseAlerts(ctx, "a", ins[i:i+128]); err != nil {
			return fmt.Errorf("raise alerts: %w", err)
		}
	}
	for round := range 10 {
		for _, q := range []string{
			`DROP TABLE IF EXISTS temp.bench_copy`,
			`CREATE TEMP TABLE bench_copy AS SELECT * FROM case_alerts WHERE tenant = 'a'`,
			fmt.Sprintf(`UPDATE temp.bench_copy SET id = id || '-%d'`, round),
			`INSERT INTO case_alerts SELECT * FROM temp.bench_copy`,
			`DROP TABLE temp.bench_copy`,
		} {
			if _, err := db.Exec(ctx, q); err != nil {
				return fmt.Errorf("copy alerts (round %d): %w", round, err)
			}
		}
	}
	return nil
}

// TestScriptsShippedGzipped reports the JavaScript a browser downloads,
// gzipped, and holds it under 500 KB.
func TestScriptsShippedGzipped(t *testing.T) {
	svc, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !svc.Bundled() {
		t.Skip("console bundle not built (make web)")
	}
	var raw, zipped int
	for name, a := range svc.assets {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = io.Copy(zw, bytes.NewReader(a.body))
		_ = zw.Close()
		raw += len(a.body)
		zipped += buf.Len()
		t.Logf("%s: %d bytes, %d gzipped", name, len(a.body), buf.Len())
	}
	t.Logf("JavaScript shipped: %d bytes, %d gzipped", raw, zipped)
	if zipped >= 500<<10 {
		t.Errorf("JavaScript shipped is %d bytes gzipped, over the 500 KB budget", zipped)
	}
}
