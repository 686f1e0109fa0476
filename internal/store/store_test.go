package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

// itemsV1 is the schema "the previous binary" knows.
var itemsV1 = fstest.MapFS{
	"00001_items.sql": file(`-- +goose Up
CREATE TABLE items (
	tenant TEXT NOT NULL,
	id TEXT NOT NULL,
	name TEXT NOT NULL,
	version BIGINT NOT NULL DEFAULT 1,
	created_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (tenant, id)
);
-- +goose Down
DROP TABLE items;
`),
}

func with(base fstest.MapFS, extra map[string]string) fstest.MapFS {
	out := fstest.MapFS{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = file(v)
	}
	return out
}

var (
	itemsV2 = with(itemsV1, map[string]string{"00002_notes.sql": `-- +goose Up
CREATE TABLE notes (tenant TEXT NOT NULL, id TEXT NOT NULL, body TEXT, PRIMARY KEY (tenant, id));
ALTER TABLE items ADD COLUMN color TEXT;
-- +goose Down
DROP TABLE notes;
ALTER TABLE items DROP COLUMN color;
`})
	// itemsBroken fails in its third migration, after two good ones in
	// this domain and one in another.
	itemsBroken = with(itemsV2, map[string]string{"00003_broken.sql": `-- +goose Up
CREATE TABLE more (tenant TEXT NOT NULL, id TEXT NOT NULL);
INSERT INTO no_such_table VALUES (1);
-- +goose Down
DROP TABLE more;
`})
	jobsSet = store.MigrationSet{Domain: "jobs", FS: fstest.MapFS{"00001_jobs.sql": file(`-- +goose Up
CREATE TABLE jobs (
	tenant TEXT NOT NULL,
	id TEXT NOT NULL PRIMARY KEY,
	state TEXT NOT NULL,
	owner TEXT,
	seq BIGINT NOT NULL
);
CREATE INDEX jobs_ready ON jobs (tenant, state, seq);
CREATE TABLE counters (tenant TEXT NOT NULL, id TEXT NOT NULL PRIMARY KEY, n BIGINT NOT NULL);
-- +goose Down
DROP TABLE counters;
DROP TABLE jobs;
`)}}
)

func items(fsys fstest.MapFS) store.MigrationSet {
	return store.MigrationSet{Domain: "items", FS: fsys}
}

func TestMigrationContract(t *testing.T) {
	storetest.TestMigrations(t, items(itemsV2), jobsSet, copySet)
}

