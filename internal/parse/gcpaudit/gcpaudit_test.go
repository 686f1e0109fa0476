package gcpaudit_test

import (
	"github.com/wacht-soc/wacht/event"
	"path/filepath"
	"testing"

	_ "github.com/wacht-soc/wacht/internal/parse/gcpaudit"
	"github.com/wacht-soc/wacht/internal/parse/parsetest"
)

func TestGolden(t *testing.T) { parsetest.GoldenLines(t, "gcpaudit", "ndjson") }

func FuzzParse(f *testing.F) {
	parsetest.Fuzz(f, "gcpaudit", filepath.Join("testdata", "events.ndjson"))
}

func BenchmarkParse(b *testing.B) {
	parsetest.Bench(b, "gcpaudit", parsetest.RepeatFile(b, filepath.Join("testdata", "events.ndjson"), 500))
}

func TestPanther(t *testing.T) {
	evs := parsetest.Check(t, "gcpaudit", parsetest.PantherLogs(t, "GCP_AuditLog.jsonl"), func(ev *event.Event) string {
		// Panther's samples are trimmed: only those with the key have a time.
		if _, ok := ev.Get("timestamp"); ok && ev.Time.Equal(ev.IngestTime) {
			return "timestamp not read"
		}
		if ev.LogSource.Product == "" {
			return "no logsource"
		}
		return ""
	})
	t.Logf("%d events, %d with user.name, %d with event.action", len(evs), parsetest.Count(evs, "user.name"), parsetest.Count(evs, "event.action"))
	if len(evs) == 0 || parsetest.Count(evs, "user.name") == 0 {
		t.Fatal("no entities")
	}
}
