package store_test

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// copySet has what a real schema has: serial ids, a foreign key, times,
// booleans, blobs, NULLs.
var copySet = store.MigrationSet{Domain: "copyme", FS: fstest.MapFS{
	"sqlite/00001_copy.sql": file(`-- +goose Up
CREATE TABLE cases (id INTEGER PRIMARY KEY AUTOINCREMENT, tenant TEXT NOT NULL, title TEXT NOT NULL,
	opened_at TIMESTAMPTZ NOT NULL, closed_at TIMESTAMPTZ, urgent BOOLEAN NOT NULL, score DOUBLE PRECISION, blob BLOB);
CREATE TABLE comments (tenant TEXT NOT NULL, id TEXT PRIMARY KEY, case_id INTEGER NOT NULL REFERENCES cases (id), body TEXT NOT NULL);
-- +goose Down
DROP TABLE comments;
DROP TABLE cases;
`),
	"postgres/00001_copy.sql": file(`-- +goose Up
CREATE TABLE cases (id BIGSERIAL PRIMARY KEY, tenant TEXT NOT NULL, title TEXT NOT NULL,
	opened_at TIMESTAMPTZ NOT NULL, closed_at TIMESTAMPTZ, urgent BOOLEAN NOT NULL, score DOUBLE PRECISION, blob BYTEA);
CREATE TABLE comments (tenant TEXT NOT NULL, id TEXT PRIMARY KEY, case_id BIGINT NOT NULL REFERENCES cases (id), body TEXT NOT NULL);
-- +goose Down
DROP TABLE comments;
DROP TABLE cases;
`),
}}

func fillCopySet(t *testing.T, db *store.DB, n int) {
	t.Helper()
	ctx := storetest.Context(t)
	base := time.Date(2025, 1, 2, 3, 4, 5, 678901234, time.UTC)
	err := db.Tx(ctx, func(tx *store.Tx) error {
		for i := 1; i <= n; i++ {
			var closed store.Timestamp
			if i%3 == 0 {
				closed = store.TimeOf(base.Add(time.Duration(i) * time.Hour))
			}
			var score any
			if i%4 != 0 {
				score = float64(i) / 8
			}
			if _, err := tx.Exec(ctx, `INSERT INTO cases (tenant, title, opened_at, closed_at, urgent, score, blob)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, "default", fmt.Sprintf("case %d ünïcode 'q'", i),
				store.TimeOf(base.Add(time.Duration(i)*time.Minute)), closed, i%2 == 0, score, []byte{byte(i), 0, 0xff}); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "INSERT INTO comments (tenant, id, case_id, body) VALUES (?, ?, ?, ?)",
				"default", fmt.Sprint("c", i), i, strings.Repeat("x", i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCopy(t *testing.T) {
	backends := storetest.Backends(t)
	for _, from := range backends {
		for _, to := range backends {
			t.Run(from.Name+"_to_"+to.Name, func(t *testing.T) {
				t.Parallel()
				ctx := storetest.Context(t)
				fromCfg, toCfg := from.Config(t), to.Config(t)
				src := storetest.Open(t, fromCfg, store.WithMigrations(copySet))
				const n = 250
				fillCopySet(t, src, n)
				reports, err := store.Copy(ctx, fromCfg, toCfg, storetest.Logger(t), store.WithMigrations(copySet))
				if err != nil {
					t.Fatal(err)
				}
				if len(reports) != 2 || reports[0].Table != "cases" || reports[0].Rows != n || reports[1].Rows != n {
					t.Fatalf("reports %+v", reports)
				}
				dst := storetest.Open(t, toCfg, store.WithMigrations(copySet))
				// The serial id continues after the copied rows.
				if _, err := dst.Exec(ctx, `INSERT INTO cases (tenant, title, opened_at, urgent) VALUES ('default', 'new', ?, ?)`,
					store.TimeOf(time.Now()), true); err != nil {
					t.Fatal(err)
				}
				var maxID int64
				dst.QueryRow(ctx, "SELECT max(id) FROM cases").Scan(&maxID)
				if maxID != n+1 {
					t.Errorf("new id %d, want %d", maxID, n+1)
				}
				var opened store.Timestamp
				dst.QueryRow(ctx, "SELECT opened_at FROM cases WHERE id = 1").Scan(&opened)
				if want := time.Date(2025, 1, 2, 3, 5, 5, 678901000, time.UTC); !opened.Equal(want) {
					t.Errorf("opened_at %v, want %v", opened.Time, want)
				}
				// A second copy into the now non-empty destination is refused.
				if _, err := store.Copy(ctx, fromCfg, toCfg, storetest.Logger(t), store.WithMigrations(copySet)); err == nil || !strings.Contains(err.Error(), "empty destination") {
					t.Errorf("copy into non-empty: %v", err)
				}
			})
		}
	}
}

func TestChecksumDetectsDifference(t *testing.T) {
	storetest.ForEachConfig(t, func(t *testing.T, cfg store.Config) {
		ctx := storetest.Context(t)
		db := storetest.Open(t, cfg, store.WithMigrations(copySet))
		fillCopySet(t, db, 10)
		cols := []string{"tenant", "id", "case_id", "body"}
		a, err := db.TableChecksum(ctx, "comments", cols)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, "UPDATE comments SET body = 'changed' WHERE id = 'c3'"); err != nil {
			t.Fatal(err)
		}
		b, _ := db.TableChecksum(ctx, "comments", cols)
		if a.Rows != b.Rows || a.Checksum == b.Checksum {
			t.Errorf("checksum did not change: %+v %+v", a, b)
		}
	})
}
