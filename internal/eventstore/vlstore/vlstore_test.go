package vlstore

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/eventstore"
	"github.com/wacht-soc/wacht/internal/eventstore/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) eventstore.EventStore {
		st, err := Open(Config{Path: t.TempDir(), Retention: 365 * 24 * time.Hour, MemoryBytes: 64 << 20}, slog.Default())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}

func TestReopenKeepsTenantsAndData(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(Config{Path: dir, MemoryBytes: 64 << 20}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.tenants.id("acme"); err != nil {
		t.Fatal(err)
	}
	b, _ := st.tenants.id("beta")
	st.Close()
	st, err = Open(Config{Path: dir, MemoryBytes: 64 << 20}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got, ok := st.tenants.lookup("beta"); !ok || got != b {
		t.Fatalf("tenant ids not kept: %v %v", got, ok)
	}
}

func TestRejectsShortRetention(t *testing.T) {
	if _, err := Open(Config{Path: t.TempDir(), Retention: time.Hour}, slog.Default()); err == nil {
		t.Fatal("retention of one hour accepted")
	}
}

func TestTenantRetentionDeletesOnlyThatTenantsOldEvents(t *testing.T) {
	st, err := Open(Config{Path: t.TempDir(), MemoryBytes: 64 << 20, TenantRetention: map[string]time.Duration{"acme": 2 * 24 * time.Hour}}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	now := time.Now().UTC()
	mk := func(tenant string, age time.Duration) *event.Event {
		e := &event.Event{Tenant: tenant, Time: now.Add(-age), Message: tenant + " " + age.String()}
		e.ComputeID()
		return e
	}
	if _, err := st.Write(ctx, []*event.Event{mk("acme", 5*24*time.Hour), mk("acme", time.Hour), mk("globex", 5*24*time.Hour)}); err != nil {
		t.Fatal(err)
	}
	st.Flush(ctx)
	n, err := st.ApplyTenantRetention(ctx, now)
	if err != nil || n != 1 {
		t.Fatalf("scheduled %d tasks: %v", n, err)
	}
	count := func(tenant string) int {
		c := 0
		st.Query(ctx, eventstore.Query{Tenant: tenant, LogsQL: "*"}, func(eventstore.Row) error { c++; return nil })
		return c
	}
	deadline := time.Now().Add(30 * time.Second)
	for count("acme") != 1 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if count("acme") != 1 || count("globex") != 1 {
		t.Fatalf("after retention: acme %d (want 1), globex %d (want 1)", count("acme"), count("globex"))
	}
}
