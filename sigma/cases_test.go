package sigma

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/valyala/fastjson"
	"github.com/wacht-soc/wacht/event"
)

// caseWant is want.json of a detection case.
type caseWant struct {
	// Placeholders configure expand.
	Placeholders map[string][]string `json:"placeholders"`
	// Matches maps a rule id (or title) to the indexes of the events that
	// made it fire, in order. Rules absent here must not fire.
	Matches map[string][]int `json:"matches"`
	// Problems lists rule ids that must fail to compile.
	Problems []string `json:"problems"`
	// NoFlush skips Engine.Flush at the end of the events.
	NoFlush bool `json:"no_flush"`
}

// readCaseEvents reads events.jsonl: one flat JSON object per line; _time,
// _msg and _logsource set the reserved members (logsource product "test"
// by default).
func readCaseEvents(t *testing.T, path string) []*event.Event {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var p fastjson.Parser
	var out []*event.Event
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		ev := &event.Event{LogSource: event.LogSource{Product: "test"}}
		if _, err := ev.ParseJSONObject(&p, sc.Bytes()); err != nil {
			t.Fatalf("%s:%d: %v", path, line, err)
		}
		if v, ok := ev.Get("_time"); ok {
			tm, err := time.Parse(time.RFC3339Nano, v.String())
			if err != nil {
				t.Fatalf("%s:%d: %v", path, line, err)
			}
			ev.Time = tm
			ev.Delete("_time")
		}
		if v, ok := ev.Get("_msg"); ok {
			ev.Message = v.String()
			ev.Delete("_msg")
		}
		for _, k := range []string{"product", "category", "service"} {
			if v, ok := ev.Get("_logsource." + k); ok {
				switch k {
				case "product":
					ev.LogSource.Product = v.String()
				case "category":
					ev.LogSource.Category = v.String()
				case "service":
					ev.LogSource.Service = v.String()
				}
				ev.Delete("_logsource." + k)
			}
		}
		out = append(out, ev)
	}
	return out
}

// TestCases runs the detection content of testdata/<case>/{rule.yml,
// events.jsonl, want.json}.
func TestCases(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "*", "rule.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 10 {
		t.Fatalf("only %d cases", len(dirs))
	}
	for _, rf := range dirs {
		dir := filepath.Dir(rf)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			runCase(t, dir)
		})
	}
}

func runCase(t *testing.T, dir string) {
	data, err := os.ReadFile(filepath.Join(dir, "rule.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var want caseWant
	wd, err := os.ReadFile(filepath.Join(dir, "want.json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(wd))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&want); err != nil {
		t.Fatalf("want.json: %v", err)
	}
	rules, err := ParseRules("rule.yml", data)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	eng, _ := Compile(&Collection{Rules: rules}, Options{Placeholders: want.Placeholders})
	var problems []string
	for _, p := range eng.Problems() {
		problems = append(problems, p.Rule.ID)
	}
	sort.Strings(problems)
	sort.Strings(want.Problems)
	if !reflect.DeepEqual(problems, want.Problems) && (len(problems) > 0 || len(want.Problems) > 0) {
		t.Errorf("problems = %v, want %v: %v", problems, want.Problems, eng.Problems())
	}
	evs := readCaseEvents(t, filepath.Join(dir, "events.jsonl"))
	index := map[*event.Event]int{}
	for i, ev := range evs {
		index[ev] = i
	}
	got := map[string][]int{}
	record := func(m Match) {
		id := m.Rule.ID
		if id == "" {
			id = m.Rule.Title
		}
		i, ok := index[m.Event]
		if !ok {
			i = -1
		}
		got[id] = append(got[id], i)
	}
	for _, ev := range evs {
		eng.Match(ev, record)
	}
	if !want.NoFlush {
		eng.Flush(time.Time{}, record)
	}
	if want.Matches == nil {
		want.Matches = map[string][]int{}
	}
	ids := map[string]bool{}
	for id := range got {
		ids[id] = true
	}
	for id := range want.Matches {
		ids[id] = true
	}
	for id := range ids {
		if g, w := got[id], want.Matches[id]; !reflect.DeepEqual(g, w) && (len(g) > 0 || len(w) > 0) {
			t.Errorf("rule %s matched events %v, want %v", id, g, w)
		}
	}
}
