// Package vlstore is the embedded event store: VictoriaLogs' storage engine
// (lib/logstorage) running inside the wacht process.
//
// The engine has habits that this adapter contains so that nothing else in
// wacht needs to know them: it panics unless the standard flag package was
// parsed, registers its own flags on the global flag set, sizes its caches
// from a share of machine memory, logs through its own logger and exits the
// process on disk errors. Open parses the global flag set once with nothing
// but our settings (the memory limit from our configuration), wacht's own
// command line never touches that flag set, and the engine's state is
// exported through Stats for /metrics and /readyz.
package vlstore

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/VictoriaLogs/lib/logstorage"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/eventstore"
)

// Config configures the embedded store.
type Config struct {
	// Path is the storage directory.
	Path string
	// Retention drops partitions older than this (at least one day).
	Retention time.Duration
	// MaxDiskBytes drops the oldest partitions once the store is larger
	// (0: no size limit).
	MaxDiskBytes int64
	// MemoryBytes bounds the engine's caches.
	MemoryBytes int64
	// FlushInterval is how often buffered rows reach disk (at least 1s).
	FlushInterval time.Duration
	// KeepOriginal stores event.original for every event, not only for those
	// with parse errors.
	KeepOriginal bool
	// TenantRetention keeps named tenants' events for less than Retention.
	TenantRetention map[string]time.Duration
	// CompactAfterIdle merges the parts of older day partitions written
	// since the last compaction once no event was written for this long
	// (0: never; see compact.go).
	CompactAfterIdle time.Duration
	// CompactMaxBytes leaves partitions larger than this to the engine's
	// own merging (0: no limit).
	CompactMaxBytes int64
}

// Store is the embedded event store.
type Store struct {
	cfg     Config
	log     *slog.Logger
	s       *logstorage.Storage
	tenants *tenantMap

	writeMu sync.Mutex
	writers [4]writer

	dirty       dirtyDays
	stopCompact chan struct{}
	compactDone chan struct{}

	mu            sync.Mutex
	droppedOld    uint64
	droppedFuture uint64
	compactions   uint64
}

var initOnce sync.Once
var initErr error

// initEngine gives the engine the parsed flag set it insists on, with our
// memory limit and its logging turned down to errors.
func initEngine(memBytes int64) error {
	initOnce.Do(func() {
		set := func(name, value string) {
			if f := flag.Lookup(name); f != nil {
				if err := f.Value.Set(value); err != nil && initErr == nil {
					initErr = fmt.Errorf("set engine option %s: %w", name, err)
				}
			}
		}
		if memBytes > 0 {
			set("memory.allowedBytes", strconv.FormatInt(memBytes, 10))
		}
		set("loggerLevel", "ERROR")
		if !flag.Parsed() {
			// Parse an empty argument list: the engine only checks that
			// parsing happened; wacht's own flags live in cobra.
			_ = flag.CommandLine.Parse(nil)
		}
	})
	return initErr
}

// Open opens or creates the store.
func Open(cfg Config, log *slog.Logger) (*Store, error) {
	if cfg.Path == "" {
		return nil, errors.New("open event store: no path")
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 90 * 24 * time.Hour
	}
	if cfg.Retention < 24*time.Hour {
		return nil, fmt.Errorf("open event store: retention %s is shorter than one day", cfg.Retention)
	}
	if cfg.FlushInterval < time.Second {
		cfg.FlushInterval = time.Second
	}
	if err := initEngine(cfg.MemoryBytes); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Path, 0o750); err != nil {
		return nil, fmt.Errorf("open event store %s: %w", cfg.Path, err)
	}
	tm, err := openTenantMap(filepath.Join(cfg.Path, "tenants.json"))
	if err != nil {
		return nil, err
	}
	s := logstorage.MustOpenStorage(filepath.Join(cfg.Path, "data"), &logstorage.StorageConfig{
		Retention:              cfg.Retention,
		MaxDiskSpaceUsageBytes: cfg.MaxDiskBytes,
		FlushInterval:          cfg.FlushInterval,
		FutureRetention:        48 * time.Hour,
		MinFreeDiskSpaceBytes:  10 << 20,
	})
	st := &Store{cfg: cfg, log: log, s: s, tenants: tm}
	if cfg.CompactAfterIdle > 0 {
		st.stopCompact, st.compactDone = make(chan struct{}), make(chan struct{})
		go st.compactLoop(st.stopCompact, st.compactDone)
	}
	return st, nil
}

