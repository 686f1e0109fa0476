package sigma

import (
	"sync"
	"testing"
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
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		eng.Match(evs[i%len(evs)], fn)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkEngineAllRulesParallel is the same on all cores.
func BenchmarkEngineAllRulesParallel(b *testing.B) {
	eng := allRulesEngine(b)
	evs := otrfEventsFor(b, 0)
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

func TestAllRulesOverOTRF(t *testing.T) {
	eng := allRulesEngine(t)
	evs := otrfEventsFor(t, 0)
	counts := map[string]int{}
	total := 0
	for _, ev := range evs {
		eng.Match(ev, func(m Match) { counts[m.Rule.ID]++; total++ })
	}
	t.Logf("%d events, %d matches, %d distinct rules fired", len(evs), total, len(counts))
	if len(counts) < 20 {
		t.Errorf("only %d rules fired over %d OTRF events", len(counts), len(evs))
	}
}
