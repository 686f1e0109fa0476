package vlstore

import (
	"log/slog"
	"testing"
	"time"

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
