package w3c_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse"
	"github.com/wacht-soc/wacht/internal/parse/parsetest"
	_ "github.com/wacht-soc/wacht/internal/parse/w3c"
)

func TestGoldenWhole(t *testing.T) { parsetest.GoldenWhole(t, "w3c", "log") }

// TestLineByLine checks the Stateful behaviour: directives return
// ErrNoEvent, a later #Fields: replaces the columns, Reset goes back to
// IIS's default set.
func TestLineByLine(t *testing.T) {
	in, err := parse.NewInstance("w3c")
	if err != nil {
		t.Fatal(err)
	}
	rec := func(s string) (*event.Event, error) {
		ev := parsetest.NewEvent()
		err := in.Record([]byte(s), &ev)
		return &ev, err
	}
	// No header yet: IIS defaults.
	ev, err := rec("2019-09-03 10:13:36 10.0.2.15 GET /a q=1 80 - 10.0.2.17 curl/8 - 200 0 0 7")
	if err != nil || ev.GetString("c-ip") != "10.0.2.17" || ev.GetString("cs-user-agent") != "curl/8" {
		t.Fatalf("default fields: %v %s", err, ev.AppendJSON(nil))
	}
	if _, err := rec("#Fields: date time c-ip cs-method"); !errors.Is(err, parse.ErrNoEvent) {
		t.Fatalf("header: %v, want ErrNoEvent", err)
	}
	ev, err = rec("2024-01-02 03:04:05 192.0.2.9 DELETE")
	if err != nil || ev.GetString("source.ip") != "192.0.2.9" || ev.GetString("http.request.method") != "DELETE" {
		t.Fatalf("after header: %v %s", err, ev.AppendJSON(nil))
	}
	if want := "2024-01-02T03:04:05Z"; ev.Time.Format("2006-01-02T15:04:05Z07:00") != want {
		t.Errorf("time %v, want %s", ev.Time, want)
	}
	in.Reset()
	if _, err := rec("2024-01-02 03:04:05 192.0.2.9 DELETE"); err == nil {
		t.Error("after Reset a 4-field line must not fit the 15 IIS default fields")
	}
}

func FuzzParse(f *testing.F) {
	parsetest.Fuzz(f, "w3c", filepath.Join("testdata", "iis.log"))
}

func BenchmarkParse(b *testing.B) {
	parsetest.Bench(b, "w3c", parsetest.Repeat(1000,
		"2019-09-03 10:13:36 10.0.2.15 GET /erp/conn.aspx proxy&port=%d&ip=127.0.0.1 80 - 10.0.2.17 Mozilla/5.0+(Windows+NT+10.0) - 200 0 0 7"))
}

// TestTunnaSample reads the IIS log of the EVTX attack samples archive.
func TestTunnaSample(t *testing.T) {
	data := parsetest.TarFile(t, filepath.Join(parsetest.Shared(t), "datasets", "evtx-attack-samples.tgz"), "Tunna_rdp_tunnel_IIS.log")
	in, _ := parse.NewInstance("w3c")
	n := 0
	err := in.Parser.(parse.MultiParser).ParseAll(data, parsetest.NewEvent(), func(ev *event.Event) error {
		n++
		if len(ev.Errors) > 0 {
			t.Errorf("event %d: %v", n, ev.Errors)
		}
		if ev.GetString("cs-uri-stem") == "" || ev.LogSource.Category != "webserver" || ev.Time.Year() != 2019 {
			t.Errorf("event %d lacks stem, logsource or time: %s", n, ev.AppendJSON(nil))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 4000 {
		t.Errorf("%d events, want about 4,300", n)
	}
}
