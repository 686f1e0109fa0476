// Package vlremote is the event store for scaled-out installations: a
// VictoriaLogs server or cluster reached over its HTTP API (jsonline
// insert, LogsQL select). It passes the same contract suite as the
// embedded store.
//
// Tenants map to VictoriaLogs account ids by a stable hash of the tenant
// name (the default tenant is account 0), so that every wacht node agrees
// without coordination.
package vlremote

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/VictoriaLogs/lib/logstorage"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/eventstore"
)

// Config configures the remote store.
type Config struct {
	// URL of VictoriaLogs (single node) or of vlinsert/vlselect behind one
	// address, e.g. http://vlogs:9428.
	URL string
	// InsertURL and SelectURL override URL for clusters that split them.
	InsertURL, SelectURL string
	// Retention is the server's retention (events older are not sent).
	Retention time.Duration
	// DurableAfter is how long the server needs to have written events to
	// disk (its -inmemoryDataFlushInterval plus margin; default 12s).
	DurableAfter time.Duration
	// KeepOriginal stores event.original for every event.
	KeepOriginal bool
	// Client is the HTTP client (default: 60s timeout).
	Client *http.Client
}

// Store talks to a VictoriaLogs server.
type Store struct {
	cfg Config
	log *slog.Logger
	hc  *http.Client

	mu            sync.Mutex
	rows          uint64
	droppedOld    uint64
	droppedFuture uint64
}

// Open checks the server answers and returns a store.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Store, error) {
	if cfg.URL == "" && (cfg.InsertURL == "" || cfg.SelectURL == "") {
		return nil, errors.New("remote event store: no URL")
	}
	if cfg.InsertURL == "" {
		cfg.InsertURL = cfg.URL
	}
	if cfg.SelectURL == "" {
		cfg.SelectURL = cfg.URL
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 90 * 24 * time.Hour
	}
	if cfg.DurableAfter <= 0 {
		cfg.DurableAfter = 12 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 60 * time.Second}
	}
	st := &Store{cfg: cfg, log: log, hc: cfg.Client}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(cfg.SelectURL, "/")+"/health", nil)
	resp, err := st.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reach VictoriaLogs at %s: %w", cfg.SelectURL, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("VictoriaLogs at %s answered /health with %s", cfg.SelectURL, resp.Status)
	}
	return st, nil
}

// AccountID is the VictoriaLogs account of a tenant.
func AccountID(tenant string) uint32 {
	if tenant == "" || tenant == event.DefaultTenant {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(tenant))
	// Never 0: that is the default tenant's.
	return h.Sum32()%0xfffffffe + 1
}

func (st *Store) do(ctx context.Context, method, base, path string, q url.Values, tenant string, body io.Reader) (*http.Response, error) {
	u := strings.TrimRight(base, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("AccountID", strconv.FormatUint(uint64(AccountID(tenant)), 10))
	req.Header.Set("ProjectID", "0")
	resp, err := st.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		msg := strings.TrimSpace(string(b))
		if resp.StatusCode == http.StatusBadRequest {
			return nil, fmt.Errorf("%w: %s", eventstore.ErrBadQuery, msg)
		}
		return nil, fmt.Errorf("VictoriaLogs %s %s: %s: %s", method, path, resp.Status, msg)
	}
	return resp, nil
}

