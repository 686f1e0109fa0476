// Package sigmatest holds test helpers for detection content: a golden
// summary of how often each rule fired over a data set, kept in the
// repository so that a change in detections shows in review.
package sigmatest

import (
	"encoding/json"
	"os"
	"sort"
	"testing"
)

// Summary counts the events read, the matches and the matches per rule id.
type Summary struct {
	Events  int            `json:"events"`
	Matches int            `json:"matches"`
	Rules   map[string]int `json:"rules"`
}

// NewSummary returns an empty summary.
func NewSummary() *Summary { return &Summary{Rules: map[string]int{}} }

// Add counts one match of rule id.
func (s *Summary) Add(id string) { s.Rules[id]++; s.Matches++ }

// Check compares got with the golden file at path, or rewrites the file
// when update is set. rerun is the command that refreshes it, shown when
// the counts differ.
func Check(t *testing.T, path string, got *Summary, update bool, rerun string) {
	t.Helper()
	if update {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (create it with %s)", err, rerun)
	}
	var want Summary
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("golden %s: %v", path, err)
	}
	if got.Events != want.Events {
		t.Fatalf("%d events, golden %s has %d: the data set or its reading changed", got.Events, path, want.Events)
	}
	ids := make([]string, 0, len(got.Rules)+len(want.Rules))
	for id := range got.Rules {
		ids = append(ids, id)
	}
	for id := range want.Rules {
		if _, ok := got.Rules[id]; !ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		if got.Rules[id] != want.Rules[id] {
			t.Errorf("rule %s: %d matches, golden %d", id, got.Rules[id], want.Rules[id])
		}
	}
	if t.Failed() {
		t.Logf("if the change is intended: %s", rerun)
	}
}
