package zeek_test

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse"
	"github.com/wacht-soc/wacht/internal/parse/parsetest"
	_ "github.com/wacht-soc/wacht/internal/parse/zeek"
)

func TestGoldenTSV(t *testing.T)  { parsetest.GoldenWhole(t, "zeek", "log") }
func TestGoldenJSON(t *testing.T) { parsetest.GoldenLines(t, "zeekjson", "ndjson") }

// TestLineByLine feeds a TSV file one line at a time, as a syslog or HTTP
// stream would, and checks that the parser keeps the header state and
// skips header lines with ErrNoEvent.
func TestLineByLine(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "dns.log"))
	if err != nil {
		t.Fatal(err)
	}
	in, err := parse.NewInstance("zeek")
	if err != nil {
		t.Fatal(err)
	}
	var events, headers int
	for _, l := range parsetest.Lines(data) {
		ev := parsetest.NewEvent()
		err := in.Record(l, &ev)
		switch {
		case errors.Is(err, parse.ErrNoEvent):
			headers++
			if len(ev.Errors) != 0 {
				t.Errorf("header line marked with an error: %v", ev.Errors)
			}
		case err != nil:
			t.Errorf("line %q: %v", l, err)
		default:
			events++
			if ev.GetString("dns.question.name") == "" || ev.LogSource.Product != "zeek" || ev.LogSource.Service != "dns" {
				t.Errorf("event lacks entities or logsource: %s", ev.AppendJSON(nil))
			}
		}
	}
	if events != 4 || headers != 9 {
		t.Errorf("got %d events and %d header lines, want 4 and 9", events, headers)
	}
	// After Reset the header is gone: a data line is an error again.
	in.Reset()
	ev := parsetest.NewEvent()
	if err := in.Record(parsetest.Lines(data)[9], &ev); err == nil || errors.Is(err, parse.ErrNoEvent) {
		t.Errorf("data line after Reset: err = %v, want a missing-header error", err)
	}
}

func TestErrors(t *testing.T) {
	f := func(name string, lines ...string) {
		t.Helper()
		in, _ := parse.NewInstance("zeek")
		var err error
		for _, l := range lines {
			ev := parsetest.NewEvent()
			err = in.Record([]byte(l), &ev)
		}
		if err == nil || errors.Is(err, parse.ErrNoEvent) {
			t.Errorf("%s: want an error, got %v", name, err)
		}
	}
	f("no header", "1521911720.865716\tC1\t10.0.0.1")
	f("too few values", "#fields\tts\tuid\tid.orig_h", "#types\ttime\tstring\taddr", "1521911720.865716\tC1")
	f("bad time", "#fields\tts\tuid", "#types\ttime\tstring", "yesterday\tC1")
	f("bad count", "#fields\tn", "#types\tcount", "x1")
	f("bad bool", "#fields\tb", "#types\tbool", "yes")
	f("bad separator", `#separator \x0909`)
}

