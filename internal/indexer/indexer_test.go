package indexer

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/eventstore"
	"github.com/wacht-soc/wacht/internal/eventstore/vlstore"
	"github.com/wacht-soc/wacht/internal/journal"
)

type parts struct {
	j  *journal.Journal
	st *vlstore.Store
	x  *Indexer
	ms *metrics.Set
}

func openParts(t *testing.T, dir string) *parts {
	t.Helper()
	ctx := context.Background()
	log := slog.Default()
	j, err := journal.Open(ctx, journal.Config{Dir: filepath.Join(dir, "journal")}, log)
	if err != nil {
		t.Fatal(err)
	}
	st, err := vlstore.Open(vlstore.Config{Path: filepath.Join(dir, "events"), MemoryBytes: 64 << 20}, log)
	if err != nil {
		t.Fatal(err)
	}
	ms := metrics.NewSet()
	x, err := New(j, st, Options{Dir: dir, Metrics: ms}, log)
	if err != nil {
		t.Fatal(err)
	}
	return &parts{j, st, x, ms}
}

func count(t *testing.T, st eventstore.EventStore) int {
	t.Helper()
	n := 0
	err := st.Query(context.Background(), eventstore.Query{Tenant: "default", LogsQL: "*"}, func(eventstore.Row) error { n++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func run(p *parts, until func() bool) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.x.Run(ctx); close(done) }()
	deadline := time.Now().Add(20 * time.Second)
	for !until() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
}

// TestReplayAfterCrashStoresEachEventOnce simulates a crash between the
// store write and the durable mark: the store has the batch, the
// checkpoint says "written but not applied". The restarted indexer must
// replay the batch and skip every event the store already holds.
func TestReplayAfterCrashStoresEachEventOnce(t *testing.T) {
	dir := t.TempDir()
	p := openParts(t, dir)
	now := time.Now().UTC()
	var evs []*event.Event
	for i := 0; i < 300; i++ {
		e := &event.Event{Tenant: "default", Time: now.Add(time.Duration(i) * time.Millisecond), Message: fmt.Sprintf("event %d", i), Raw: []byte(fmt.Sprint(i))}
		e.ComputeID()
		evs = append(evs, e)
	}
	if _, err := p.j.Append(context.Background(), event.AppendBatch(nil, evs[:150])); err != nil {
		t.Fatal(err)
	}
	if _, err := p.j.Append(context.Background(), event.AppendBatch(nil, evs[150:])); err != nil {
		t.Fatal(err)
	}
	run(p, func() bool { return p.x.Written() == 2 })
	if p.x.Applied() != 0 {
		t.Fatalf("applied %d before the store's durability window passed", p.x.Applied())
	}
	// "Crash": the store reaches disk (Close flushes) but the indexer never
	// records the batches as applied.
	p.st.Close()
	p.x.ckpt.close()
	p.j.Close()

	p = openParts(t, dir)
	defer func() { p.st.Close(); p.j.Close() }()
	run(p, func() bool { return p.x.Written() == 2 && p.x.duplicates.Get() == 300 })
	p.st.Flush(context.Background())
	if got := count(t, p.st); got != 300 {
		t.Fatalf("%d events stored after replay, want 300", got)
	}
	if d := p.x.duplicates.Get(); d != 300 {
		t.Fatalf("skipped %d duplicates, want 300", d)
	}
}

// TestCorruptMessageIsCountedAndSkipped: a journal message that does not
// decode must not block the events behind it.
func TestCorruptMessageIsCountedAndSkipped(t *testing.T) {
	p := openParts(t, t.TempDir())
	defer func() { p.st.Close(); p.j.Close() }()
	ctx := context.Background()
	if _, err := p.j.Append(ctx, []byte{99, 1, 2}); err != nil {
		t.Fatal(err)
	}
	e := &event.Event{Tenant: "default", Time: time.Now().UTC(), Message: "after the corrupt one"}
	e.ComputeID()
	if _, err := p.j.Append(ctx, event.AppendBatch(nil, []*event.Event{e})); err != nil {
		t.Fatal(err)
	}
	run(p, func() bool { return p.x.Written() == 2 })
	p.st.Flush(ctx)
	if p.x.corrupt.Get() != 1 || count(t, p.st) != 1 {
		t.Fatalf("corrupt %d, stored %d", p.x.corrupt.Get(), count(t, p.st))
	}
}
