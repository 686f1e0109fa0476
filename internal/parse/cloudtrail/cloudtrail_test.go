package cloudtrail_test

import (
	"github.com/wacht-soc/wacht/event"
	"path/filepath"
	"testing"

	_ "github.com/wacht-soc/wacht/internal/parse/cloudtrail"
	"github.com/wacht-soc/wacht/internal/parse/parsetest"
)

func TestGolden(t *testing.T) { parsetest.GoldenLines(t, "cloudtrail", "ndjson") }

func FuzzParse(f *testing.F) {
	parsetest.Fuzz(f, "cloudtrail", filepath.Join("testdata", "events.ndjson"))
}

func BenchmarkParse(b *testing.B) {
	parsetest.Bench(b, "cloudtrail", parsetest.RepeatFile(b, filepath.Join("testdata", "events.ndjson"), 500))
}

func TestPanther(t *testing.T) {
	evs := parsetest.Check(t, "cloudtrail", parsetest.PantherLogs(t, "AWS_CloudTrail.jsonl"), func(ev *event.Event) string {
		// Panther's samples are trimmed: only those with the key have a time.
		if v, ok := ev.Get("eventTime"); ok && v.Str() != "redacted" && ev.Time.Equal(ev.IngestTime) {
			return "eventTime not read"
		}
		if ev.LogSource.Product == "" {
			return "no logsource"
		}
		return ""
	})
	t.Logf("%d events, %d with source.ip, %d with event.action", len(evs), parsetest.Count(evs, "source.ip"), parsetest.Count(evs, "event.action"))
	if len(evs) == 0 || parsetest.Count(evs, "source.ip") == 0 {
		t.Fatal("no entities")
	}
}

func TestTrailFile(t *testing.T) { parsetest.GoldenWhole(t, "cloudtrail", "json") }