// Write implements eventstore.EventStore: one jsonline request per tenant.
func (st *Store) Write(ctx context.Context, events []*event.Event) (eventstore.WriteResult, error) {
	res := eventstore.WriteResult{}
	now := time.Now()
	minT, maxT := now.Add(-st.cfg.Retention).Add(time.Hour), now.Add(47*time.Hour)
	byTenant := map[string]*bytes.Buffer{}
	for _, e := range events {
		switch {
		case e.Time.Before(minT):
			drop(&res, "older_than_retention")
			continue
		case e.Time.After(maxT):
			drop(&res, "too_far_in_future")
			continue
		}
		b := byTenant[e.Tenant]
		if b == nil {
			b = &bytes.Buffer{}
			byTenant[e.Tenant] = b
		}
		line := e.AppendStoreJSON(nil, st.cfg.KeepOriginal || len(e.Errors) > 0)
		b.Write(line)
		b.WriteByte('\n')
		res.Written++
	}
	q := url.Values{
		"_stream_fields": {strings.Join(eventstore.StreamFields(), ",")},
		"_time_field":    {"_time"},
		"_msg_field":     {"_msg"},
	}
	for tenant, b := range byTenant {
		resp, err := st.do(ctx, http.MethodPost, st.cfg.InsertURL, "/insert/jsonline", q, tenant, b)
		if err != nil {
			return res, fmt.Errorf("insert into VictoriaLogs: %w", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	st.mu.Lock()
	st.rows += uint64(res.Written)
	st.droppedOld += uint64(res.Dropped["older_than_retention"])
	st.droppedFuture += uint64(res.Dropped["too_far_in_future"])
	st.mu.Unlock()
	return res, nil
}

func drop(r *eventstore.WriteResult, reason string) {
	if r.Dropped == nil {
		r.Dropped = map[string]int{}
	}
	r.Dropped[reason]++
}

// Flush implements eventstore.EventStore through /internal/force_flush.
func (st *Store) Flush(ctx context.Context) error {
	resp, err := st.do(ctx, http.MethodGet, st.cfg.InsertURL, "/internal/force_flush", nil, "", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// DurableAfter implements eventstore.EventStore.
func (st *Store) DurableAfter() time.Duration { return st.cfg.DurableAfter }

// Query implements eventstore.EventStore.
func (st *Store) Query(ctx context.Context, q eventstore.Query, fn func(eventstore.Row) error) error {
	qs := strings.TrimSpace(q.LogsQL)
	if qs == "" {
		qs = "*"
	}
	qs = eventstore.RewriteIDFilters(qs)
	// Rows of a query without pipes are whole events: give them their ids.
	whole := !strings.Contains(qs, "|")
	if whole && !q.Unordered {
		qs += " | sort by (_time desc)"
	}
	if strings.Contains(qs, "fields") || strings.Contains(qs, "keep") {
		// Fields pipes keep the exact text of what they keep; a query
		// this engine version cannot read goes to the server as it is.
		if pq, err := logstorage.ParseQuery(qs); err == nil {
			if canon := pq.String(); eventstore.KeepExactText(canon) != canon {
				qs = eventstore.KeepExactText(canon)
			}
		}
	}
	v := url.Values{"query": {qs}}
	if !q.Start.IsZero() {
		v.Set("start", q.Start.UTC().Format(time.RFC3339Nano))
	}
	if !q.End.IsZero() {
		v.Set("end", q.End.UTC().Format(time.RFC3339Nano))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	resp, err := st.do(ctx, http.MethodPost, st.cfg.SelectURL, "/select/logsql/query", v, q.Tenant, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var obj map[string]any
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil {
			return fmt.Errorf("read VictoriaLogs result: %w", err)
		}
		row := make(eventstore.Row, 0, len(obj))
		for k, val := range obj {
			s := fmt.Sprint(val)
			if s != "" {
				row = append(row, eventstore.Field{Name: k, Value: s})
			}
		}
		row = eventstore.RestoreExact(row)
		if whole {
			row = eventstore.WithID(row)
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	return sc.Err()
}

// Existing implements eventstore.EventStore.
func (st *Store) Existing(ctx context.Context, tenant string, ids []string, start, end time.Time) (map[string]bool, error) {
	return eventstore.ExistingIDs(ctx, st.Query, tenant, ids, start, end)
}

// Stats implements eventstore.EventStore with what this node wrote; the
// server's own totals are in its /metrics.
func (st *Store) Stats() eventstore.Stats {
	st.mu.Lock()
	defer st.mu.Unlock()
	return eventstore.Stats{Rows: st.rows, DroppedOld: st.droppedOld, DroppedFuture: st.droppedFuture}
}

// Close implements eventstore.EventStore.
func (st *Store) Close() error { return nil }

var _ eventstore.EventStore = (*Store)(nil)
