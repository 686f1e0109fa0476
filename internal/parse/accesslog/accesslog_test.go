package accesslog_test

import (
	"path/filepath"
	"testing"

	"github.com/wacht-soc/wacht/event"
	_ "github.com/wacht-soc/wacht/internal/parse/accesslog"
	"github.com/wacht-soc/wacht/internal/parse/parsetest"
)

func TestGolden(t *testing.T) { parsetest.GoldenLines(t, "accesslog", "log") }

func FuzzParse(f *testing.F) {
	parsetest.Fuzz(f, "accesslog", filepath.Join("testdata", "basic.log"))
}

func BenchmarkParse(b *testing.B) {
	parsetest.Bench(b, "accesslog", parsetest.Repeat(1000,
		`10.0.0.%d - alice [01/Mar/2025:10:00:00 +0000] "GET /index.php?id=%d HTTP/1.1" 200 512 "http://example.test/" "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"`))
}

// TestAttackSample reads the Apache access log with web attacks from the
// EVTX attack samples archive: every line parses, with client, method and
// status.
func TestAttackSample(t *testing.T) {
	data := parsetest.TarFile(t, filepath.Join(parsetest.Shared(t), "datasets", "evtx-attack-samples.tgz"), "web_attack_and_isp_webshell_localhost_access_log.txt")
	evs := parsetest.Check(t, "accesslog", parsetest.Lines(data), func(ev *event.Event) string {
		if ev.GetString("source.ip") == "" || ev.GetString("sc-status") == "" || ev.LogSource.Category != "webserver" {
			return "no client, status or logsource"
		}
		return ""
	})
	if len(evs) < 2600 {
		t.Errorf("%d events, want about 2,661", len(evs))
	}
}
