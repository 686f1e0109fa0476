package sigma

import (
	"flag"
	"github.com/wacht-soc/wacht/sigma/sigmatest"
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

func TestAllRulesOverOTRF(t *testing.T) {
	eng := allRulesEngine(t)
	evs := otrfEventsFor(t, 0)
	got := sigmatest.NewSummary()
	got.Events = len(evs)
	for _, ev := range evs {
		eng.Match(ev, func(m Match) { got.Add(m.Rule.ID) })
	}
	eng.Flush(time.Time{}, func(m Match) { got.Add(m.Rule.ID) })
	t.Logf("%d events, %d matches, %d distinct rules fired", len(evs), got.Matches, len(got.Rules))
	if len(got.Rules) < 20 {
		t.Errorf("only %d rules fired over %d OTRF events", len(got.Rules), len(evs))
	}
	sigmatest.Check(t, goldenFile, got, *updateGolden, "go test ./sigma -run TestAllRulesOverOTRF -update")
}
