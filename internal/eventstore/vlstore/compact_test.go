package vlstore

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/eventstore"
)

// TestIdleCompactionMergesBackfilledDays writes one old day in two batches
// far enough apart that the engine puts them in two parts on disk, then
// waits for the idle compaction to merge them into one and checks that
// every event is still there.
func TestIdleCompactionMergesBackfilledDays(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(Config{Path: dir, Retention: 365 * 24 * time.Hour, MemoryBytes: 64 << 20,
		FlushInterval: time.Second, CompactAfterIdle: 2 * time.Second}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	day := time.Now().UTC().AddDate(0, 0, -3).Truncate(24 * time.Hour)
	write := func(from int) {
		var evs []*event.Event
		for i := from; i < from+500; i++ {
			e := &event.Event{Tenant: "default", Time: day.Add(time.Duration(i) * time.Second), Message: "backfill"}
			e.Add("i", event.Int(int64(i)))
			e.ComputeID()
			evs = append(evs, e)
		}
		if _, err := st.Write(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	name := partitionName(day.Unix() / 86400)
	dataDir := filepath.Join(dir, "data")
	write(0)
	waitFor(t, "first part on disk", func() bool { n, _ := partitionParts(dataDir, name); return n >= 1 })
	write(500)
	waitFor(t, "second part on disk", func() bool { n, _ := partitionParts(dataDir, name); return n >= 2 || st.Stats().Compactions > 0 })
	waitFor(t, "compaction", func() bool { return st.Stats().Compactions > 0 })
	if n, _ := partitionParts(dataDir, name); n != 1 {
		t.Fatalf("%d parts after compaction, want 1", n)
	}
	st.Flush(ctx)
	got := ""
	if err := st.Query(ctx, eventstore.Query{Tenant: "default", LogsQL: "backfill | stats count() n"}, func(r eventstore.Row) error {
		got = r.Get("n")
		return nil
	}); err != nil {
		t.Fatalf("count: %v", err)
	}
	if got != "1000" {
		t.Fatalf("%q events after compaction, want 1000", got)
	}
}

func TestDirtyDaysWaitForIdleAndSkipToday(t *testing.T) {
	var d dirtyDays
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	today := now.Unix() / 86400
	d.mark(map[int64]bool{today: true, today - 400: true}, now)
	if got := d.take(now.Add(10*time.Second), time.Minute); got != nil {
		t.Fatalf("took %v before the store was idle", got)
	}
	got := d.take(now.Add(2*time.Minute), time.Minute)
	if len(got) != 1 || got[0] != today-400 {
		t.Fatalf("took %v, want only the old day", got)
	}
	if got := d.take(now.Add(3*time.Minute), time.Minute); got != nil {
		t.Fatalf("took %v again", got)
	}
}

// waitFor polls cond for up to a minute (the engine writes parts on its own
// schedule).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after a minute", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
