package githubaudit_test

import (
	"github.com/wacht-soc/wacht/event"
	"path/filepath"
	"testing"

	_ "github.com/wacht-soc/wacht/internal/parse/githubaudit"
	"github.com/wacht-soc/wacht/internal/parse/parsetest"
)

func TestGolden(t *testing.T) { parsetest.GoldenLines(t, "githubaudit", "ndjson") }

func FuzzParse(f *testing.F) {
	parsetest.Fuzz(f, "githubaudit", filepath.Join("testdata", "events.ndjson"))
}

func BenchmarkParse(b *testing.B) {
	parsetest.Bench(b, "githubaudit", parsetest.RepeatFile(b, filepath.Join("testdata", "events.ndjson"), 500))
}

func TestPanther(t *testing.T) {
	evs := parsetest.Check(t, "githubaudit", parsetest.PantherLogs(t, "GitHub_Audit.jsonl"), func(ev *event.Event) string {
		// Panther's samples are trimmed: only those with the key have a time.
		if _, ok := ev.Get("created_at"); ok && ev.Time.Equal(ev.IngestTime) {
			return "created_at not read"
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
