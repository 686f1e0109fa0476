package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"
)

// BenchmarkIngestWithIndicators is the intel issue's ingest figure: the
// OTRF Windows events through `wacht serve` (HTTP → journal → store, with
// every module running) once with no indicators and once with 1,000,000
// indicators loaded (500k IPv4 addresses, 500k domains, imported through
// the API), reporting events/s until acknowledged and until searchable
// (indicator matching runs on each stored batch) and the slowdown.
//
//	cd bench && go test -run '^$' -bench IngestWithIndicators -benchtime 1x .
//
// WACHT_BENCH_EVENTS limits the events (default 150,000);
// WACHT_BENCH_INDICATORS the indicators.
func BenchmarkIngestWithIndicators(b *testing.B) {
	events := loadOTRF(b, envInt("WACHT_BENCH_EVENTS", 150000))
	bodies := batchBodies(events, 2000, 1<<20)
	nInd := envInt("WACHT_BENCH_INDICATORS", 1_000_000)
	buildWacht(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		without := runIntelIngest(b, bodies, len(events), 0)
		with := runIntelIngest(b, bodies, len(events), nInd)
		for _, r := range []sideResult{without, with} {
			b.Logf("%-16s %d events: acked %7.0f ev/s, searchable %7.0f ev/s %s", r.name, r.events, r.ackRate(), r.searchableRate(), r.extraReport)
		}
		b.Logf("slowdown with %d indicators: acked %.1f %%, searchable %.1f %% (target ≤ 10 %%)", nInd,
			100*(1-with.ackRate()/without.ackRate()), 100*(1-with.searchableRate()/without.searchableRate()))
		b.ReportMetric(without.ackRate(), "acked-ev/s-0")
		b.ReportMetric(with.ackRate(), "acked-ev/s-1M")
		b.ReportMetric(without.searchableRate(), "searchable-ev/s-0")
		b.ReportMetric(with.searchableRate(), "searchable-ev/s-1M")
		b.ReportMetric(100*(1-with.searchableRate()/without.searchableRate()), "searchable-slowdown-%")
	}
}

func runIntelIngest(b *testing.B, bodies [][]byte, n, indicators int) sideResult {
	ctx := context.Background()
	s := startWacht(b, b.TempDir(), "WACHT_STORE_RETENTION=36500d")
	defer s.p.stop(time.Minute)
	r := sideResult{name: fmt.Sprintf("%d indicators", indicators), events: n}
	if indicators > 0 {
		start := time.Now()
		var buf bytes.Buffer
		for i := range indicators {
			if i%2 == 0 {
				fmt.Fprintf(&buf, "%d.%d.%d.%d\n", 100+(i>>24)&63, (i>>16)&255, (i>>8)&255, i&255)
			} else {
				fmt.Fprintf(&buf, "bad-%d.example.net\n", i)
			}
		}
		u := s.URL + "/api/v1/intel/import?" + url.Values{"format": {"plain"}, "source": {"bench"}}.Encode()
		if err := post(ctx, u, "Bearer "+s.Token, "text/plain", buf.Bytes()); err != nil {
			b.Fatalf("import indicators: %v\n%s", err, s.p.tail())
		}
		// Matching uses the index: wait until it holds them.
		if _, err := waitCount(ctx, indicators, 5*time.Minute, func(ctx context.Context) (int, error) {
			body, err := getBody(ctx, s.URL+"/api/v1/intel/stats", "Bearer "+s.Token)
			if err != nil {
				return 0, err
			}
			var st struct {
				Index struct {
					Indicators int `json:"indicators"`
				} `json:"index"`
			}
			if err := json.Unmarshal(body, &st); err != nil {
				return 0, err
			}
			return st.Index.Indicators, nil
		}); err != nil {
			b.Fatalf("indicator index: %v", err)
		}
		r.extraReport = fmt.Sprintf("(imported and indexed %d indicators in %.1fs)", indicators, time.Since(start).Seconds())
	}
	u := s.URL + "/api/v1/ingest?" + url.Values{"format": {"winlog"}}.Encode()
	start := time.Now()
	if err := sendAll(ctx, bodies, 4, u, "Bearer "+s.Token, "application/x-ndjson"); err != nil {
		b.Fatalf("ingest: %v\n%s", err, s.p.tail())
	}
	r.acked = time.Since(start)
	if _, err := waitCount(ctx, n, 5*time.Minute, func(ctx context.Context) (int, error) { return s.count(ctx, "*") }); err != nil {
		b.Fatal(err)
	}
	r.searchable = time.Since(start)
	if body, err := getBody(ctx, s.URL+"/api/v1/intel/stats", "Bearer "+s.Token); err == nil {
		r.extraReport += " intel stats " + string(bytes.TrimSpace(body))
	}
	return r
}
