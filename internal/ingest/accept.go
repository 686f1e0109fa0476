// Package ingest receives events from the shippers SOC teams run — syslog
// over UDP, TCP and TLS, HTTP JSON lines, an Elasticsearch _bulk-compatible
// endpoint and a Splunk HEC-compatible one — parses them with the registered
// parsers and appends them to the journal. A source is told "accepted" only
// after the journal has stored the batch; every event that is not accepted
// is counted with its reason.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/journal"
	"github.com/wacht-soc/wacht/internal/parse"
)

// Limits bound what one source may send.
type Limits struct {
	// MaxEventBytes is the largest single event (record, line, frame).
	MaxEventBytes int
	// MaxRequestBytes is the largest HTTP request body (after decompression).
	MaxRequestBytes int64
	// MaxLagMessages is how many journal batches may wait for the indexer
	// before sources are pushed back (HTTP 429, TCP stops reading).
	MaxLagMessages uint64
	// Format is the parser of HTTP line requests that name none ("" is
	// "auto").
	Format string
	// BatchEvents and BatchBytes bound one journal message.
	BatchEvents int
	BatchBytes  int
	// KeepRaw journals every event's original record. Without it only
	// events with parse errors carry it (the store keeps it only for
	// those), which halves what the journal writes and reads back.
	KeepRaw bool
}

// DefaultLimits are sized for a small site.
var DefaultLimits = Limits{
	MaxEventBytes:   1 << 20,
	MaxRequestBytes: 16 << 20,
	MaxLagMessages:  2000,
	BatchEvents:     5000,
	BatchBytes:      4 << 20,
}

// ErrBackpressure means the journal is behind; the source should retry later.
var ErrBackpressure = errors.New("ingest is behind; retry later")

// Journal is what the accepter needs of the journal.
type Journal interface {
	Append(ctx context.Context, data []byte) (uint64, error)
}

// Accepter turns parsed events into durable journal batches.
type Accepter struct {
	j       Journal
	limits  Limits
	log     *slog.Logger
	metrics *metrics.Set
	// written reports the indexer's progress, for backpressure.
	written func() uint64
	now     func() time.Time

	lastSeq atomic.Uint64
	// lastAccept is when Accept was last called (Unix nanoseconds).
	lastAccept atomic.Int64
}

// busyWindow is how long after the last Accept the accepter counts as busy.
const busyWindow = 250 * time.Millisecond

// Busy reports whether sources sent events within the last quarter second.
func (a *Accepter) Busy() bool {
	return time.Since(time.Unix(0, a.lastAccept.Load())) < busyWindow
}

// NewAccepter returns an accepter. written reports the highest journal
// sequence the indexer has consumed.
func NewAccepter(j Journal, limits Limits, written func() uint64, set *metrics.Set, log *slog.Logger) *Accepter {
	if limits.BatchEvents <= 0 {
		limits.BatchEvents = DefaultLimits.BatchEvents
	}
	if limits.BatchBytes <= 0 {
		limits.BatchBytes = DefaultLimits.BatchBytes
	}
	a := &Accepter{j: j, limits: limits, written: written, metrics: set, log: log, now: time.Now}
	set.NewGauge("wacht_journal_lag_messages", func() float64 { return float64(a.Lag()) })
	return a
}

// Limits returns the configured limits.
func (a *Accepter) Limits() Limits { return a.limits }

// Lag is how many journal batches wait for the indexer.
func (a *Accepter) Lag() uint64 {
	last, w := a.lastSeq.Load(), a.written()
	if last <= w {
		return 0
	}
	return last - w
}

// Behind reports whether sources should be pushed back.
func (a *Accepter) Behind() bool {
	return a.limits.MaxLagMessages > 0 && a.Lag() >= a.limits.MaxLagMessages
}

