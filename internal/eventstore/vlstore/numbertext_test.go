package vlstore

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/VictoriaLogs/lib/logstorage"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/eventstore"
)

// TestNumberTextChangesMatchesTheEngine checks event.NumberTextChanges
// against the engine itself: 20,000 decimals and integers of every shape
// are stored in columns the engine keeps as numbers; read with the
// exact-text columns deleted, every value the predicate calls safe must
// come back unchanged, and read as whole rows every value must.
func TestNumberTextChangesMatchesTheEngine(t *testing.T) {
	st, err := Open(Config{Path: t.TempDir(), MemoryBytes: 64 << 20}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	now := time.Now().UTC()
	r := rand.New(rand.NewPCG(1, 2))
	decimal := func() string {
		v := strconv.Itoa(r.IntN(100000)) + "." + fmt.Sprintf("%0*d", 1+r.IntN(8), r.IntN(100000000))
		if r.IntN(4) == 0 {
			v = "-" + v
		}
		if r.IntN(50) == 0 {
			v = strings.Replace(v, ".", "_0.", 1)
		}
		return v
	}
	integer := func() string {
		v := strconv.FormatInt(r.Int64N(1<<62), 10)
		if r.IntN(20) == 0 {
			v = v[:1] + "_" + v[1:]
		}
		return v
	}
	const n = 20_000
	written := map[string][2]string{}
	var evs []*event.Event
	for i := 0; i < n; i++ {
		e := &event.Event{Tenant: "default", Time: now.Add(-time.Duration(i) * time.Microsecond), IngestTime: now, Message: "numbers", Format: "json/1"}
		d, u := decimal(), integer()
		e.Add("i", event.String(strconv.Itoa(i)))
		e.Add("d", event.String(d))
		e.Add("u", event.String(u))
		e.ComputeID()
		evs = append(evs, e)
		written[strconv.Itoa(i)] = [2]string{d, u}
	}
	if _, err := st.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	st.Flush(ctx)
	changedByEngine, missed, spare := 0, 0, 0
	read := func(q string, check func(i string, d, u string)) {
		rows := 0
		if err := st.Query(ctx, eventstore.Query{Tenant: "default", LogsQL: q, Unordered: true}, func(row eventstore.Row) error {
			rows++
			check(row.Get("i"), row.Get("d"), row.Get("u"))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if rows != n {
			t.Fatalf("%s: %d rows, want %d", q, rows, n)
		}
	}
	read("numbers | delete _exact.d, _exact.u", func(i, d, u string) {
		w := written[i]
		for k, got := range []string{d, u} {
			if got == w[k] {
				if event.NumberTextChanges(w[k]) {
					spare++
				}
				continue
			}
			changedByEngine++
			if !event.NumberTextChanges(w[k]) {
				missed++
				if missed <= 10 {
					t.Errorf("the engine gave %q back as %q, and NumberTextChanges said it would not", w[k], got)
				}
			}
		}
	})
	read("numbers", func(i, d, u string) {
		if w := written[i]; d != w[0] || u != w[1] {
			t.Errorf("event %s: d=%q u=%q, written %q %q", i, d, u, w[0], w[1])
		}
	})
	// The engine must have kept the columns as numbers, or this test
	// checked nothing.
	if changedByEngine < n/10 {
		t.Fatalf("the engine changed only %d of %d values: are the columns still kept as numbers?", changedByEngine, 2*n)
	}
	t.Logf("the engine changed %d of %d values; the exact text restored all; %d more were kept twice without need", changedByEngine, 2*n, spare)
}

// FuzzKeepExactText checks that rewriting the fields pipes of any query
// the engine reads gives a query it still reads.
func FuzzKeepExactText(f *testing.F) {
	for _, q := range []string{`* | fields a, b`, `"a | fields b" x:y | fields a, "b c", d* | keep e`,
		`x:in(* | fields a) | stats by (ver) count() n | fields ver, n`, `foo | fields *`, `a:=1 or b:~"x" | fields "q\"r", s_t.u*`} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		pq, err := logstorage.ParseQuery(q)
		if err != nil {
			return
		}
		canon := pq.String()
		kept := eventstore.KeepExactText(canon)
		if _, err := logstorage.ParseQuery(kept); err != nil {
			t.Fatalf("%q became %q, which does not parse: %v", canon, kept, err)
		}
	})
}
