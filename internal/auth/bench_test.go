package auth_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/auth"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// BenchmarkTokens measures the token repository on every backend side by
// side: inserts, point reads (Verify by hash) and a filtered list (one
// tenant's 100 tokens among 1,000).
//
//	eval "$(scripts/postgres-test.sh start)"
//	go test ./internal/auth -run '^$' -bench Tokens -benchtime 2s
func BenchmarkTokens(b *testing.B) {
	for _, be := range storetest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			ctx := storetest.Context(b)
			db := storetest.Open(b, be.Config(b))
			now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
			ts := auth.NewTokenStore(db, func() time.Time { return now })
			var plain []string
			for i := range 1000 {
				p, _, err := ts.Create(ctx, auth.TokenSpec{Tenant: fmt.Sprint("tenant", i%10), Name: fmt.Sprint("t", i), Role: "admin"})
				if err != nil {
					b.Fatal(err)
				}
				plain = append(plain, p)
			}
			// Record last use once, so Verify below only reads.
			for _, p := range plain {
				if _, err := ts.Verify(ctx, p); err != nil {
					b.Fatal(err)
				}
			}
			b.Run("insert", func(b *testing.B) {
				i := 0
				for b.Loop() {
					if _, _, err := ts.Create(ctx, auth.TokenSpec{Tenant: "bench", Name: fmt.Sprint("i", i), Role: "admin"}); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
			b.Run("point_read", func(b *testing.B) {
				i := 0
				for b.Loop() {
					if _, err := ts.Verify(ctx, plain[i%len(plain)]); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
			b.Run("point_read_parallel", func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					i := 0
					for pb.Next() {
						if _, err := ts.Verify(ctx, plain[i%len(plain)]); err != nil {
							b.Error(err)
							return
						}
						i++
					}
				})
			})
			b.Run("filtered_list_100", func(b *testing.B) {
				for b.Loop() {
					list, err := ts.List(ctx, "tenant3")
					if err != nil || len(list) != 100 {
						b.Fatal(len(list), err)
					}
				}
			})
		})
	}
}
