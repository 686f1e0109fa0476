package vlstore

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Compaction: the engine merges the parts of a day's partition while that
// day is written, but a day that received a burst of older events (a
// backfill, a shipper catching up) keeps the handful of small parts each
// flush made: every part costs a set of files and per-block headers, and
// the files a rounded-up block each. Once writes have stopped for
// CompactAfterIdle, partitions other than today's that were written since
// the last compaction and hold more than one part are merged into one,
// unless they are larger than CompactMaxBytes (then the engine's own
// merging is left to do it).

// dirtyDays remembers which day partitions were written since the last
// compaction, and when the store was last written.
type dirtyDays struct {
	mu        sync.Mutex
	days      map[int64]bool // days since 1970 (UTC)
	lastWrite time.Time
}

func (d *dirtyDays) mark(days map[int64]bool, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.days == nil {
		d.days = map[int64]bool{}
	}
	for day := range days {
		d.days[day] = true
	}
	d.lastWrite = now
}

// take returns the days to compact if the store has been idle long enough.
func (d *dirtyDays) take(now time.Time, idle time.Duration) []int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.days) == 0 || now.Sub(d.lastWrite) < idle {
		return nil
	}
	today := now.UTC().Unix() / 86400
	var out []int64
	for day := range d.days {
		if day != today { // today's is still being written: the engine merges it
			out = append(out, day)
			delete(d.days, day)
		}
	}
	return out
}

// partitionName is the engine's directory name of a day partition.
func partitionName(day int64) string {
	return time.Unix(day*86400, 0).UTC().Format("20060102")
}

// partitionParts reads how many parts a day partition holds and their
// compressed size, from the engine's own files.
func partitionParts(dataDir, name string) (parts int, bytes int64) {
	dir := filepath.Join(dataDir, "partitions", name, "datadb")
	b, err := os.ReadFile(filepath.Join(dir, "parts.json"))
	if err != nil {
		return 0, 0
	}
	var names []string
	if json.Unmarshal(b, &names) != nil {
		return 0, 0
	}
	for _, n := range names {
		var m struct{ CompressedSizeBytes int64 }
		if mb, err := os.ReadFile(filepath.Join(dir, n, "metadata.json")); err == nil && json.Unmarshal(mb, &m) == nil {
			bytes += m.CompressedSizeBytes
		}
	}
	return len(names), bytes
}

// compactLoop merges idle partitions until stop is closed.
func (st *Store) compactLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	every := min(st.cfg.CompactAfterIdle/2, 5*time.Second)
	t := time.NewTicker(max(every, 100*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			st.compactIdle(time.Now())
		}
	}
}

// compactIdle merges the partitions written since the last compaction once
// the store has been idle for CompactAfterIdle.
func (st *Store) compactIdle(now time.Time) {
	dataDir := filepath.Join(st.cfg.Path, "data")
	// Wait at least until the last rows are on disk as parts.
	idle := max(st.cfg.CompactAfterIdle, st.DurableAfter())
	for _, day := range st.dirty.take(now, idle) {
		name := partitionName(day)
		parts, size := partitionParts(dataDir, name)
		if parts < 2 || (st.cfg.CompactMaxBytes > 0 && size > st.cfg.CompactMaxBytes) {
			continue
		}
		st.s.MustForceMerge(name)
		st.mu.Lock()
		st.compactions++
		st.mu.Unlock()
		st.log.Debug("event_store_partition_compacted", "partition", name, "parts", parts, "bytes", size)
	}
}
