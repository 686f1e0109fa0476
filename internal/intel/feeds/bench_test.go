package feeds_test

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/intel"
	"github.com/wacht-soc/wacht/internal/intel/feeds"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// BenchmarkImportFeeds imports the 686,000 lines of ../shared/intel/feeds
// into SQLite (parse, normalize, store, build the match index) and reports
// lines per second, the distinct indicators stored and the CPU seconds.
//
//	go test ./internal/intel/feeds -run XXX -bench ImportFeeds -benchtime 1x
func BenchmarkImportFeeds(b *testing.B) {
	dir := shared(b, "intel", "feeds")
	for b.Loop() {
		b.StopTimer()
		db := storetest.Open(b, store.Config{Driver: "sqlite", DSN: filepath.Join(b.TempDir(), "state.db")})
		svc := intel.New(intel.Deps{DB: db}, intel.Config{RetroDays: -1})
		b.StartTimer()
		start, cpu0 := time.Now(), cpuTime()
		im := svc.NewImport("default", "feeds")
		if err := feeds.ReadDir(context.Background(), dir, feeds.Options{}, im, nil, func(string, error) {}); err != nil {
			b.Fatal(err)
		}
		st, err := im.Close(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(st.Read)/time.Since(start).Seconds(), "lines/s")
		b.ReportMetric(float64(svc.Index("default").Len()), "indicators")
		b.ReportMetric((cpuTime() - cpu0).Seconds(), "cpu-seconds")
	}
}

// cpuTime is the user and system time of the process: what an import
// costs when the machine is shared and wall time says little.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkParseFeeds is the reading alone (no store): lines per second.
func BenchmarkParseFeeds(b *testing.B) {
	dir := shared(b, "intel", "feeds")
	for b.Loop() {
		var c collect
		start := time.Now()
		if err := feeds.ReadDir(context.Background(), dir, feeds.Options{}, &c, nil, func(string, error) {}); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(c.inds)+c.invalid)/time.Since(start).Seconds(), "lines/s")
	}
}
