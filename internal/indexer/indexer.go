// Package indexer moves events from the journal into the event store.
//
// It reads the journal in order, writes each batch into the store, and
// tells the journal it may forget a batch only once the store has it on
// disk (the store says how long that takes: DurableAfter). After a crash it
// replays from the last batch known to be on disk and, for the batches that
// may have reached the store before the crash, skips events whose id is
// already stored — so every acknowledged event is stored exactly once.
package indexer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/eventstore"
	"github.com/wacht-soc/wacht/internal/journal"
)

// Indexer is the journal consumer that feeds the event store.
type Indexer struct {
	j       *journal.Journal
	st      eventstore.EventStore
	log     *slog.Logger
	ckpt    *checkpoint
	now     func() time.Time
	busy    func() bool
	onBatch func(events []*event.Event)

	written atomic.Uint64 // highest sequence written to the store
	applied atomic.Uint64

	indexed    *metrics.Counter
	duplicates *metrics.Counter
	corrupt    *metrics.Counter
	set        *metrics.Set
}

// Options configure an Indexer.
type Options struct {
	// Dir holds the checkpoint file.
	Dir string
	// Metrics receives the indexer's counters.
	Metrics *metrics.Set
	// OnBatch, when set, sees every batch after it was written (detection
	// hooks in here).
	OnBatch func(events []*event.Event)
	// Now is the clock (tests inject one).
	Now func() time.Time
	// Busy reports whether sources are sending: then batches are written
	// by one goroutine, leaving the other cores to accepting events; when
	// they pause, a store that can (eventstore.ParallelWriter) is written
	// with one goroutine per core to catch up. Nil: never busy.
	Busy func() bool
}

// New opens the checkpoint and returns an indexer.
func New(j *journal.Journal, st eventstore.EventStore, opts Options, log *slog.Logger) (*Indexer, error) {
	ck, err := openCheckpoint(filepath.Join(opts.Dir, "indexer.checkpoint"))
	if err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.NewSet()
	}
	x := &Indexer{j: j, st: st, log: log, ckpt: ck, now: opts.Now, onBatch: opts.OnBatch, set: opts.Metrics, busy: opts.Busy}
	x.written.Store(ck.written)
	x.applied.Store(ck.applied)
	x.indexed = opts.Metrics.GetOrCreateCounter("wacht_store_events_written_total")
	x.duplicates = opts.Metrics.GetOrCreateCounter(`wacht_store_events_skipped_total{reason="duplicate"}`)
	x.corrupt = opts.Metrics.GetOrCreateCounter(`wacht_journal_messages_corrupt_total`)
	return x, nil
}

// Written is the highest journal sequence written into the store.
func (x *Indexer) Written() uint64 { return x.written.Load() }

// Applied is the highest journal sequence known to be on disk in the store.
func (x *Indexer) Applied() uint64 { return x.applied.Load() }

type inflight struct {
	seq uint64
	at  time.Time
}

