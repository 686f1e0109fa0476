package suricata_test

import (
	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse"
	"os"
	"path/filepath"
	"testing"

	"github.com/wacht-soc/wacht/internal/parse/parsetest"
	_ "github.com/wacht-soc/wacht/internal/parse/suricata"
)

func TestGolden(t *testing.T) { parsetest.GoldenLines(t, "suricata", "ndjson") }

func FuzzParse(f *testing.F) {
	parsetest.Fuzz(f, "suricata", filepath.Join("testdata", "events.ndjson"))
}

func BenchmarkParse(b *testing.B) {
	parsetest.Bench(b, "suricata", parsetest.RepeatFile(b, filepath.Join("testdata", "events.ndjson"), 500))
}

func TestEVE(t *testing.T) {
	dir := filepath.Join(parsetest.Shared(t), "datasets", "suricata-eve")
	for _, f := range []string{"surevego/testdata/eve.json", "fever/util/testdata/jsonparse_eve.json", "fever/cmd/fever/cmds/testdata/alertify_input.json"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Skip(err)
		}
		evs := parsetest.Check(t, "suricata", parsetest.Lines(data), func(ev *event.Event) string {
			if ev.Time.Equal(ev.IngestTime) || ev.LogSource.Service == "" {
				return "no time or event type"
			}
			return ""
		})
		t.Logf("%s: %d events, %d with source.ip", f, len(evs), parsetest.Count(evs, "source.ip"))
	}
	// broken files: errors, no panic
	for _, f := range []string{"surevego/testdata/eve_broken.json", "fever/util/testdata/jsonparse_eve_broken1.json", "fever/util/testdata/jsonparse_eve_nulls.json"} {
		data, _ := os.ReadFile(filepath.Join(dir, f))
		in, _ := parse.NewInstance("suricata")
		bad := 0
		for _, l := range parsetest.Lines(data) {
			ev := parsetest.NewEvent()
			if in.Record(l, &ev) != nil {
				bad++
			}
		}
		t.Logf("%s: %d bad records", f, bad)
	}
}