func FuzzParse(f *testing.F) {
	data, _ := os.ReadFile(filepath.Join("testdata", "dns.log"))
	f.Add(data)
	f.Add([]byte("#fields\ta\tb\n#types\tvector[time]\tset[count]\n1.5,2\t(empty)\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, _ := parse.NewInstance("zeek")
		mp := in.Parser.(parse.MultiParser)
		_ = mp.ParseAll(b, parsetest.NewEvent(), func(ev *event.Event) error {
			if out := ev.AppendJSON(nil); !json(out) {
				t.Fatalf("invalid JSON output: %s", out)
			}
			return nil
		})
	})
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "dns.log"))
	if err != nil {
		b.Fatal(err)
	}
	lines := parsetest.Lines(data)
	header, rows := lines[:8], lines[9:11]
	in, _ := parse.NewInstance("zeek")
	for _, h := range header {
		ev := parsetest.NewEvent()
		_ = in.Parser.Parse(h, &ev)
	}
	var recs [][]byte
	for range 2000 {
		recs = append(recs, rows...)
	}
	size := 0
	for _, r := range recs {
		size += len(r) + 1
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		for _, r := range recs {
			ev := event.Event{IngestTime: parsetest.Ingest(), Fields: make([]event.Field, 0, 32)}
			if err := in.Parser.Parse(r, &ev); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func all(t *testing.T, name string, data []byte) []*event.Event {
	t.Helper()
	in, err := parse.NewInstance(name)
	if err != nil {
		t.Fatal(err)
	}
	var out []*event.Event
	err = in.Parser.(parse.MultiParser).ParseAll(data, parsetest.NewEvent(), func(ev *event.Event) error {
		c := *ev
		out = append(out, &c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTwins parses every log of the WRCCDC 2018 set in its TSV and its JSON
// form and requires the same events: same count, and per record the same
// fields with equal values (floats equal to the 6 decimals TSV writes),
// the same time, logsource and entities.
func TestTwins(t *testing.T) {
	dir := filepath.Join(parsetest.Shared(t), "datasets", "zeek-wrccdc-2018")
	logs, _ := filepath.Glob(filepath.Join(dir, "zeek-default", "*.log.gz"))
	if len(logs) == 0 {
		t.Skip("no zeek-wrccdc-2018 logs")
	}
	total := 0
	for _, tsvPath := range logs {
		name := strings.TrimSuffix(filepath.Base(tsvPath), ".log.gz")
		t.Run(name, func(t *testing.T) {
			tsv := all(t, "zeek", parsetest.GzipFile(t, tsvPath, 0))
			js := all(t, "zeekjson", parsetest.GzipFile(t, filepath.Join(dir, "zeek-json", name+".json.gz"), 0))
			if len(tsv) != len(js) {
				t.Fatalf("%d TSV events, %d JSON events", len(tsv), len(js))
			}
			total += len(tsv)
			bad := 0
			for i := range tsv {
				if msg := same(tsv[i], js[i]); msg != "" {
					bad++
					if bad <= 3 {
						t.Errorf("record %d: %s", i+1, msg)
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d records differ", bad, len(tsv))
			}
		})
	}
	t.Logf("%d record pairs compared", total)
}

func same(a, b *event.Event) string {
	if len(a.Errors) > 0 || len(b.Errors) > 0 {
		return "parse errors: " + a.ErrorText() + " | " + b.ErrorText()
	}
	if !a.Time.Equal(b.Time) {
		return "time " + a.Time.String() + " vs " + b.Time.String()
	}
	if a.LogSource != b.LogSource || a.Message != b.Message {
		return "logsource or message differ: " + a.Message + " | " + b.Message
	}
	bf := map[string]event.Value{}
	for _, f := range b.Fields {
		if f.Name != "_write_ts" {
			bf[f.Name] = f.Value
		}
	}
	if len(a.Fields) != len(bf) {
		return "field count: TSV " + string(a.AppendJSON(nil)) + "\nJSON " + string(b.AppendJSON(nil))
	}
	for _, f := range a.Fields {
		v, ok := bf[f.Name]
		if !ok {
			return "JSON lacks " + f.Name
		}
		if !equal(f.Value, v) {
			return f.Name + ": TSV " + f.Value.String() + " vs JSON " + v.String()
		}
	}
	return ""
}

func equal(a, b event.Value) bool {
	if a.Kind() == event.KindArray && b.Kind() == event.KindArray {
		x, y := a.Array(), b.Array()
		if len(x) == 0 && len(y) == 1 && y[0].Equal(event.String("")) {
			// TSV cannot tell an empty set from a set holding "" (both
			// are "(empty)"); JSON can.
			return true
		}
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	if isNum(a) && isNum(b) {
		f, _ := a.Float()
		g, _ := b.Float()
		return math.Abs(f-g) <= 1e-6*math.Max(1, math.Abs(f))
	}
	return a.Equal(b)
}

func isNum(v event.Value) bool { return v.Kind() == event.KindInt || v.Kind() == event.KindFloat }

func json(b []byte) bool { return bytes.HasPrefix(b, []byte("{")) && jsonValid(b) }

var jsonValid = stdjson.Valid