func TestMigrationFailureRollsBack(t *testing.T) {
	storetest.ForEachConfig(t, func(t *testing.T, cfg store.Config) {
		ctx := storetest.Context(t)
		backups := t.TempDir()
		// The previous binary created the schema and wrote data.
		old := storetest.Open(t, cfg, store.WithMigrations(items(itemsV1)))
		if _, err := old.Exec(ctx, "INSERT INTO items (tenant, id, name, created_at) VALUES (?, ?, ?, ?)",
			"default", "a", "first", store.TimeOf(time.Now())); err != nil {
			t.Fatal(err)
		}
		old.Close()

		// The new binary brings a good migration in jobs, two good and one
		// broken in items; jobs sorts first, so it is applied before items.
		_, err := store.Open(ctx, cfg, storetest.Logger(t), store.WithBackupDir(backups),
			store.WithMigrations(items(itemsBroken), jobsSet))
		var mf *store.MigrationFailedError
		if !errors.As(err, &mf) {
			t.Fatalf("open with a broken migration: %v, want MigrationFailedError", err)
		}
		if mf.Domain != "items" || mf.Version != 3 || !mf.RolledBack {
			t.Fatalf("failure %+v", mf)
		}
		if !strings.Contains(err.Error(), "rolled back") {
			t.Errorf("error does not say it rolled back: %v", err)
		}

		// The previous binary still works on the data.
		old = storetest.Open(t, cfg, store.WithMigrations(items(itemsV1)))
		var name string
		if err := old.QueryRow(ctx, "SELECT name FROM items WHERE tenant = ? AND id = ?", "default", "a").Scan(&name); err != nil || name != "first" {
			t.Fatalf("data after rollback: %q, %v", name, err)
		}
		tables, err := old.Tables(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(tables) != 1 || tables[0].Name != "items" || len(tables[0].Columns) != 5 {
			t.Errorf("schema after rollback: %+v", tables)
		}
		st, err := old.MigrationStatus(ctx)
		if err != nil || len(st) != 1 || !st[0].Applied {
			t.Errorf("status after rollback: %+v, %v", st, err)
		}

		if cfg.Driver == "sqlite" {
			// A backup was taken before migrating and it opens.
			m, _ := filepath.Glob(filepath.Join(backups, "*.pre-migrate.bak"))
			if len(m) != 1 {
				t.Fatalf("backups %v, want one", m)
			}
			b := storetest.Open(t, store.Config{Driver: "sqlite", DSN: m[0]}, store.WithMigrations(items(itemsV1)), store.WithoutMigrate())
			if err := b.QueryRow(ctx, "SELECT name FROM items").Scan(&name); err != nil || name != "first" {
				t.Errorf("backup content: %q, %v", name, err)
			}
		}
	})
}

func TestMigrateNewerSchemaRefused(t *testing.T) {
	storetest.ForEachConfig(t, func(t *testing.T, cfg store.Config) {
		ctx := storetest.Context(t)
		storetest.Open(t, cfg, store.WithMigrations(items(itemsV2))).Close()
		_, err := store.Open(ctx, cfg, storetest.Logger(t), store.WithMigrations(items(itemsV1)))
		if err == nil || !strings.Contains(err.Error(), "newer than this binary") {
			t.Fatalf("old binary on new schema: %v", err)
		}
	})
}

func TestMigrateStatusAndUp(t *testing.T) {
	storetest.ForEachConfig(t, func(t *testing.T, cfg store.Config) {
		ctx := storetest.Context(t)
		db := storetest.Open(t, cfg, store.WithMigrations(items(itemsV2), jobsSet), store.WithoutMigrate())
		st, err := db.MigrationStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(st) != 3 || st[0].Domain != "items" || st[0].Name != "00001_items.sql" || st[0].Applied || st[2].Domain != "jobs" {
			t.Fatalf("status before: %+v", st)
		}
		applied, err := db.MigrateUp(ctx)
		if err != nil || len(applied) != 3 {
			t.Fatalf("up: %+v, %v", applied, err)
		}
		again, err := db.MigrateUp(ctx)
		if err != nil || len(again) != 0 {
			t.Fatalf("second up: %+v, %v", again, err)
		}
		st, _ = db.MigrationStatus(ctx)
		for _, s := range st {
			if !s.Applied || s.AppliedAt.IsZero() {
				t.Errorf("not applied: %+v", s)
			}
		}
	})
}

func TestMigrateConcurrentOpen(t *testing.T) {
	storetest.ForEachConfig(t, func(t *testing.T, cfg store.Config) {
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				db, err := store.Open(storetest.Context(t), cfg, storetest.Logger(t), store.WithMigrations(items(itemsV2), jobsSet))
				if err == nil {
					db.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})
}

func TestDialectFolders(t *testing.T) {
	set := store.MigrationSet{Domain: "seq", FS: fstest.MapFS{
		"sqlite/00001_seq.sql": file(`-- +goose Up
CREATE TABLE seqs (id INTEGER PRIMARY KEY AUTOINCREMENT, tenant TEXT NOT NULL, v TEXT);
-- +goose Down
DROP TABLE seqs;
`),
		"postgres/00001_seq.sql": file(`-- +goose Up
CREATE TABLE seqs (id BIGSERIAL PRIMARY KEY, tenant TEXT NOT NULL, v TEXT);
-- +goose Down
DROP TABLE seqs;
`),
	}}
	storetest.ForEachConfig(t, func(t *testing.T, cfg store.Config) {
		ctx := storetest.Context(t)
		db := storetest.Open(t, cfg, store.WithMigrations(set))
		for _, v := range []string{"a", "b"} {
			if _, err := db.Exec(ctx, "INSERT INTO seqs (tenant, v) VALUES (?, ?)", "default", v); err != nil {
				t.Fatal(err)
			}
		}
		var n int64
		if err := db.QueryRow(ctx, "SELECT max(id) FROM seqs WHERE tenant = ?", "default").Scan(&n); err != nil || n != 2 {
			t.Fatalf("max id %d, %v", n, err)
		}
	})
}

func TestNoTransactionRefused(t *testing.T) {
	set := store.MigrationSet{Domain: "notx", FS: fstest.MapFS{"00001_x.sql": file(`-- +goose NO TRANSACTION
-- +goose Up
CREATE TABLE x (tenant TEXT NOT NULL);
-- +goose Down
DROP TABLE x;
`)}}
	storetest.ForEachConfig(t, func(t *testing.T, cfg store.Config) {
		_, err := store.Open(storetest.Context(t), cfg, storetest.Logger(t), store.WithMigrations(set))
		if err == nil || !strings.Contains(err.Error(), "NO TRANSACTION") {
			t.Fatalf("open: %v", err)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	ctx := storetest.Context(t)
	log := storetest.Logger(t)
	dir := t.TempDir()
	f := func(cfg store.Config, want ...string) {
		t.Helper()
		db, err := store.Open(ctx, cfg, log)
		if err == nil {
			db.Close()
			t.Fatalf("open %s: no error", cfg)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("open %s: error %q does not contain %q", cfg, err, w)
			}
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error shows the password: %v", err)
		}
	}
	f(store.Config{Driver: "mysql", DSN: "x"}, "mysql", "sqlite or postgres")
	f(store.Config{Driver: "sqlite"}, "dsn is empty")
	f(store.Config{Driver: "sqlite", DSN: filepath.Join(dir, "missing", "state.db")}, "open sqlite", "does not exist")
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("not a database "), 512), 0o600); err != nil {
		t.Fatal(err)
	}
	f(store.Config{Driver: "sqlite", DSN: garbage}, "open sqlite", garbage, "not a database")
	f(store.Config{Driver: "postgres", DSN: "postgres://wacht:s3cret@127.0.0.1:1/wacht?connect_timeout=2"}, "open postgres", "127.0.0.1:1", "xxxxx")
	if dsn := os.Getenv(storetest.EnvPostgresDSN); dsn != "" {
		f(store.Config{Driver: "postgres", DSN: withDatabase(t, dsn, "no_such_db_wacht")}, "open postgres", "no_such_db_wacht", "does not exist")
	}
}

func withDatabase(t *testing.T, dsn, name string) string {
	cfg, err := store.ParseURL(dsn)
	if err != nil || !strings.Contains(cfg.DSN, "://") {
		t.Skip("DSN is not a URL")
	}
	i := strings.LastIndex(dsn, "/")
	rest := ""
	if q := strings.Index(dsn[i:], "?"); q >= 0 {
		rest = dsn[i+q:]
	}
	return dsn[:i+1] + name + rest
}

func TestTimestamp(t *testing.T) {
	storetest.ForEachConfig(t, func(t *testing.T, cfg store.Config) {
		ctx := storetest.Context(t)
		db := storetest.Open(t, cfg, store.WithMigrations(items(itemsV1)))
		zone := time.FixedZone("CEST", 2*3600)
		base := time.Date(2024, 3, 31, 2, 30, 0, 123456789, zone)
		for i, d := range []time.Duration{0, 500 * time.Millisecond, 9 * time.Second, time.Microsecond} {
			if _, err := db.Exec(ctx, "INSERT INTO items (tenant, id, name, created_at) VALUES (?, ?, ?, ?)",
				"default", fmt.Sprint(i), "n", store.TimeOf(base.Add(d))); err != nil {
				t.Fatal(err)
			}
		}
		var got store.Timestamp
		if err := db.QueryRow(ctx, "SELECT created_at FROM items WHERE id = '0'").Scan(&got); err != nil {
			t.Fatal(err)
		}
		want := base.UTC().Truncate(time.Microsecond)
		if !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("read %v, want %v", got.Time, want)
		}
		rows, err := db.Query(ctx, "SELECT id FROM items WHERE tenant = ? AND created_at > ? ORDER BY created_at",
			"default", store.TimeOf(base))
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for rows.Next() {
			var id string
			rows.Scan(&id)
			ids = append(ids, id)
		}
		rows.Close()
		if strings.Join(ids, ",") != "3,1,2" {
			t.Errorf("order by time: %v, want 3,1,2", ids)
		}
	})
}

func TestUpdateVersioned(t *testing.T) {
	storetest.ForEachConfig(t, func(t *testing.T, cfg store.Config) {
		ctx := storetest.Context(t)
		db := storetest.Open(t, cfg, store.WithMigrations(items(itemsV1)))
		if _, err := db.Exec(ctx, "INSERT INTO items (tenant, id, name, created_at) VALUES (?, ?, ?, ?)",
			"t1", "a", "v1", store.TimeOf(time.Now())); err != nil {
			t.Fatal(err)
		}
		v, err := store.UpdateVersioned(ctx, db, "items", "t1", "a", 1, "name = ?", "alice's")
		if err != nil || v != 2 {
			t.Fatalf("first update: %d, %v", v, err)
		}
		// A second editor still holds version 1.
		if _, err := store.UpdateVersioned(ctx, db, "items", "t1", "a", 1, "name = ?", "bob's"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("stale update: %v, want ErrConflict", err)
		}
		if _, err := store.UpdateVersioned(ctx, db, "items", "t2", "a", 2, "name = ?", "other tenant"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("other tenant: %v, want ErrNotFound", err)
		}
		err = db.Tx(ctx, func(tx *store.Tx) error {
			_, err := store.UpdateVersioned(ctx, tx, "items", "t1", "a", 2, "name = ?", "in tx")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		var name string
		var version int64
		db.QueryRow(ctx, "SELECT name, version FROM items WHERE tenant = ? AND id = ?", "t1", "a").Scan(&name, &version)
		if name != "in tx" || version != 3 {
			t.Errorf("row %q version %d", name, version)
		}
	})
}

// TestTxRetry has goroutines increment one counter in read-modify-write
// transactions: serializable isolation with retries must lose no update.
func TestTxRetry(t *testing.T) {
	storetest.ForEachConfig(t, func(t *testing.T, cfg store.Config) {
		ctx := storetest.Context(t)
		db := storetest.Open(t, cfg, store.WithMigrations(jobsSet))
		if _, err := db.Exec(ctx, "INSERT INTO counters (tenant, id, n) VALUES ('default', 'c', 0)"); err != nil {
			t.Fatal(err)
		}
		const workers, each = 4, 25
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for range each {
					err := db.Tx(ctx, func(tx *store.Tx) error {
						var n int64
						if err := tx.QueryRow(ctx, "SELECT n FROM counters WHERE tenant = ? AND id = ?", "default", "c").Scan(&n); err != nil {
							return err
						}
						_, err := tx.Exec(ctx, "UPDATE counters SET n = ? WHERE tenant = ? AND id = ?", n+1, "default", "c")
						return err
					})
					if err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		var n int64
		db.QueryRow(ctx, "SELECT n FROM counters WHERE id = 'c'").Scan(&n)
		if n != workers*each {
			t.Errorf("counter %d, want %d", n, workers*each)
		}
	})
}

func TestUpsert(t *testing.T) {
	storetest.ForEachConfig(t, func(t *testing.T, cfg store.Config) {
		ctx := storetest.Context(t)
		db := storetest.Open(t, cfg, store.WithMigrations(jobsSet))
		q := store.Upsert("counters", []string{"tenant", "id", "n"}, []string{"id"}, []string{"n"})
		for _, n := range []int{1, 7} {
			if _, err := db.Exec(ctx, q, "default", "u", n); err != nil {
				t.Fatal(err)
			}
		}
		var n int
		db.QueryRow(ctx, "SELECT n FROM counters WHERE id = 'u'").Scan(&n)
		if n != 7 {
			t.Errorf("n = %d, want 7", n)
		}
		_, err := db.Exec(ctx, "INSERT INTO counters (tenant, id, n) VALUES ('default', 'u', 1)")
		if !store.IsUniqueViolation(err) {
			t.Errorf("duplicate insert: %v, want unique violation", err)
		}
	})
}

func TestBackup(t *testing.T) {
	storetest.ForEachConfig(t, func(t *testing.T, cfg store.Config) {
		ctx := storetest.Context(t)
		db := storetest.Open(t, cfg, store.WithMigrations(jobsSet))
		dest := filepath.Join(t.TempDir(), "backup.db")
		if cfg.Driver == "postgres" {
			if err := db.Backup(ctx, dest); !errors.Is(err, store.ErrBackupUnsupported) {
				t.Fatalf("postgres backup: %v", err)
			}
			return
		}
		insertJobs(t, db, 50)
		// Writes continue while the backup runs.
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range 20 {
				db.Exec(ctx, "INSERT INTO counters (tenant, id, n) VALUES ('default', ?, 1)", fmt.Sprint("during", i))
			}
		}()
		if err := db.Backup(ctx, dest); err != nil {
			t.Fatal(err)
		}
		<-done
		b := storetest.Open(t, store.Config{Driver: "sqlite", DSN: dest}, store.WithMigrations(jobsSet))
		var n int
		b.QueryRow(ctx, "SELECT count(*) FROM jobs").Scan(&n)
		if n != 50 {
			t.Errorf("backup has %d jobs, want 50", n)
		}
		if err := db.Backup(ctx, dest); err == nil {
			t.Error("backup over an existing file succeeded")
		}
	})
}

func insertJobs(t testing.TB, db *store.DB, n int) {
	t.Helper()
	ctx := storetest.Context(t)
	err := db.Tx(ctx, func(tx *store.Tx) error {
		for i := range n {
			if _, err := tx.Exec(ctx, "INSERT INTO jobs (tenant, id, state, seq) VALUES (?, ?, 'ready', ?)",
				"default", fmt.Sprintf("job-%05d", i), i); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
