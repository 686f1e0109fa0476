package sim

import (
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/ueba"
)

// BenchmarkAllDetectors runs pre-parsed simulated events (300 users, 10
// days, attacks included) through every detector, GeoIP and peer groups
// on, in batches of 512 as the indexer hands them over; events/s is per
// core (the engine is single-threaded).
func BenchmarkAllDetectors(b *testing.B) {
	s := New(Config{Seed: 1, Users: 300, Days: 10, LearnDays: 3})
	var evs []*event.Event
	if err := s.Run(func(_ time.Time, batch []*event.Event, _ []Detection) error {
		evs = append(evs, batch...)
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	total := 0
	for i := 0; i < b.N; i++ {
		en := ueba.NewEngine(ueba.Config{Geo: s.Geo(), PeerOf: s.PeerOf})
		var out []ueba.Anomaly
		for j := 0; j < len(evs); j += 512 {
			out = en.Process(evs[j:min(j+512, len(evs))], out[:0])
		}
		total += len(evs)
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "events/s")
}
