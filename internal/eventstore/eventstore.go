// Package eventstore defines how wacht stores and searches events: the
// EventStore seam, with an embedded implementation (package vlstore, the
// VictoriaLogs storage engine in process) and room for a remote one
// (a VictoriaLogs cluster over HTTP).
package eventstore

import (
	"context"
	"errors"
	"time"

	"github.com/wacht-soc/wacht/event"
)

// EventStore writes batches of events and answers LogsQL queries.
type EventStore interface {
	// Write adds events. They become searchable shortly after and durable
	// within DurableAfter; callers that must know an event is on disk wait
	// that long (the journal keeps events until then).
	Write(ctx context.Context, events []*event.Event) (WriteResult, error)
	// Flush makes written events searchable at once.
	Flush(ctx context.Context) error
	// DurableAfter is how long after Write returns an event is guaranteed to
	// be on disk.
	DurableAfter() time.Duration
	// Query runs a LogsQL query and calls fn for each result row.
	Query(ctx context.Context, q Query, fn func(Row) error) error
	// Existing returns which of ids are stored for tenant between start and
	// end; the journal consumer uses it to de-duplicate redelivered events.
	Existing(ctx context.Context, tenant string, ids []string, start, end time.Time) (map[string]bool, error)
	// Stats describes the store for /metrics and /readyz.
	Stats() Stats
	Close() error
}

// ParallelWriter is an EventStore that can write one batch with up to n
// goroutines. The indexer uses it to catch up when sources pause, and
// writes with one goroutine while they send, leaving the other cores to
// accepting events.
type ParallelWriter interface {
	WriteParallel(ctx context.Context, events []*event.Event, n int) (WriteResult, error)
}

// WriteResult says what a Write did with its events.
type WriteResult struct {
	Written int
	// Dropped counts events not stored, by reason (for example
	// "older_than_retention", "too_far_in_future").
	Dropped map[string]int
	// Shortened counts events stored shortened (and marked with _error)
	// because they exceeded a limit of the store, by reason.
	Shortened map[string]int
}

// Query is a search.
type Query struct {
	Tenant string
	// LogsQL is the query text.
	LogsQL string
	Start  time.Time
	End    time.Time
	// Limit bounds the number of rows (0: no limit). Queries without pipes
	// return the newest rows first.
	Limit int
	// Unordered returns the rows of a query without pipes in the store's
	// order rather than newest first: for scans over more rows than the
	// store could sort in its memory budget.
	Unordered bool
}

// Field is one column of a result row.
type Field struct {
	Name  string
	Value string
}

// Row is one result: an event or a row of a stats pipe.
type Row []Field

// Get returns the value of the named column.
func (r Row) Get(name string) string {
	for _, f := range r {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// Stats describes a store.
type Stats struct {
	Rows          uint64
	BytesOnDisk   uint64
	Parts         uint64
	ReadOnly      bool
	DroppedOld    uint64
	DroppedFuture uint64
	// Compactions counts partitions merged after ingest went idle.
	Compactions uint64
	MinTime     time.Time
	MaxTime     time.Time
}

// StreamFields returns the low-cardinality fields that group events into
// VictoriaLogs streams: one stream per source and Sigma logsource. Rows of one
// stream are stored together, so events of one kind (Sysmon process creation,
// say) share blocks and compress far better than a mix of kinds would.
func StreamFields() []string {
	return []string{event.FieldListener, event.FieldFormat, event.FieldProduct, event.FieldService, event.FieldCategory}
}

// ErrBadQuery marks errors in the query text (shown to the user).
var ErrBadQuery = errors.New("bad query")