// Accept appends events to the journal in batches and returns once all of
// them are stored. On error none or some of the batches may be stored; the
// caller answers "not accepted" and the source retries.
func (a *Accepter) Accept(ctx context.Context, events []*event.Event) error {
	if len(events) == 0 {
		return nil
	}
	a.lastAccept.Store(time.Now().UnixNano())
	if a.Behind() {
		return ErrBackpressure
	}
	b := builders.Get().(*event.BatchBuilder)
	defer func() { b.Reset(); builders.Put(b) }()
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	buf := (*bp)[:0]
	defer func() { *bp = buf[:0] }()
	flush := func() error {
		buf = b.AppendCompressedTo(buf[:0])
		b.Reset()
		seq, err := a.j.Append(ctx, buf)
		if err != nil {
			if errors.Is(err, journal.ErrFull) {
				return fmt.Errorf("%w: %v", ErrBackpressure, err)
			}
			return err
		}
		for {
			old := a.lastSeq.Load()
			if seq <= old || a.lastSeq.CompareAndSwap(old, seq) {
				break
			}
		}
		return nil
	}
	// Batches are cut by their real encoded size, so no journal message is
	// larger than BatchBytes plus one event.
	for _, e := range events {
		if !a.limits.KeepRaw && len(e.Errors) == 0 {
			e.Raw = nil // the id was computed from it already
		}
		b.Add(e)
		if b.Count() >= a.limits.BatchEvents || b.Size() >= a.limits.BatchBytes {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if b.Count() > 0 {
		return flush()
	}
	return nil
}

// builders and buffers recycle batch encoding memory between requests:
// without them most of ingest's copying is slices growing.
var (
	builders = sync.Pool{New: func() any { return new(event.BatchBuilder) }}
	buffers  = sync.Pool{New: func() any { b := make([]byte, 0, 1<<20); return &b }}
)

// Counters for one listener.
type Counters struct {
	set      *metrics.Set
	listener string
}

// Counters returns the counters of a listener.
func (a *Accepter) Counters(listener string) *Counters {
	return &Counters{set: a.metrics, listener: listener}
}

func (c *Counters) counter(name, label, value string) *metrics.Counter {
	return c.set.GetOrCreateCounter(name + `{listener="` + c.listener + `",` + label + `="` + value + `"}`)
}

// Received counts events received before parsing.
func (c *Counters) Received(format string, n int) {
	c.counter("wacht_ingest_received_total", "format", format).Add(n)
}

// Accepted counts events stored in the journal.
func (c *Counters) Accepted(format string, n int) {
	c.counter("wacht_ingest_accepted_total", "format", format).Add(n)
}

// ParseErrors counts events kept with a parse error.
func (c *Counters) ParseErrors(format string, n int) {
	c.counter("wacht_ingest_parse_errors_total", "format", format).Add(n)
}

// Rejected counts events or requests refused with an answer to the source
// (it can retry or fix them).
func (c *Counters) Rejected(reason string, n int) {
	c.counter("wacht_ingest_rejected_total", "reason", reason).Add(n)
}

// Dropped counts events lost without the source being told (UDP).
func (c *Counters) Dropped(reason string, n int) {
	c.counter("wacht_ingest_dropped_total", "reason", reason).Add(n)
}

// Decoder builds events from records with one parser; it is used by one
// goroutine (one connection or request) at a time.
type Decoder struct {
	inst   *parse.Instance
	base   event.Event
	format string
	width  int
	// Errors counts records kept with a parse error.
	Errors int
	// DropRaw says the caller journals the raw record only of events with
	// parse errors (Limits.KeepRaw unset): Decode then parses a record
	// where it lies and copies it only for such events.
	DropRaw bool
}

// NewDecoder makes a decoder for a parser name, stamping every event with
// tenant and source.
func NewDecoder(parser, tenant string, src event.Source, now time.Time) (*Decoder, error) {
	inst, err := parse.NewInstance(parser)
	if err != nil {
		return nil, err
	}
	if tenant == "" {
		tenant = event.DefaultTenant
	}
	return &Decoder{
		inst:   inst,
		format: inst.Info.Name(),
		base:   event.Event{Tenant: tenant, Source: src, IngestTime: now.UTC()},
	}, nil
}

// Format is the parser's short name.
func (d *Decoder) Format() string { return d.format }

// Decode parses one record into a new event (copying the record unless
// DropRaw is set and the record parses cleanly). It
// returns nil for records that are not events (header lines of Zeek or W3C
// logs, which the parser keeps as state).
func (d *Decoder) Decode(rec []byte) *event.Event {
	ev := d.base
	// Records of one source have similar widths: size the field list like
	// the previous one so that adding fields rarely grows it.
	// (with room for the entity fields normalization adds).
	ev.Fields = make([]event.Field, 0, d.width+d.width/4+8)
	ev.Errors = nil
	in := rec
	if !d.DropRaw {
		in = append([]byte(nil), rec...)
	}
	if err := d.inst.Record(in, &ev); err != nil {
		if errors.Is(err, parse.ErrNoEvent) {
			return nil
		}
		d.Errors++
	}
	if d.DropRaw {
		// The parsers copy what they keep; the record itself is the
		// caller's buffer.
		ev.Raw = nil
		if len(ev.Errors) > 0 {
			ev.Raw = append([]byte(nil), rec...)
		}
	}
	d.width = max(8, len(ev.Fields))
	return &ev
}

// DecodeTruncated keeps an over-long record: its first limit bytes, marked
// with an error naming the real size.
func (d *Decoder) DecodeTruncated(rec []byte, size, limit int) *event.Event {
	ev := d.Decode(rec[:min(len(rec), limit)])
	if ev == nil {
		return nil
	}
	ev.AddError("event truncated: " + strconv.Itoa(size) + " bytes is more than the limit of " + strconv.Itoa(limit))
	return ev
}