// Write implements eventstore.EventStore.
func (st *Store) Write(ctx context.Context, events []*event.Event) (eventstore.WriteResult, error) {
	return st.WriteParallel(ctx, events, 1)
}

// WriteParallel implements eventstore.ParallelWriter: a large batch is
// split among up to n goroutines (the engine takes rows from several
// writers at once).
func (st *Store) WriteParallel(_ context.Context, events []*event.Event, n int) (eventstore.WriteResult, error) {
	if st.s.IsReadOnly() {
		return eventstore.WriteResult{}, errors.New("event store is read-only: disk nearly full")
	}
	st.writeMu.Lock()
	defer st.writeMu.Unlock()
	now := time.Now()
	parts := max(1, min(n, len(st.writers), len(events)/minEventsPerWriter))
	results := make([]eventstore.WriteResult, parts)
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for i := range parts {
		lo, hi := i*len(events)/parts, (i+1)*len(events)/parts
		wg.Go(func() { results[i], errs[i] = st.writeRows(&st.writers[i], events[lo:hi], now) })
	}
	wg.Wait()
	res := eventstore.WriteResult{}
	for i, r := range results {
		res.Written += r.Written
		for k, n := range r.Dropped {
			dropEvent(&res, k, n)
		}
		for k, n := range r.Shortened {
			if res.Shortened == nil {
				res.Shortened = map[string]int{}
			}
			res.Shortened[k] += n
		}
		if errs[i] != nil {
			return res, errs[i]
		}
	}
	if len(res.Dropped) > 0 {
		st.mu.Lock()
		st.droppedOld += uint64(res.Dropped["older_than_retention"])
		st.droppedFuture += uint64(res.Dropped["too_far_in_future"])
		st.mu.Unlock()
	}
	return res, nil
}

// minEventsPerWriter is the least a parallel writer is given.
const minEventsPerWriter = 1000

// writer is one parallel writer's row buffer, reused write after write: a
// pooled one is often fresh after a garbage collection and then regrows its
// arena batch after batch.
type writer struct {
	lr     *logstorage.LogRows
	fields []logstorage.Field
}

// writeRows adds events to the engine through w.
func (st *Store) writeRows(w *writer, events []*event.Event, now time.Time) (eventstore.WriteResult, error) {
	res := eventstore.WriteResult{}
	if w.lr == nil {
		w.lr = logstorage.GetLogRows(eventstore.StreamFields(), nil, nil, nil, "")
	}
	lr := w.lr
	defer lr.ResetKeepSettings()
	minTime := now.Add(-st.cfg.Retention).Add(time.Hour) // margin: partitions are days
	maxTime := now.Add(47 * time.Hour)
	fields := w.fields[:0]
	defer func() { w.fields = fields[:0] }()
	days, lastDay := map[int64]bool{}, int64(math.MinInt64)
	for _, e := range events {
		if e.Time.Before(minTime) {
			dropEvent(&res, "older_than_retention", 1)
			continue
		}
		if e.Time.After(maxTime) {
			dropEvent(&res, "too_far_in_future", 1)
			continue
		}
		tid, err := st.tenants.id(e.Tenant)
		if err != nil {
			return res, err
		}
		fields = appendFields(fields[:0], e, st.cfg.KeepOriginal)
		var why string
		if fields, why = fit(fields); why != "" {
			if res.Shortened == nil {
				res.Shortened = map[string]int{}
			}
			res.Shortened[why]++
		}
		lr.MustAdd(tid, e.Time.UnixNano(), fields, -1)
		res.Written++
		if day := e.Time.Unix() / 86400; day != lastDay {
			days[day], lastDay = true, day
		}
	}
	st.s.MustAddRows(lr)
	if st.stopCompact != nil && len(days) > 0 {
		st.dirty.mark(days, now)
	}
	return res, nil
}

