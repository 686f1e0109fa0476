package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// synthLine appends synthetic event i of n (a web/auth log line in JSON,
// about 250 bytes) to buf. Event times spread evenly over the 20 hours before
// base. Ten events carry the rare term needle, in the message and as user.
func synthLine(buf []byte, i, n int, base time.Time, needle string) []byte {
	actions := [...]string{"login", "logout", "GET /index.html", "POST /api/v2/orders", "GET /static/app.js", "password change", "GET /health"}
	ts := base.Add(-20 * time.Hour).Add(time.Duration(int64(20*time.Hour) / int64(n) * int64(i)))
	user := "u" + strconv.Itoa(i%5000)
	msg := "user " + user + " " + actions[i%len(actions)] + " from 10." + strconv.Itoa(i%256) + "." + strconv.Itoa((i/256)%256) + "." + strconv.Itoa(1+i%254)
	stride := max(n/10, 1)
	if i%stride == stride/2 {
		user = needle
		msg = "user " + needle + " suspicious token replay from 203.0.113.7"
	}
	buf = append(buf, `{"@timestamp":"`...)
	buf = ts.AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, `","host":"web-`...)
	buf = strconv.AppendInt(buf, int64(i%97), 10)
	buf = append(buf, `.corp.example.org","service":"shop","user":"`...)
	buf = append(buf, user...)
	buf = append(buf, `","status":`...)
	buf = strconv.AppendInt(buf, int64(200+(i%7)*50), 10)
	buf = append(buf, `,"bytes":`...)
	buf = strconv.AppendInt(buf, int64((i*7919)%100000), 10)
	buf = append(buf, `,"session":"s`...)
	buf = strconv.AppendInt(buf, int64(i/17), 36)
	buf = append(buf, `","message":"`...)
	buf = append(buf, msg...)
	buf = append(buf, "\"}\n"...)
	return buf
}

// sendGenerated posts n generated events in requests of batch lines with
// `clients` concurrent senders; each sender builds its own bodies.
func sendGenerated(ctx context.Context, n, batch, clients int, u, auth string, line func([]byte, int) []byte, progress func(done int)) error {
	nb := (n + batch - 1) / batch
	work := make(chan int)
	errc := make(chan error, clients)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done int
	)
	for range clients {
		wg.Go(func() {
			var buf []byte
			for k := range work {
				buf = buf[:0]
				for i := k * batch; i < min((k+1)*batch, n); i++ {
					buf = line(buf, i)
				}
				if err := post(ctx, u, auth, "application/x-ndjson", buf); err != nil {
					errc <- err
					cancel()
					return
				}
				mu.Lock()
				done += min((k+1)*batch, n) - k*batch
				d := done
				mu.Unlock()
				progress(d)
			}
		})
	}
	go func() {
		defer close(work)
		for k := range nb {
			select {
			case work <- k:
			case <-ctx.Done():
				return
			}
		}
	}()
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// BenchmarkTermQuery10M stores WACHT_BENCH_QUERY_EVENTS synthetic events
// (default 10,000,000) in `wacht serve` through POST /api/v1/ingest in
// requests of 5,000 lines, waits until all are searchable, then times the
// call `wacht hunt` makes (GET /api/v1/events/search, start=24h ago,
// limit=100) for a rare term that ten events hold: once right after ingest
// (first), then WACHT_BENCH_QUERY_REPEAT more times (median and max). The
// term is searched as a bare word (message) and as a field (user:…).
func BenchmarkTermQuery10M(b *testing.B) {
	n := envInt("WACHT_BENCH_QUERY_EVENTS", 10_000_000)
	repeat := envInt("WACHT_BENCH_QUERY_REPEAT", 5)
	clients := envInt("WACHT_BENCH_CLIENTS", 4)
	ctx := context.Background()
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		s := startWacht(b, b.TempDir())
		needle := fmt.Sprintf("zq%x", time.Now().UnixNano())
		base := time.Now().UTC()
		start := time.Now()
		lastLog := start
		var logMu sync.Mutex
		err := sendGenerated(ctx, n, 5000, clients, s.URL+"/api/v1/ingest?format=json", "Bearer "+s.Token,
			func(buf []byte, i int) []byte { return synthLine(buf, i, n, base, needle) },
			func(done int) {
				logMu.Lock()
				defer logMu.Unlock()
				if time.Since(lastLog) > 30*time.Second {
					lastLog = time.Now()
					b.Logf("  %d of %d events acknowledged (%.0f ev/s)", done, n, float64(done)/time.Since(start).Seconds())
				}
			})
		if err != nil {
			b.Fatalf("ingest: %v\n%s", err, s.p.tail())
		}
		acked := time.Since(start)
		got, err := waitCount(ctx, n, 30*time.Minute, func(ctx context.Context) (int, error) { return s.count(ctx, "*") })
		if err != nil {
			b.Fatalf("wacht: %v", err)
		}
		searchable := time.Since(start)
		b.Logf("%d events acknowledged in %.1fs (%.0f ev/s), all %d searchable after %.1fs (%.0f ev/s)",
			n, acked.Seconds(), float64(n)/acked.Seconds(), got, searchable.Seconds(), float64(n)/searchable.Seconds())
		want := min(n, 10)
		for _, q := range []string{needle, "user:" + needle} {
			var times []time.Duration
			for r := 0; r <= repeat; r++ {
				d, rows, err := timeSearch(ctx, s, q)
				if err != nil {
					b.Fatalf("search %q: %v", q, err)
				}
				if rows != want {
					b.Errorf("search %q: %d rows, want %d", q, rows, want)
				}
				times = append(times, d)
			}
			first := times[0]
			rest := slices.Clone(times[1:])
			slices.Sort(rest)
			med, worst := first, first
			if len(rest) > 0 {
				med, worst = rest[len(rest)/2], rest[len(rest)-1]
			}
			b.Logf("query %-40q over %d events: first %v, then median %v, max %v (%d runs)", q, got, first.Round(time.Millisecond), med.Round(time.Millisecond), worst.Round(time.Millisecond), len(rest))
			name := "word"
			if q != needle {
				name = "field"
			}
			b.ReportMetric(float64(first.Microseconds())/1000, name+"-first-ms")
			b.ReportMetric(float64(med.Microseconds())/1000, name+"-median-ms")
		}
		if st, err := s.status(ctx); err == nil {
			b.Logf("status store: %v", st["store"])
		}
		b.ReportMetric(float64(n)/acked.Seconds(), "acked-ev/s")
		b.ReportMetric(float64(got), "stored-events")
		if err := s.p.stop(time.Minute); err != nil {
			b.Error(err)
		}
	}
}

// timeSearch runs the search `wacht hunt QUERY` runs and counts the rows.
func timeSearch(ctx context.Context, s *wachtServer, q string) (time.Duration, int, error) {
	v := url.Values{"q": {q}, "start": {"24h"}, "limit": {"100"}}
	t0 := time.Now()
	body, err := getBody(ctx, s.URL+"/api/v1/events/search?"+v.Encode(), "Bearer "+s.Token)
	d := time.Since(t0)
	if err != nil {
		return d, 0, err
	}
	return d, bytes.Count(body, []byte("\n")), nil
}
