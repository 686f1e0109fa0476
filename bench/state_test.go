package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/auth"
	"github.com/wacht-soc/wacht/internal/cases"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// BenchmarkStateStore measures the main repositories on SQLite and
// PostgreSQL side by side: inserts, point reads and filtered lists.
// PostgreSQL runs when WACHT_TEST_POSTGRES_DSN is set (make bench starts
// none; `eval "$(../scripts/postgres-test.sh start)"` does):
//
//	go test -run '^$' -bench StateStore -benchtime 2000x .
func BenchmarkStateStore(b *testing.B) {
	for _, be := range storetest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			ctx := storetest.Context(b)
			db := storetest.Open(b, be.Config(b))
			now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
			clock := func() time.Time { return now }

			ts := auth.NewTokenStore(db, clock)
			var plain []string
			for i := range 1000 {
				p, _, err := ts.Create(ctx, auth.TokenSpec{Tenant: fmt.Sprint("tenant", i%10), Name: fmt.Sprint("t", i), Role: "admin"})
				if err != nil {
					b.Fatal(err)
				}
				plain = append(plain, p)
			}
			b.Run("tokens/insert", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					if _, _, err := ts.Create(ctx, auth.TokenSpec{Tenant: "bench", Name: fmt.Sprint("i", i), Role: "admin"}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("tokens/point_read", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					if _, err := ts.Verify(ctx, plain[i%len(plain)]); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("tokens/filtered_list", func(b *testing.B) {
				for b.Loop() {
					if l, err := ts.List(ctx, "tenant3"); err != nil || len(l) != 100 {
						b.Fatal(len(l), err)
					}
				}
			})

			cs := cases.New(db, cases.Options{Now: clock})
			var ids []string
			raise := func(i int) {
				a, err := cs.RaiseAlert(ctx, "acme", cases.AlertInput{
					Source: "sigma", RuleID: fmt.Sprint("rule-", i%20), RuleTitle: "bench rule", Severity: cases.SevHigh,
					Entities: []cases.Entity{{Kind: "host", Value: fmt.Sprint("host-", i%500)}},
					DedupKey: fmt.Sprint("k", i),
				})
				if err != nil {
					b.Fatal(err)
				}
				ids = append(ids, a.ID)
			}
			for i := range 2000 {
				raise(i)
			}
			b.Run("alerts/insert", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					raise(2000 + i)
				}
			})
			b.Run("alerts/point_read", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					if _, err := cs.GetAlert(ctx, "acme", ids[i%len(ids)]); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("alerts/filtered_list", func(b *testing.B) {
				for b.Loop() {
					if l, err := cs.ListAlerts(ctx, "acme", cases.AlertFilter{RuleID: "rule-7", Limit: 100}); err != nil || len(l) == 0 {
						b.Fatal(len(l), err)
					}
				}
			})
		})
	}
}
