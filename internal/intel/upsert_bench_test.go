package intel

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// BenchmarkUpsert writes 200,000 indicators in two batches into SQLite the
// way an import does and reports CPU seconds, which a shared machine
// disturbs less than wall time. (Rows sent as one JSON parameter unpacked
// by json_each cost 3.3 CPU seconds here against 2.7 for the multi-row
// VALUES statements, so imports use the latter.)
//
//	go test ./internal/intel -run XXX -bench Upsert -benchtime 1x
func BenchmarkUpsert(b *testing.B) {
	const n = 200_000
	inds := make([]Indicator, 0, n)
	tags := []string{"list:bench"}
	for i := range n {
		t, v, _ := Normalize(TypeDomain, fmt.Sprintf("host%d.bench%d.example", i, i%977))
		inds = append(inds, Indicator{ID: ID(t, v), Type: t, Value: v, Confidence: 70, Source: "bench", Tags: tags})
	}
	now := time.Now()
	for _, path := range []struct {
		name string
		fn   func(context.Context, *store.Tx, string, []Indicator, time.Time) error
	}{{"values", upsertValues}} {
		b.Run(path.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				db := storetest.Open(b, store.Config{Driver: "sqlite", DSN: filepath.Join(b.TempDir(), "state.db")})
				b.StartTimer()
				cpu0 := procCPU()
				for start := 0; start < n; start += 100_000 {
					batch := slices.Clone(inds[start : start+100_000])
					slices.SortFunc(batch, func(x, y Indicator) int { return strings.Compare(x.ID, y.ID) })
					err := db.Tx(context.Background(), func(tx *store.Tx) error {
						if _, err := tx.Exec(context.Background(), "PRAGMA cache_size = -131072"); err != nil {
							return err
						}
						return path.fn(context.Background(), tx, "default", batch, now)
					})
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric((procCPU() - cpu0).Seconds(), "cpu-seconds")
			}
		})
	}
}

func procCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
