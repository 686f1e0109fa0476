package vlstore

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/eventstore"
	"github.com/wacht-soc/wacht/internal/parse"
	_ "github.com/wacht-soc/wacht/internal/parse/all"
	"github.com/wacht-soc/wacht/internal/parse/parsetest"
)

// TestRealEventsGetTheirIDsBack stores real events of every kind in the
// shared data sets (OTRF Windows, Linux and cloud records, Zeek logs) the
// way the indexer does, reads every row back and checks that each one
// carries the id its event had (the store keeps it without its time part),
// that each one gives back every value as it was written, and that each
// event is found by its id.
func TestRealEventsGetTheirIDsBack(t *testing.T) {
	shared := parsetest.Shared(t)
	var inputs [][]byte
	otrf, _ := filepath.Glob(filepath.Join(shared, "datasets", "otrf-security-datasets", "atomic", "*", "*", "*.zip"))
	more, _ := filepath.Glob(filepath.Join(shared, "datasets", "otrf-security-datasets", "atomic", "*", "*", "*", "*.zip"))
	for i, p := range append(otrf, more...) {
		if i%4 != 0 { // a quarter of the archives, every platform
			continue
		}
		var b strings.Builder
		parsetest.ZipLines(t, p, func(l []byte) { b.Write(l); b.WriteByte('\n') })
		inputs = append(inputs, []byte(b.String()))
	}
	zeek, _ := filepath.Glob(filepath.Join(shared, "datasets", "zeek-wrccdc-2018", "zeek-default", "*.log.gz"))
	for _, p := range zeek {
		inputs = append(inputs, parsetest.GzipFile(t, p, 2<<20))
	}
	if len(inputs) < 10 {
		t.Fatalf("only %d inputs found under %s", len(inputs), shared)
	}
	st, err := Open(Config{Path: t.TempDir(), Retention: 100 * 365 * 24 * time.Hour, MemoryBytes: 64 << 20}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	want := map[string]int{}
	values := map[string]map[string]string{} // id → column → text
	total := 0
	var sample []string
	for _, data := range inputs {
		in, err := parse.NewInstance("auto")
		if err != nil {
			t.Fatal(err)
		}
		var batch []*event.Event
		base := event.Event{Tenant: event.DefaultTenant, IngestTime: time.Now(), Source: event.Source{Listener: "test"}}
		if err := in.ReadAll(data, base, 4<<20, func(e *event.Event) error {
			batch = append(batch, e)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		res, err := st.Write(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		total += res.Written
		for _, e := range batch {
			want[e.ID]++
			if want[e.ID] == 1 && len(want)%997 == 0 {
				sample = append(sample, e.ID)
			}
			if want[e.ID] == 1 {
				values[e.ID] = storedValues(e)
			}
		}
	}
	st.Flush(ctx)
	got, changed := 0, 0
	if err := st.Query(ctx, eventstore.Query{Tenant: event.DefaultTenant, LogsQL: "*", Unordered: true}, func(r eventstore.Row) error {
		got++
		id := r.Get(event.FieldID)
		if want[id] == 0 {
			t.Errorf("row with id %q, which no stored event had: %v", id, r)
			return nil
		}
		want[id]--
		for name, v := range values[id] {
			if got := r.Get(name); got != v {
				changed++
				if changed <= 10 {
					t.Errorf("event %s: %s = %q, written %q", id, name, got, v)
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got != total || changed > 0 {
		t.Fatalf("%d rows read back, %d written; %d values changed", got, total, changed)
	}
	found, err := st.Existing(ctx, event.DefaultTenant, sample, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != len(sample) {
		t.Fatalf("found %d of %d sampled events by id", len(found), len(sample))
	}
	t.Logf("%d events read back with their ids; %d found by id", total, len(found))
}

// storedValues is what a store keeps of an event's fields: column name →
// text, for names that occur once.
func storedValues(e *event.Event) map[string]string {
	out := map[string]string{}
	seen := map[string]int{}
	for _, f := range e.Fields {
		if f.Value.IsNull() {
			continue
		}
		name := event.StoreName(f.Name)
		seen[name]++
		out[name] = f.Value.String()
	}
	for name, n := range seen {
		if n > 1 {
			delete(out, name)
		}
	}
	return out
}