func dropEvent(r *eventstore.WriteResult, reason string, n int) {
	if r.Dropped == nil {
		r.Dropped = map[string]int{}
	}
	r.Dropped[reason] += n
}

// appendFields turns an event into engine fields: _msg, the reserved
// fields (the id without its time part, which is _time: see
// eventstore.RowID), then the event's own fields. _time is passed
// separately.
func appendFields(dst []logstorage.Field, e *event.Event, keepOriginal bool) []logstorage.Field {
	dst = append(dst, logstorage.Field{Name: "_msg", Value: e.Message})
	for _, r := range e.ReservedFields() {
		if r.Name == event.FieldID {
			if part := event.IDHashPart(r.Value); part != "" {
				r.Value = part
			}
		}
		dst = append(dst, logstorage.Field{Name: r.Name, Value: r.Value})
	}
	for _, f := range e.Fields {
		if f.Value.IsNull() {
			continue
		}
		name, v := event.StoreName(f.Name), f.Value.String()
		dst = append(dst, logstorage.Field{Name: name, Value: v})
		if event.NumberTextChanges(v) {
			dst = append(dst, logstorage.Field{Name: event.ExactName(name), Value: event.ExactMark + v})
		}
	}
	if len(e.Raw) > 0 && (keepOriginal || len(e.Errors) > 0) {
		dst = append(dst, logstorage.Field{Name: event.FieldRaw, Value: string(e.Raw)})
	}
	return dst
}

// Flush implements eventstore.EventStore.
func (st *Store) Flush(context.Context) error {
	st.s.DebugFlush()
	return nil
}

// DurableAfter implements eventstore.EventStore: the engine writes buffered
// rows to files within two flush intervals.
func (st *Store) DurableAfter() time.Duration {
	return 2*st.cfg.FlushInterval + time.Second
}

// Query implements eventstore.EventStore.
func (st *Store) Query(ctx context.Context, q eventstore.Query, fn func(eventstore.Row) error) error {
	tid, ok := st.tenants.lookup(q.Tenant)
	if !ok {
		return nil // a tenant that never stored anything has no events
	}
	qs := strings.TrimSpace(q.LogsQL)
	if qs == "" {
		qs = "*"
	}
	qs = eventstore.RewriteIDFilters(qs)
	// Rows of a query without pipes are whole events: give them their ids.
	whole := !strings.Contains(qs, "|")
	pq, err := logstorage.ParseQuery(qs)
	if err != nil {
		return fmt.Errorf("%w: %v", eventstore.ErrBadQuery, err)
	}
	if canon := pq.String(); strings.Contains(canon, "| fields ") {
		if kept := eventstore.KeepExactText(canon); kept != canon {
			if pq, err = logstorage.ParseQuery(kept); err != nil {
				return fmt.Errorf("keep exact text in %q: %w", kept, err)
			}
		}
	}
	start, end := int64(math.MinInt64), int64(math.MaxInt64)
	if !q.Start.IsZero() {
		start = q.Start.UnixNano()
	}
	if !q.End.IsZero() {
		end = q.End.UnixNano()
	}
	pq.AddTimeFilter(start, end)
	if whole && !q.Unordered {
		pq.AddPipeSortByTimeDesc()
	}
	if q.Limit > 0 {
		pq.AddPipeOffsetLimit(0, uint64(q.Limit))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu     sync.Mutex
		cbErr  error
		qstats logstorage.QueryStats
	)
	qctx := logstorage.NewQueryContext(ctx, &qstats, []logstorage.TenantID{tid}, pq, false, nil)
	err = st.s.RunQuery(qctx, func(_ uint, db *logstorage.DataBlock) {
		cols := db.GetColumns(false)
		n := db.RowsCount()
		mu.Lock()
		defer mu.Unlock()
		if cbErr != nil {
			return
		}
		for i := 0; i < n; i++ {
			row := make(eventstore.Row, 0, len(cols))
			for _, c := range cols {
				// The engine reuses the block's memory after this callback:
				// copy, so rows stay valid for callers that keep them.
				if v := c.Values[i]; v != "" {
					row = append(row, eventstore.Field{Name: strings.Clone(c.Name), Value: strings.Clone(v)})
				}
			}
			row = eventstore.RestoreExact(row)
			if whole {
				row = eventstore.WithID(row)
			}
			if err := fn(row); err != nil {
				cbErr = err
				cancel()
				return
			}
		}
	})
	if cbErr != nil {
		return cbErr
	}
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("run query: %w", err)
	}
	return err
}

