package zeek

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse/normalize"
	"github.com/wacht-soc/wacht/internal/parse/parsetest"
)

// parseTSV runs ParseAll; noPlan makes every record finish by field names.
func parseTSV(t *testing.T, data []byte, noPlan bool) ([]*event.Event, *Parser) {
	t.Helper()
	p := New()
	p.noPlan = noPlan
	var out []*event.Event
	err := p.ParseAll(data, parsetest.NewEvent(), func(ev *event.Event) error {
		c := *ev
		out = append(out, &c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, p
}

// checkPlanned requires the planned finish to give the events finish
// gives. It returns how many events there were and whether the last
// header was planned.
func checkPlanned(t *testing.T, name string, data []byte) (int, bool) {
	t.Helper()
	planned, p := parseTSV(t, data, false)
	byName, _ := parseTSV(t, data, true)
	if len(planned) != len(byName) {
		t.Fatalf("%s: %d events planned, %d by name", name, len(planned), len(byName))
	}
	for i := range planned {
		if d := parsetest.DiffEvents(planned[i], byName[i]); d != "" {
			t.Fatalf("%s: event %d: %s", name, i+1, d)
		}
	}
	return len(planned), p.h.plan != nil && p.h.plan.fast
}

func TestPlannedFinishMatchesFinish(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.log"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkPlanned(t, f, data)
	}
	// Headers whose names are ambiguous are not planned, and give the
	// same events either way.
	for name, fields := range map[string]string{
		"duplicate column":            "ts\tquery\tquery",
		"column named like an entity": "ts\tquery\t" + normalize.DNSQuestion,
		"column named _path":          "ts\tquery\t_path",
	} {
		data := "#path\tdns\n#fields\t" + fields + "\n#types\ttime\tstring\tstring\n1521911720.5\t-\tb.example\n1521911721.5\ta.example\tb.example\n"
		p := New()
		var n int
		_ = p.ParseAll([]byte(data), parsetest.NewEvent(), func(*event.Event) error { n++; return nil })
		if n != 2 || p.h.plan == nil || p.h.plan.fast {
			t.Errorf("%s: %d events, plan %+v: want 2 events and no fast plan", name, n, p.h.plan)
		}
		checkPlanned(t, name, []byte(data))
	}
	dir := filepath.Join(parsetest.Shared(t), "datasets", "zeek-wrccdc-2018", "zeek-default")
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log.gz"))
	if len(logs) == 0 {
		if os.Getenv("WACHT_REQUIRE_SHARED") != "" {
			t.Fatal("no zeek-wrccdc-2018 logs")
		}
		t.Skip("no zeek-wrccdc-2018 logs")
	}
	total := 0
	for _, path := range logs {
		data := parsetest.GzipFile(t, path, 0)
		name := strings.TrimSuffix(filepath.Base(path), ".log.gz")
		n, fast := checkPlanned(t, name, data)
		if !fast {
			t.Errorf("%s: the header was not planned", name)
		}
		total += n
	}
	t.Logf("%d events compared", total)
}

// FuzzPlanned: whatever the headers and lines, the planned finish and
// finish by field names agree.
func FuzzPlanned(f *testing.F) {
	for _, name := range []string{"dns.log", "mixed.log"} {
		if data, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("#path\thttp\n#fields\tts\thost\turi\thost\n#types\ttime\tstring\tstring\tstring\n1.5\ta\t/b\tc\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkPlanned(t, "input", data)
	})
}
