package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esutil"
)

// TestESBulkIndexer drives the official Go Elasticsearch client's
// esutil.BulkIndexer against the _bulk endpoint of a real `wacht serve`
// (API key = a wacht token) and checks that every document it reports as
// indexed is searchable exactly once. It runs in `make test` (a few seconds);
// WACHT_BENCH_BULK_DOCS sets the count (default 5,000).
func TestESBulkIndexer(t *testing.T) {
	n := envInt("WACHT_BENCH_BULK_DOCS", 5000)
	s := startWacht(t, t.TempDir())
	es, err := elasticsearch.NewClient(elasticsearch.Config{
		Addresses: []string{s.URL},
		APIKey:    s.Token,
	})
	if err != nil {
		t.Fatalf("elasticsearch client: %v", err)
	}
	var failures atomic.Int64
	bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{
		Client:     es,
		Index:      "logs-bench-default",
		NumWorkers: 2,
		FlushBytes: 256 << 10,
		OnError: func(_ context.Context, err error) {
			failures.Add(1)
			t.Errorf("bulk indexer: %v", err)
		},
	})
	if err != nil {
		t.Fatalf("bulk indexer: %v", err)
	}
	run := fmt.Sprintf("run%x", time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	var ok atomic.Int64
	for i := 0; i < n; i++ {
		doc, _ := json.Marshal(map[string]any{
			"@timestamp": time.Now().UTC().Format(time.RFC3339Nano),
			"message":    fmt.Sprintf("bulk document %d of %s", i, run),
			"bench_run":  run,
			"bench_seq":  i,
			"host":       map[string]any{"name": "bench-" + strconv.Itoa(i%7)},
		})
		err := bi.Add(ctx, esutil.BulkIndexerItem{
			Action: "create",
			Body:   bytes.NewReader(doc),
			OnSuccess: func(context.Context, esutil.BulkIndexerItem, esutil.BulkIndexerResponseItem) {
				ok.Add(1)
			},
			OnFailure: func(_ context.Context, _ esutil.BulkIndexerItem, res esutil.BulkIndexerResponseItem, err error) {
				failures.Add(1)
				if err != nil {
					t.Errorf("document %d: %v", i, err)
				} else {
					t.Errorf("document %d: %d %s: %s", i, res.Status, res.Error.Type, res.Error.Reason)
				}
			},
		})
		if err != nil {
			t.Fatalf("add document %d: %v", i, err)
		}
	}
	if err := bi.Close(ctx); err != nil {
		t.Fatalf("close bulk indexer: %v", err)
	}
	st := bi.Stats()
	if ok.Load() != int64(n) || failures.Load() != 0 || st.NumFailed != 0 || st.NumIndexed+st.NumCreated != uint64(n) {
		t.Fatalf("OnSuccess %d, failures %d, stats %+v; want %d successes and no failure", ok.Load(), failures.Load(), st, n)
	}

	// Every acknowledged document is searchable, exactly once.
	if _, err := waitCount(ctx, n, 30*time.Second, func(ctx context.Context) (int, error) {
		return s.count(ctx, "bench_run:"+run)
	}); err != nil {
		t.Fatalf("search: %v", err)
	}
	v := url.Values{"q": {"bench_run:" + run + " | fields bench_seq"}, "start": {"1h"}, "limit": {"0"}}
	body, err := getBody(ctx, s.URL+"/api/v1/events/search?"+v.Encode(), "Bearer "+s.Token)
	if err != nil {
		t.Fatalf("search: %v", err)
	}
	seen := make([]int, n)
	sc := bufio.NewScanner(bytes.NewReader(body))
	rows := 0
	for sc.Scan() {
		var row map[string]string
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("search row %q: %v", sc.Text(), err)
		}
		i, err := strconv.Atoi(strings.TrimSpace(row["bench_seq"]))
		if err != nil || i < 0 || i >= n {
			t.Fatalf("search row %q: bad bench_seq", sc.Text())
		}
		seen[i]++
		rows++
	}
	for i, c := range seen {
		if c != 1 {
			t.Errorf("document %d found %d times", i, c)
		}
	}
	if rows != n {
		t.Errorf("search returned %d rows, want %d", rows, n)
	}
}