// Existing implements eventstore.EventStore.
func (st *Store) Existing(ctx context.Context, tenant string, ids []string, start, end time.Time) (map[string]bool, error) {
	return eventstore.ExistingIDs(ctx, st.Query, tenant, ids, start, end)
}

// Stats implements eventstore.EventStore.
func (st *Store) Stats() eventstore.Stats {
	var ss logstorage.StorageStats
	st.s.UpdateStats(&ss)
	d := ss.DatadbStats
	out := eventstore.Stats{
		Rows:        d.InmemoryRowsCount + d.SmallPartRowsCount + d.BigPartRowsCount,
		BytesOnDisk: d.CompressedSmallPartSize + d.CompressedBigPartSize + ss.IndexdbSizeBytes,
		Parts:       d.InmemoryParts + d.SmallParts + d.BigParts,
		ReadOnly:    ss.IsReadOnly,
	}
	if ss.MinTimestamp != math.MinInt64 && ss.MinTimestamp != math.MaxInt64 {
		out.MinTime = time.Unix(0, ss.MinTimestamp).UTC()
	}
	if ss.MaxTimestamp != math.MaxInt64 && ss.MaxTimestamp != math.MinInt64 {
		out.MaxTime = time.Unix(0, ss.MaxTimestamp).UTC()
	}
	st.mu.Lock()
	out.DroppedOld = st.droppedOld + ss.RowsDroppedTooSmallTimestamp
	out.DroppedFuture = st.droppedFuture + ss.RowsDroppedTooBigTimestamp
	out.Compactions = st.compactions
	st.mu.Unlock()
	return out
}

// Close flushes and closes the store.
func (st *Store) Close() error {
	if st.stopCompact != nil {
		close(st.stopCompact)
		<-st.compactDone
	}
	st.s.MustClose()
	return nil
}

// tenantMap assigns each tenant name a VictoriaLogs account id, persisted
// beside the data so that ids stay stable across restarts.
type tenantMap struct {
	path string
	mu   sync.Mutex
	ids  map[string]uint32
}

func openTenantMap(path string) (*tenantMap, error) {
	tm := &tenantMap{path: path, ids: map[string]uint32{event.DefaultTenant: 0}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return tm, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read tenant map %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &tm.ids); err != nil {
		return nil, fmt.Errorf("read tenant map %s: %w", path, err)
	}
	return tm, nil
}

func (tm *tenantMap) lookup(name string) (logstorage.TenantID, bool) {
	if name == "" {
		name = event.DefaultTenant
	}
	tm.mu.Lock()
	defer tm.mu.Unlock()
	id, ok := tm.ids[name]
	return logstorage.TenantID{AccountID: id}, ok
}

func (tm *tenantMap) id(name string) (logstorage.TenantID, error) {
	if tid, ok := tm.lookup(name); ok {
		return tid, nil
	}
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if id, ok := tm.ids[name]; ok {
		return logstorage.TenantID{AccountID: id}, nil
	}
	var next uint32
	for _, v := range tm.ids {
		next = max(next, v+1)
	}
	tm.ids[name] = next
	b, _ := json.Marshal(tm.ids)
	tmp := tm.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return logstorage.TenantID{}, fmt.Errorf("save tenant map: %w", err)
	}
	if err := os.Rename(tmp, tm.path); err != nil {
		return logstorage.TenantID{}, fmt.Errorf("save tenant map: %w", err)
	}
	return logstorage.TenantID{AccountID: next}, nil
}

var (
	_ eventstore.EventStore     = (*Store)(nil)
	_ eventstore.ParallelWriter = (*Store)(nil)
)
