package cloudtrail_test

import (
	"path/filepath"
	"testing"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse"
	_ "github.com/wacht-soc/wacht/internal/parse/cloudtrail"
	"github.com/wacht-soc/wacht/internal/parse/parsetest"
)

func TestGolden(t *testing.T) { parsetest.GoldenLines(t, "cloudtrail", "ndjson") }

func FuzzParse(f *testing.F) {
	parsetest.Fuzz(f, "cloudtrail", filepath.Join("testdata", "events.ndjson"))
}

func FuzzParseAll(f *testing.F) {
	parsetest.FuzzAll(f, "cloudtrail", filepath.Join("testdata", "trail.json"), filepath.Join("testdata", "lines.json"), filepath.Join("testdata", "pretty.json"))
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

// TestOTRFJSONLines reads the OTRF CloudTrail export (one event per line,
// as Firehose or a CloudWatch export writes them) the way `wacht parse` and
// ingest do: as one input.
func TestOTRFJSONLines(t *testing.T) {
	path := filepath.Join(parsetest.Shared(t), "datasets", "otrf-security-datasets", "atomic", "aws", "collection", "ec2_proxy_s3_exfiltration.zip")
	var data []byte
	lines := 0
	parsetest.ZipLines(t, path, func(l []byte) {
		data = append(append(data, l...), '\n')
		lines++
	})
	in, err := parse.NewInstance("cloudtrail")
	if err != nil {
		t.Fatal(err)
	}
	var evs []*event.Event
	if err := in.ReadAll(data, parsetest.NewEvent(), 0, func(ev *event.Event) error {
		c := *ev
		evs = append(evs, &c)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(evs) != lines || lines != 103 {
		t.Fatalf("%d events from %d lines, want 103", len(evs), lines)
	}
	for _, ev := range evs {
		if len(ev.Errors) > 0 || ev.GetString("event.action") == "" || ev.LogSource.Service != "cloudtrail" {
			t.Fatalf("event %s: errors %v, action %q, logsource %+v", ev.Message, ev.Errors, ev.GetString("event.action"), ev.LogSource)
		}
	}
}
