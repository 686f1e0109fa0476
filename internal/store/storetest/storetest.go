// Package storetest runs contract suites on every state backend: a SQLite
// file in a temporary folder always, and a real PostgreSQL when
// WACHT_TEST_POSTGRES_DSN is set (scripts/postgres-test.sh starts one). With
// WACHT_REQUIRE_POSTGRES=1 a missing DSN fails the tests instead of skipping
// the PostgreSQL half, so CI cannot pass on SQLite alone.
//
// Each test gets an empty database: a new file for SQLite, a new schema
// (dropped afterwards) for PostgreSQL, so tests run in parallel.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/store"
)

// Environment variables read by the suite.
const (
	EnvPostgresDSN     = "WACHT_TEST_POSTGRES_DSN"
	EnvRequirePostgres = "WACHT_REQUIRE_POSTGRES"
)

// Backend is one database kind the suite runs on.
type Backend struct {
	Name string
	// Config returns the configuration of a new, empty database that is
	// removed when the test ends.
	Config func(tb testing.TB) store.Config
}

// Backends lists the backends available to this run. It fails tb when
// PostgreSQL is required but not configured.
func Backends(tb testing.TB) []Backend {
	tb.Helper()
	out := []Backend{{Name: "sqlite", Config: sqliteConfig}}
	if dsn := os.Getenv(EnvPostgresDSN); dsn != "" {
		out = append(out, Backend{Name: "postgres", Config: func(tb testing.TB) store.Config { return postgresConfig(tb, dsn) }})
	} else if os.Getenv(EnvRequirePostgres) == "1" {
		tb.Fatalf("%s=1 but %s is not set: start one with eval \"$(scripts/postgres-test.sh start)\"", EnvRequirePostgres, EnvPostgresDSN)
	}
	return out
}

// ForEachConfig runs fn once per backend with the configuration of a new,
// empty database; fn opens it as it likes.
func ForEachConfig(t *testing.T, fn func(t *testing.T, cfg store.Config)) {
	t.Helper()
	backends := Backends(t)
	for _, be := range backends {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, be.Config(t))
		})
	}
	if len(backends) == 1 {
		t.Run("postgres", func(t *testing.T) {
			t.Skipf("%s not set", EnvPostgresDSN)
		})
	}
}

// ForEachBackend runs fn once per backend with a new database opened with
// the registered migrations applied.
func ForEachBackend(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	ForEachConfig(t, func(t *testing.T, cfg store.Config) {
		fn(t, Open(t, cfg))
	})
}

// Open opens cfg for a test and closes it at the end.
func Open(tb testing.TB, cfg store.Config, opts ...store.Option) *store.DB {
	tb.Helper()
	db, err := store.Open(Context(tb), cfg, Logger(tb), opts...)
	if err != nil {
		tb.Fatalf("open %s: %v", cfg, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// Context is a context for one test with a deadline well below go test's.
func Context(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// Logger writes to the test's log (shown on failure and with -v).
func Logger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func sqliteConfig(tb testing.TB) store.Config {
	return store.Config{Driver: "sqlite", DSN: filepath.Join(tb.TempDir(), "state.db")}
}

func postgresConfig(tb testing.TB, dsn string) store.Config {
	tb.Helper()
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		tb.Fatalf("open postgres: %v", err)
	}
	tb.Cleanup(func() { admin.Close() })
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "wt_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema on %s: %v", store.RedactDSN(dsn), err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return store.Config{Driver: "postgres", DSN: WithSearchPath(dsn, schema)}
}

// WithSearchPath points a PostgreSQL DSN at one schema.
func WithSearchPath(dsn, schema string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return strings.TrimSpace(dsn) + " search_path=" + schema
}

// CheckTenantColumns fails t for every application table without a tenant
// column.
func CheckTenantColumns(t testing.TB, db *store.DB) {
	t.Helper()
	tables, err := db.Tables(Context(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		if !slices.Contains(tb.Columns, "tenant") {
			t.Errorf("table %s has no tenant column (columns %v)", tb.Name, tb.Columns)
		}
	}
}

// TestMigrations is the contract every registered migration set meets on
// every backend: the schema applies, every table has a tenant column, each
// domain's Down undoes its Up (newest domain first) and the schema applies
// again. Domain packages call it from a test of their own.
func TestMigrations(t *testing.T, sets ...store.MigrationSet) {
	t.Helper()
	var opts []store.Option
	if len(sets) > 0 {
		opts = append(opts, store.WithMigrations(sets...))
	}
	ForEachConfig(t, func(t *testing.T, cfg store.Config) {
		ctx := Context(t)
		db := Open(t, cfg, opts...)
		CheckTenantColumns(t, db)
		before, err := db.Tables(ctx)
		if err != nil {
			t.Fatal(err)
		}
		status, err := db.MigrationStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var domains []string
		for _, s := range status {
			if !s.Applied {
				t.Errorf("%s %d %s not applied", s.Domain, s.Version, s.Name)
			}
			if !slices.Contains(domains, s.Domain) {
				domains = append(domains, s.Domain)
			}
		}
		for _, d := range slices.Backward(domains) {
			if err := db.MigrateDownTo(ctx, d, 0); err != nil {
				t.Fatalf("down %s: %v", d, err)
			}
		}
		left, err := db.Tables(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) > 0 {
			t.Errorf("tables left after migrating every domain down: %v", left)
		}
		if _, err := db.MigrateUp(ctx); err != nil {
			t.Fatalf("up again: %v", err)
		}
		after, err := db.Tables(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != len(before) {
			t.Errorf("tables after up, down, up: %d, want %d", len(after), len(before))
		}
	})
}
