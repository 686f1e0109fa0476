package json_test

import (
	"bufio"
	"bytes"
	stdjson "encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wacht-soc/wacht/event"
	jsonparser "github.com/wacht-soc/wacht/internal/parse/json"
	"github.com/wacht-soc/wacht/internal/parse/parsetest"
)

func TestGolden(t *testing.T) { parsetest.GoldenLines(t, "json", "ndjson") }

func TestErrorsNameOffset(t *testing.T) {
	f := func(in []byte, want string) {
		t.Helper()
		ev := parsetest.NewEvent()
		err := jsonparser.New(jsonparser.Options{}).Parse(in, &ev)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%.40q: error %v, want it to contain %q", in, err, want)
		}
	}
	deep := strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)
	f([]byte(deep), "JSON at byte 1500: nested deeper than 300")
	f([]byte(`{"a":"b`), "JSON at byte 7")
	f([]byte("{\"a\":\"\xff\"}"), "JSON at byte 6: invalid UTF-8")
	f([]byte(`{"a":1} x`), "JSON at byte 9")
	f([]byte("\x00\x01\x02binary"), "want an object")
	f(nil, "empty record")
}

func TestHuge(t *testing.T) {
	big := []byte(`{"message":"` + strings.Repeat("x", 10<<20) + `"}`)
	ev := parsetest.NewEvent()
	if err := jsonparser.New(jsonparser.Options{}).Parse(big, &ev); err != nil || len(ev.Message) != 10<<20 {
		t.Fatalf("10 MB record: %v", err)
	}
}

func TestParseAll(t *testing.T) {
	p := jsonparser.New(jsonparser.Options{})
	for _, in := range []string{`[{"a":1},{"a":2}]`, "{\"a\":1}\n\n{\"a\":2}\n"} {
		var n int
		err := p.ParseAll([]byte(in), parsetest.NewEvent(), func(ev *event.Event) error {
			n++
			if ev.GetString("a") != fmt.Sprint(n) {
				t.Errorf("%q: event %d: a = %q", in, n, ev.GetString("a"))
			}
			return nil
		})
		if err != nil || n != 2 {
			t.Fatalf("%q: %d events, %v", in, n, err)
		}
	}
}

// TestOTRF parses every Windows event of a few OTRF data sets (JSON lines
// from the lab's pipeline) and checks that each gets its own time.
func TestOTRF(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(parsetest.Shared(t), "datasets", "otrf-security-datasets", "atomic", "windows", "*", "host", "*.zip"))
	if len(files) == 0 {
		t.Skip("no OTRF zip files")
	}
	if len(files) > 4 {
		files = files[:4]
	}
	for _, f := range files {
		n := 0
		parsetest.ZipLines(t, f, func(line []byte) {
			ev := parsetest.NewEvent()
			if err := jsonparser.New(jsonparser.Options{}).Parse(line, &ev); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if ev.Time.IsZero() {
				t.Fatalf("%s: no time in %.200s", f, line)
			}
			n++
		})
		t.Logf("%s: %d events", filepath.Base(f), n)
	}
}

func FuzzParse(f *testing.F) {
	data, _ := os.ReadFile(filepath.Join("testdata", "basic.ndjson"))
	for _, l := range parsetest.Lines(data) {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ev := parsetest.NewEvent()
		_ = jsonparser.New(jsonparser.Options{}).Parse(b, &ev)
	})
}

// benchInput is 2,000 Windows-like events as JSON lines, nested like
// Winlogbeat's output.
func benchInput() ([][]byte, int) {
	var buf bytes.Buffer
	for i := range 2000 {
		fmt.Fprintf(&buf, `{"@timestamp":"2025-02-28T22:%02d:%02d.%03dZ","message":"A new process has been created. Process %d","host":{"name":"WKS%d"},`+
			`"winlog":{"channel":"Security","event_id":4688,"provider_name":"Microsoft-Windows-Security-Auditing","computer_name":"WKS%d.corp.example","record_id":%d,`+
			`"event_data":{"SubjectUserSid":"S-1-5-18","SubjectUserName":"WKS%d$","NewProcessId":"0x%x","NewProcessName":"C:\\Windows\\System32\\cmd.exe",`+
			`"CommandLine":"cmd.exe /c whoami /all %d","TokenElevationType":"%%%%1936","ParentProcessName":"C:\\Windows\\explorer.exe"}},"event":{"code":"4688","kind":"event","outcome":"success"},"tags":["beats","windows"]}`+"\n",
			i%60, i%60, i%1000, i, i%40, i%40, 100000+i, i%40, 0x1000+i, i)
	}
	data := buf.Bytes()
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	return lines, len(data)
}

func BenchmarkParse(b *testing.B) {
	lines, size := benchInput()
	b.SetBytes(int64(size))
	p := jsonparser.New(jsonparser.Options{})
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lines {
			ev := event.Event{Fields: make([]event.Field, 0, 24)}
			if err := p.Parse(l, &ev); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(lines))/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkStdlibMapBaseline is the baseline: encoding/json into
// map[string]any on the same input, without flattening.
func BenchmarkStdlibMapBaseline(b *testing.B) {
	lines, size := benchInput()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lines {
			var m map[string]any
			if err := stdjson.Unmarshal(l, &m); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(lines))/b.Elapsed().Seconds(), "events/s")
}
