package sigma

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
)

// runSplit feeds evs[:split] to one engine, saves its correlation state,
// restores it into a second engine compiled from the same rules, feeds the
// rest there and flushes. It returns rule id → indexes (event ids) of the
// events that made each rule fire.
func runSplit(t *testing.T, rules []*Rule, evs []*event.Event, split int) map[string][]int {
	t.Helper()
	got := map[string][]int{}
	record := func(m Match) {
		i := -1
		if m.Event != nil {
			i, _ = strconv.Atoi(m.Event.ID)
		}
		got[m.Rule.ID] = append(got[m.Rule.ID], i)
	}
	a, _ := Compile(&Collection{Rules: rules}, Options{})
	for _, ev := range evs[:split] {
		a.Match(ev, record)
	}
	var buf bytes.Buffer
	if _, err := a.SaveState(&buf, time.Time{}); err != nil {
		t.Fatal(err)
	}
	b, _ := Compile(&Collection{Rules: rules}, Options{})
	if _, err := b.RestoreState(&buf); err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs[split:] {
		b.Match(ev, record)
	}
	b.Flush(time.Time{}, record)
	return got
}

// TestCorrelationStateSurvivesRestart runs every correlation case of
// testdata with a restart between every two events: the state saved by one
// engine and restored into a new one gives exactly the matches of an
// uninterrupted run, for every correlation type.
func TestCorrelationStateSurvivesRestart(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join("testdata", "corr_*", "rule.yml"))
	if len(dirs) < 6 {
		t.Fatalf("only %d correlation cases", len(dirs))
	}
	for _, rf := range dirs {
		dir := filepath.Dir(rf)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			data, err := os.ReadFile(rf)
			if err != nil {
				t.Fatal(err)
			}
			rules, err := ParseRules("rule.yml", data)
			if err != nil {
				t.Fatal(err)
			}
			evs := readCaseEvents(t, filepath.Join(dir, "events.jsonl"))
			for i, ev := range evs {
				ev.ID = strconv.Itoa(i)
			}
			whole := runSplit(t, rules, evs, len(evs))
			fired := 0
			for _, r := range rules {
				if r.Kind == KindCorrelation {
					fired += len(whole[r.ID])
				}
			}
			if fired == 0 {
				t.Fatalf("no correlation fired in the uninterrupted run: %v", whole)
			}
			for split := 1; split < len(evs); split++ {
				if got := runSplit(t, rules, evs, split); !reflect.DeepEqual(got, whole) {
					t.Errorf("restart after event %d: %v, uninterrupted %v", split, got, whole)
				}
			}
		})
	}
}

// TestCorrelationHalfWindowRestart is the plain story: half of a failed
// logon burst before a restart, the rest after; the correlation fires once
// after the restart and carries events from before it.
func TestCorrelationHalfWindowRestart(t *testing.T) {
	rules, err := ParseRules("r.yml", []byte(burstRules))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	ev := func(i int) *event.Event {
		e := &event.Event{ID: strconv.Itoa(i), Time: t0.Add(time.Duration(i) * time.Minute), LogSource: event.LogSource{Product: "test"}}
		e.Add("EventID", event.Int(4625))
		e.Add("TargetUserName", event.String("alice"))
		return e
	}
	a, _ := Compile(&Collection{Rules: rules}, Options{})
	for i := range 3 {
		a.Match(ev(i), func(m Match) { t.Errorf("fired before the restart: %v", m.Rule.ID) })
	}
	var buf bytes.Buffer
	n, err := a.SaveState(&buf, t0)
	if err != nil || n != 1 {
		t.Fatalf("saved %d groups, %v", n, err)
	}
	// A fresh engine without the state does not fire on the second half.
	fresh, _ := Compile(&Collection{Rules: rules}, Options{})
	for i := 3; i < 6; i++ {
		fresh.Match(ev(i), func(m Match) { t.Errorf("fresh engine fired: %v", m.Rule.ID) })
	}
	b, _ := Compile(&Collection{Rules: rules}, Options{})
	st, err := b.RestoreState(bytes.NewReader(buf.Bytes()))
	if err != nil || st.Groups != 1 || st.Dropped != 0 {
		t.Fatalf("restore: %+v, %v", st, err)
	}
	var got []Match
	for i := 3; i < 6; i++ {
		b.Match(ev(i), func(m Match) { got = append(got, m) })
	}
	if len(got) != 1 || got[0].Rule.ID != "burst" || got[0].Correlation.Value != 6 {
		t.Fatalf("after restore: %+v", got)
	}
	c := got[0].Correlation
	if !c.First.Equal(t0) || len(c.Events) != 6 || c.Events[0].ID != "0" {
		t.Errorf("correlation lost the events before the restart: first %v, %d events", c.First, len(c.Events))
	}

	// A changed definition (other threshold) does not inherit the state.
	changed, _ := ParseRules("r.yml", []byte(strings.Replace(burstRules, "gte: 6", "gte: 5", 1)))
	cEng, _ := Compile(&Collection{Rules: changed}, Options{})
	st, err = cEng.RestoreState(bytes.NewReader(buf.Bytes()))
	if err != nil || st.Groups != 0 || st.Dropped != 1 {
		t.Errorf("restore into changed rule: %+v, %v", st, err)
	}
	if _, err := cEng.RestoreState(strings.NewReader(`{"version":99}`)); err == nil {
		t.Error("unknown state version accepted")
	}
	if _, err := cEng.RestoreState(strings.NewReader(`{"version":1,"correlations":[{"rule":"x"`)); err == nil {
		t.Error("truncated state accepted")
	}
}

const burstRules = `title: failed logon
id: fail
logsource: {product: test}
detection:
  sel: {EventID: 4625}
  condition: sel
---
title: burst
id: burst
correlation: {type: event_count, rules: [fail], group-by: [TargetUserName], timespan: 10m, condition: {gte: 6}}
`

// FuzzRestoreState: a damaged or hostile state file is an error, never a
// panic, and leaves an engine that still matches.
func FuzzRestoreState(f *testing.F) {
	rules, err := ParseRules("r.yml", []byte(burstRules+`---
title: order
id: order
correlation: {type: temporal_ordered, rules: [fail, fail], group-by: [TargetUserName], timespan: 10m}
`))
	if err != nil {
		f.Fatal(err)
	}
	eng, _ := Compile(&Collection{Rules: rules}, Options{})
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for i := range 3 {
		e := &event.Event{Time: t0.Add(time.Duration(i) * time.Minute), LogSource: event.LogSource{Product: "test"}}
		e.Add("EventID", event.Int(4625))
		e.Add("TargetUserName", event.String("alice"))
		eng.Match(e, func(Match) {})
	}
	var buf bytes.Buffer
	if _, err := eng.SaveState(&buf, t0); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(`{"version":1,"correlations":[{"rule":"burst","groups":[{"key":"k","seen":["2026-01-01T00:00:00Z"],"events":"AQ=="}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, _ := Compile(&Collection{Rules: rules}, Options{MaxGroups: 4, MaxEvents: 2})
		_, _ = e.RestoreState(bytes.NewReader(data))
		ev := &event.Event{Time: t0.Add(5 * time.Minute), LogSource: event.LogSource{Product: "test"}}
		ev.Add("EventID", event.Int(4625))
		ev.Add("TargetUserName", event.String("alice"))
		e.Match(ev, func(Match) {})
		e.Flush(time.Time{}, func(Match) {})
	})
}
