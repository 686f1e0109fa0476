package detect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/sigma"
)

// Rule tests are data: a folder per case holding rule.yml (one or more
// Sigma documents), events.jsonl (one flat JSON object per line; _time,
// _msg and _logsource.{product,category,service} set the event's reserved
// members, logsource product "test" by default) and want.json:
//
//	{"matches": {"<rule id>": [<indexes of the events that fire it>]},
//	 "placeholders": {"name": ["value"]}, "problems": ["<rule id>"], "no_flush": false}
//
// Rules absent from matches must not fire; correlations are flushed at the
// end unless no_flush.

// CaseWant is want.json of a rule test case.
type CaseWant struct {
	Placeholders map[string][]string `json:"placeholders"`
	Matches      map[string][]int    `json:"matches"`
	Problems     []string            `json:"problems"`
	NoFlush      bool                `json:"no_flush"`
}

// CaseResult is the outcome of one case.
type CaseResult struct {
	Dir      string   `json:"dir"`
	Events   int      `json:"events"`
	Failures []string `json:"failures,omitempty"`
}

// Passed reports whether the case passed.
func (r CaseResult) Passed() bool { return len(r.Failures) == 0 }

// FindCases returns the case folders under root (folders with a rule.yml
// and a want.json), sorted.
func FindCases(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Name() != "rule.yml" {
			return nil
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "want.json")); err == nil {
			out = append(out, dir)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find rule tests under %s: %w", root, err)
	}
	sort.Strings(out)
	return out, nil
}

// RunCase runs one case folder. An error means the case itself could not
// be read; a failing expectation is a CaseResult failure.
func RunCase(dir string) (CaseResult, error) {
	res := CaseResult{Dir: dir}
	data, err := os.ReadFile(filepath.Join(dir, "rule.yml"))
	if err != nil {
		return res, fmt.Errorf("read rule test %s: %w", dir, err)
	}
	wd, err := os.ReadFile(filepath.Join(dir, "want.json"))
	if err != nil {
		return res, fmt.Errorf("read rule test %s: %w", dir, err)
	}
	var want CaseWant
	dec := json.NewDecoder(bytes.NewReader(wd))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&want); err != nil {
		return res, fmt.Errorf("read %s: %w", filepath.Join(dir, "want.json"), err)
	}
	rules, err := sigma.ParseRules("rule.yml", data)
	if err != nil {
		res.Failures = append(res.Failures, "parse: "+err.Error())
	}
	eng, _ := sigma.Compile(&sigma.Collection{Rules: rules}, sigma.Options{Placeholders: want.Placeholders})
	var problems []string
	for _, p := range eng.Problems() {
		problems = append(problems, p.Rule.ID)
	}
	sort.Strings(problems)
	sort.Strings(want.Problems)
	if !reflect.DeepEqual(problems, want.Problems) && (len(problems) > 0 || len(want.Problems) > 0) {
		res.Failures = append(res.Failures, fmt.Sprintf("rules that failed to compile: %v, want %v (%v)", problems, want.Problems, eng.Problems()))
	}
	evs, err := ReadCaseEvents(filepath.Join(dir, "events.jsonl"))
	if err != nil {
		return res, err
	}
	res.Events = len(evs)
	index := map[*event.Event]int{}
	for i, ev := range evs {
		index[ev] = i
	}
	got := map[string][]int{}
	record := func(m sigma.Match) {
		i, ok := index[m.Event]
		if !ok {
			i = -1
		}
		id := ruleID(m.Rule)
		got[id] = append(got[id], i)
	}
	for _, ev := range evs {
		eng.Match(ev, record)
	}
	if !want.NoFlush {
		eng.Flush(time.Time{}, record)
	}
	ids := map[string]bool{}
	for id := range got {
		ids[id] = true
	}
	for id := range want.Matches {
		ids[id] = true
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	for _, id := range sorted {
		if g, w := got[id], want.Matches[id]; !reflect.DeepEqual(g, w) && (len(g) > 0 || len(w) > 0) {
			res.Failures = append(res.Failures, fmt.Sprintf("rule %s matched events %v, want %v", id, g, w))
		}
	}
	return res, nil
}

// ReadCaseEvents reads an events.jsonl file of a rule test.
func ReadCaseEvents(path string) ([]*event.Event, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rule test events: %w", err)
	}
	var p fastjson.Parser
	var out []*event.Event
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		ev := &event.Event{LogSource: event.LogSource{Product: "test"}}
		if _, err := ev.ParseJSONObject(&p, sc.Bytes()); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if v, ok := ev.Get("_time"); ok {
			tm, err := time.Parse(time.RFC3339Nano, v.String())
			if err != nil {
				return nil, fmt.Errorf("%s:%d: _time: %w", path, line, err)
			}
			ev.Time = tm
			ev.Delete("_time")
		}
		if v, ok := ev.Get("_msg"); ok {
			ev.Message = v.String()
			ev.Delete("_msg")
		}
		for _, k := range []string{"product", "category", "service"} {
			v, ok := ev.Get("_logsource." + k)
			if !ok {
				continue
			}
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
		if t, ok := ev.Get("_tenant"); ok {
			ev.Tenant = strings.TrimSpace(t.String())
			ev.Delete("_tenant")
		}
		out = append(out, ev)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}
