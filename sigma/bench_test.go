package sigma

import (
	"encoding/json"
	"flag"
	"os"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
)

var (
	allOnce sync.Once
	allEng  *Engine
)

func allRulesEngine(tb testing.TB) *Engine {
	tb.Helper()
	allOnce.Do(func() {
		coll, _ := loadAllRules(tb)
		allEng, _ = Compile(coll, Options{Placeholders: testPlaceholders})
	})
	if allEng == nil {
		tb.Skip("rules not loaded")
	}
	return allEng
}

// BenchmarkEngineAllRules evaluates every SigmaHQ rule over the OTRF
// Windows events, one core.
func BenchmarkEngineAllRules(b *testing.B) {
	eng := allRulesEngine(b)
	evs := otrfEventsFor(b, 0)
	matches := 0
	fn := func(Match) { matches++ }
	warmRoutes(eng, evs)
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		eng.Match(evs[i%len(evs)], fn)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	// CPU time is what a loaded machine does not distort: the events/s
	// one core achieves.
	b.ReportMetric(float64(b.N)/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
}

// warmRoutes builds the prefilter of every logsource of evs (done once, on
// first use, by a running engine) so that the timed loop measures matching.
func warmRoutes(eng *Engine, evs []*event.Event) {
	seen := map[event.LogSource]bool{}
	for _, ev := range evs {
		if !seen[ev.LogSource] {
			seen[ev.LogSource] = true
			eng.route(ev.LogSource)
		}
	}
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEngineAllRulesParallel is the same on all cores.
func BenchmarkEngineAllRulesParallel(b *testing.B) {
	eng := allRulesEngine(b)
	evs := otrfEventsFor(b, 0)
	warmRoutes(eng, evs)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			eng.Match(evs[i%len(evs)], func(Match) {})
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkCompileAllRules measures parsing and compiling every rule.
func BenchmarkCompileAllRules(b *testing.B) {
	for i := 0; i < b.N; i++ {
		coll, _ := loadAllRules(b)
		if _, err := Compile(coll, Options{Placeholders: testPlaceholders}); err != nil {
			b.Fatal(err)
		}
	}
}

var updateGolden = flag.Bool("update", false, "rewrite testdata/otrf-golden.json")

// goldenFile holds the match count of every rule that fires over the OTRF
// Windows events: a change in any rule's detections shows in review.
const goldenFile = "testdata/otrf-golden.json"

type golden struct {
	Events  int            `json:"events"`
	Matches int            `json:"matches"`
	Rules   map[string]int `json:"rules"`
}

func TestAllRulesOverOTRF(t *testing.T) {
	eng := allRulesEngine(t)
	evs := otrfEventsFor(t, 0)
	got := golden{Events: len(evs), Rules: map[string]int{}}
	for _, ev := range evs {
		eng.Match(ev, func(m Match) { got.Rules[m.Rule.ID]++; got.Matches++ })
	}
	eng.Flush(time.Time{}, func(m Match) { got.Rules[m.Rule.ID]++; got.Matches++ })
	t.Logf("%d events, %d matches, %d distinct rules fired", len(evs), got.Matches, len(got.Rules))
	if len(got.Rules) < 20 {
		t.Errorf("only %d rules fired over %d OTRF events", len(got.Rules), len(evs))
	}
	if *updateGolden {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(goldenFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	data, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatalf("%v (create it with go test -run TestAllRulesOverOTRF -update)", err)
	}
	var want golden
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if got.Events != want.Events {
		t.Fatalf("%d OTRF events, golden has %d: the dataset or its reading changed", got.Events, want.Events)
	}
	ids := map[string]bool{}
	for id := range got.Rules {
		ids[id] = true
	}
	for id := range want.Rules {
		ids[id] = true
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	for _, id := range sorted {
		if got.Rules[id] != want.Rules[id] {
			t.Errorf("rule %s: %d matches, golden %d", id, got.Rules[id], want.Rules[id])
		}
	}
	if t.Failed() {
		t.Log("if the change is intended: go test ./sigma -run TestAllRulesOverOTRF -update")
	}
}
