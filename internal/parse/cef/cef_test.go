package cef_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/wacht-soc/wacht/internal/parse/cef"
	"github.com/wacht-soc/wacht/internal/parse/parsetest"
)

func TestGolden(t *testing.T) { parsetest.GoldenLines(t, "cef", "log") }

func FuzzParse(f *testing.F) {
	parsetest.Fuzz(f, "cef", filepath.Join("testdata", "basic.log"))
}

func BenchmarkParse(b *testing.B) {
	parsetest.Bench(b, "cef", parsetest.Repeat(1000, `CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|10|src=10.0.0.%d dst=2.1.2.2 spt=1232 suser=alice act=blocked msg=Detected a threat %d. No action needed rt=1740736800000 cs1=x cs1Label=Rule`))
}

// TestJC parses the jc project's CEF fixtures and compares the header.
func TestJC(t *testing.T) {
	dir := filepath.Join(parsetest.Shared(t), "datasets", "jc-cef-syslog-fixtures")
	raw, err := os.ReadFile(filepath.Join(dir, "cef.out"))
	if err != nil {
		t.Skip(err)
	}
	js, _ := os.ReadFile(filepath.Join(dir, "cef.json"))
	var want []map[string]any
	if err := json.Unmarshal(js, &want); err != nil {
		t.Fatal(err)
	}
	lines := parsetest.Lines(raw)
	if len(lines) != len(want) {
		t.Fatalf("%d lines, %d expectations", len(lines), len(want))
	}
	var good [][]byte
	var goodWant []map[string]any
	for i, l := range lines {
		if _, bad := want[i]["unparsable"]; bad {
			ev := parsetest.NewEvent()
			if err := cefParser().Parse(l, &ev); err == nil {
				t.Errorf("line %d parsed, jc finds it unparsable", i+1)
			}
			continue
		}
		good, goodWant = append(good, l), append(goodWant, want[i])
	}
	want = goodWant
	evs := parsetest.Check(t, "cef", good, nil)
	for i, ev := range evs {
		for jc, ours := range map[string]string{"deviceVendor": "cef.device_vendor", "deviceProduct": "cef.device_product", "deviceVersion": "cef.device_version", "deviceEventClassId": "cef.signature_id", "name": "cef.name", "agentSeverity": "cef.severity"} {
			if w, _ := want[i][jc].(string); ev.GetString(ours) != w {
				t.Errorf("line %d: %s = %q, jc %q", i+1, ours, ev.GetString(ours), w)
			}
		}
	}
}

func cefParser() *cef.Parser { return &cef.Parser{} }
