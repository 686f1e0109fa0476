package bench

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/audit"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// BenchmarkAccessDecision is the cost of one authorization decision, as
// every request pays it (target < 5 µs).
//
//	go test -run '^$' -bench AccessDecision .
func BenchmarkAccessDecision(b *testing.B) {
	id := api.Identity{Tenant: "acme", Role: api.RoleSecurityAnalyst, Method: api.AuthToken}
	now := time.Now()
	for b.Loop() {
		if !api.Decide(api.Request{Identity: id, Perm: api.PermEventsRead, Time: now}).Allow {
			b.Fatal("denied")
		}
	}
}

// BenchmarkAuditAppend measures audit records appended per second by 64
// concurrent writers on SQLite, batched into shared transactions (target
// ≥ 20,000/s).
//
//	go test -run '^$' -bench AuditAppend -benchtime 40000x .
func BenchmarkAuditAppend(b *testing.B) {
	db := storetest.Open(b, store.Config{Driver: "sqlite", DSN: b.TempDir() + "/state.db"})
	l := audit.Open(db, audit.Options{})
	defer l.Close()
	ctx := context.Background()
	const writers = 64
	per := b.N/writers + 1
	b.ResetTimer()
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				if err := l.Append(ctx, audit.Record{Tenant: "acme", Actor: "user:alice", Action: "POST /api/v1/cases",
					Subject: fmt.Sprint(i), Source: "10.0.0.1", AfterHash: audit.HashOf(i)}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(per*writers)/b.Elapsed().Seconds(), "records/s")
}