// Run indexes until ctx is cancelled. On return everything it wrote is
// still only as durable as the store makes it: call Finish after closing
// the store.
func (x *Indexer) Run(ctx context.Context) error {
	replayUpTo := x.ckpt.written
	// A fetch must fit the largest message, or that message would never be
	// delivered and indexing would stop behind it.
	fetchBytes := max(8<<20, x.j.MaxMessageBytes()+64<<10)
	from := x.ckpt.applied + 1
	cons, err := x.j.Consumer(ctx, from)
	if err != nil {
		return err
	}
	var (
		queue      []inflight
		lastFlush  = x.now()
		lastPurge  = x.now()
		dirty      bool
		durable    = x.st.DurableAfter()
		purgedUpTo = x.ckpt.applied
	)
	// Stream messages with prefetch rather than fetch in rounds: an ordered
	// consumer's Fetch re-creates the consumer every call. The prefetch
	// buffer must fit the largest message, or it would never be delivered.
	it, err := cons.Messages(jetstream.PullMaxBytes(fetchBytes))
	if err != nil {
		return fmt.Errorf("stream journal: %w", err)
	}
	defer it.Stop()
	var pending []jetstream.Msg
	for ctx.Err() == nil {
		// Collect what is available now: wait up to 200ms for the first
		// message, then take more while they arrive within a millisecond,
		// up to about 1 MiB of (compressed) batches: about 5 MiB of events.
		pending = pending[:0]
		size := 0
		wait := 200 * time.Millisecond
		for size < 1<<20 && len(pending) < 1000 {
			nctx, cancel := context.WithTimeout(ctx, wait)
			m, err := it.Next(jetstream.NextContext(nctx))
			cancel()
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, jetstream.ErrNoMessages) {
					x.log.Warn("journal_next_failed", "err", err)
				}
				break
			}
			pending = append(pending, m)
			size += len(m.Data())
			wait = time.Millisecond
		}
		var events []*event.Event
		var lastSeq uint64
		for _, m := range pending {
			md, err := m.Metadata()
			if err != nil {
				x.log.Error("journal_metadata_failed", "err", err)
				continue
			}
			seq := md.Sequence.Stream
			evs, err := event.DecodeBatch(m.Data())
			if err != nil {
				// A message we wrote ourselves cannot be decoded: count it and
				// keep going rather than block the journal forever.
				x.corrupt.Inc()
				x.log.Error("journal_message_corrupt", "seq", seq, "err", err)
				lastSeq = seq
				continue
			}
			if seq <= replayUpTo {
				evs, err = x.dedup(ctx, evs)
				if err != nil {
					return fmt.Errorf("de-duplicate replayed batch %d: %w", seq, err)
				}
			}
			events = append(events, evs...)
			lastSeq = seq
		}
		now := x.now()
		if lastSeq > 0 {
			if err := x.ckpt.setWritten(lastSeq); err != nil {
				return err
			}
			if len(events) > 0 {
				res, err := x.write(ctx, events)
				if err != nil {
					return fmt.Errorf("write batch up to %d: %w", lastSeq, err)
				}
				x.indexed.Add(res.Written)
				for reason, n := range res.Dropped {
					x.set.GetOrCreateCounter(`wacht_store_events_skipped_total{reason="` + reason + `"}`).Add(n)
				}
				for reason, n := range res.Shortened {
					x.set.GetOrCreateCounter(`wacht_store_events_shortened_total{reason="` + reason + `"}`).Add(n)
				}
				if x.onBatch != nil {
					x.onBatch(events)
				}
			}
			x.written.Store(lastSeq)
			queue = append(queue, inflight{seq: lastSeq, at: now})
			dirty = true
		}
		// Make new events searchable when caught up, or every 2s under
		// steady load (each flush makes small parts the engine must merge).
		if dirty && (lastSeq == 0 || now.Sub(lastFlush) > 2*time.Second) {
			_ = x.st.Flush(ctx)
			lastFlush, dirty = now, false
		}
		// Advance the durable mark over batches old enough to be on disk.
		n := 0
		for n < len(queue) && now.Sub(queue[n].at) >= durable {
			n++
		}
		if n > 0 {
			if err := x.ckpt.setApplied(queue[n-1].seq); err != nil {
				return err
			}
			x.applied.Store(queue[n-1].seq)
			queue = append(queue[:0], queue[n:]...)
		}
		if applied := x.applied.Load(); applied > purgedUpTo && now.Sub(lastPurge) > 5*time.Second {
			if err := x.j.Purge(ctx, applied+1); err != nil && ctx.Err() == nil {
				x.log.Warn("journal_purge_failed", "err", err)
			} else {
				purgedUpTo = applied
			}
			lastPurge = now
		}
	}
	return nil
}

// Finish records that everything written is durable; call it after the
// store was closed (closing flushes it to disk).
func (x *Indexer) Finish() error {
	if err := x.ckpt.setApplied(x.written.Load()); err != nil {
		return err
	}
	x.applied.Store(x.written.Load())
	return x.ckpt.close()
}

// dedup drops events that the store already has.
func (x *Indexer) dedup(ctx context.Context, evs []*event.Event) ([]*event.Event, error) {
	byTenant := map[string][]*event.Event{}
	for _, e := range evs {
		byTenant[e.Tenant] = append(byTenant[e.Tenant], e)
	}
	out := evs[:0:0]
	for tenant, list := range byTenant {
		ids := make([]string, len(list))
		minT, maxT := list[0].Time, list[0].Time
		for i, e := range list {
			ids[i] = e.ID
			if e.Time.Before(minT) {
				minT = e.Time
			}
			if e.Time.After(maxT) {
				maxT = e.Time
			}
		}
		have, err := x.st.Existing(ctx, tenant, ids, minT, maxT.Add(time.Nanosecond))
		if err != nil {
			return nil, err
		}
		for _, e := range list {
			if have[e.ID] {
				x.duplicates.Inc()
				continue
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// write stores a batch, in parallel when the store can and sources pause.
func (x *Indexer) write(ctx context.Context, events []*event.Event) (eventstore.WriteResult, error) {
	if pw, ok := x.st.(eventstore.ParallelWriter); ok && (x.busy == nil || !x.busy()) {
		return pw.WriteParallel(ctx, events, runtime.GOMAXPROCS(0))
	}
	return x.st.Write(ctx, events)
}
