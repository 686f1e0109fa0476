package winlog_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wacht-soc/wacht/internal/parse/parsetest"
	"github.com/wacht-soc/wacht/internal/parse/winlog"
)

func TestGolden(t *testing.T) { parsetest.GoldenLines(t, "winlog", "ndjson") }

// TestOTRF parses OTRF Windows data sets and checks the Sigma names and
// logsource of every event.
func TestOTRF(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(parsetest.Shared(t), "datasets", "otrf-security-datasets", "atomic", "windows", "*", "host", "*.zip"))
	if len(files) == 0 {
		t.Skip("no OTRF data")
	}
	// every fourth file keeps the test fast and still covers each tactic
	var some []string
	for i := 0; i < len(files); i += 4 {
		some = append(some, files[i])
	}
	files = some
	services := map[string]int{}
	categories := map[string]int{}
	n := 0
	for _, f := range files {
		parsetest.ZipLines(t, f, func(line []byte) {
			ev := parsetest.NewEvent()
			if err := winlog.New().Parse(line, &ev); err != nil {
				t.Fatalf("%s: %v: %.200s", filepath.Base(f), err, line)
			}
			n++
			if ev.GetString("EventID") == "" || ev.GetString("Channel") == "" || ev.LogSource.Product != "windows" {
				t.Fatalf("%s: not normalized: %.300s", filepath.Base(f), ev.AppendJSON(nil))
			}
			services[ev.LogSource.Service]++
			categories[ev.LogSource.Category]++
			if ev.LogSource.Category == "process_creation" && ev.GetString("Image") == "" {
				t.Fatalf("%s: process_creation without Image: %.300s", filepath.Base(f), ev.AppendJSON(nil))
			}
		})
	}
	t.Logf("%d events from %d files; services %v; categories %v", n, len(files), services, categories)
	if services["security"] == 0 || services["sysmon"] == 0 || categories["process_creation"] == 0 {
		t.Fatal("expected Security and Sysmon process creation events")
	}
}

// TestOTRFWinlogbeat6 parses the OTRF data sets shipped by Winlogbeat 6
// (log_name, event_data.*) through Windows Event Forwarding: every event
// gets the Sigma names, a Windows logsource, and the forwarded machine,
// not the collector, as host.name.
func TestOTRFWinlogbeat6(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(parsetest.Shared(t), "datasets", "otrf-security-datasets", "atomic", "windows", "*", "host", "*.tar.gz"))
	if len(files) == 0 {
		t.Skip("no OTRF data")
	}
	n, wlb6, hosts := 0, 0, map[string]bool{}
	categories := map[string]int{}
	for _, f := range files {
		for _, line := range parsetest.Lines(parsetest.TarFile(t, f, ".json")) {
			if !bytes.Contains(line, []byte(`"log_name"`)) {
				continue
			}
			wlb6++
			ev := parsetest.NewEvent()
			if err := winlog.New().Parse(line, &ev); err != nil {
				t.Fatalf("%s: %v: %.200s", filepath.Base(f), err, line)
			}
			n++
			if ev.GetString("EventID") == "" || ev.GetString("Channel") == "" || ev.LogSource.Product != "windows" {
				t.Fatalf("%s: not normalized: %.400s", filepath.Base(f), ev.AppendJSON(nil))
			}
			if c := ev.GetString("Computer"); c != "" && ev.GetString("host.name") != c && !strings.HasPrefix(c, ev.GetString("host.name")+".") {
				t.Fatalf("%s: host.name %q for an event of %q", filepath.Base(f), ev.GetString("host.name"), c)
			}
			hosts[ev.GetString("host.name")] = true
			categories[ev.LogSource.Category]++
			if ev.LogSource.Category == "process_creation" && (ev.GetString("Image") == "" || ev.GetString("process.executable") == "") {
				t.Fatalf("%s: process_creation without Image: %.400s", filepath.Base(f), ev.AppendJSON(nil))
			}
		}
	}
	t.Logf("%d Winlogbeat 6 events from %d archives on %d hosts; categories %v", n, len(files), len(hosts), categories)
	if wlb6 < 1000 || categories["process_creation"] == 0 || len(hosts) < 2 {
		t.Fatal("expected Winlogbeat 6 process creation events from several hosts")
	}
}

func FuzzParse(f *testing.F) {
	parsetest.Fuzz(f, "winlog", filepath.Join("testdata", "shapes.ndjson"))
}

func BenchmarkParse(b *testing.B) {
	parsetest.Bench(b, "winlog", parsetest.Repeat(500,
		`{"@timestamp":"2025-02-28T10:00:00.123Z","message":"A new process has been created.","winlog":{"channel":"Security","event_id":4688,"provider_name":"Microsoft-Windows-Security-Auditing","computer_name":"wks%d","record_id":%d,"event_data":{"SubjectUserName":"alice","NewProcessName":"C:\\Windows\\System32\\whoami.exe","CommandLine":"whoami /all %d","ParentProcessName":"C:\\Windows\\System32\\cmd.exe"}}}`,
		`{"EventTime":"2025-02-28 10:00:02","Hostname":"dc%d","EventID":4625,"SourceName":"Microsoft-Windows-Security-Auditing","Channel":"Security","Message":"An account failed to log on.","TargetUserName":"administrator","IpAddress":"203.0.113.9","IpPort":"%d"}`))
}
