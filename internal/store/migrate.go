package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
)

// Migrations
//
// Each domain package owns its schema. It embeds its goose SQL files and
// registers them in init:
//
//	//go:embed migrations
//	var migrations embed.FS
//
//	func init() {
//		sub, _ := fs.Sub(migrations, "migrations")
//		store.RegisterMigrations("cases", sub, "auth") // after auth: cases references users
//	}
//
// The folder holds goose files (00001_create_cases.sql with "-- +goose Up"
// and "-- +goose Down" sections). Files at its root run on both backends;
// when the SQL must differ, put the files in sqlite/ and postgres/ subfolders
// instead (same versions in both). Each domain has its own version table,
// wacht_schema_<domain>, so domains number their files independently.
//
// Sets are applied in a stable order: dependencies named in `after` first,
// otherwise by domain name. Rules for a migration:
//
//   - every table has a tenant column (TEXT NOT NULL); the contract suite
//     checks it;
//   - times are TIMESTAMPTZ columns written with Timestamp;
//   - every Up has a Down that undoes it: when an upgrade fails, Open undoes
//     the migrations it applied in that run so the previous binary keeps
//     working (the suite runs up, down, up for every registered set);
//   - no "-- +goose NO TRANSACTION": each file must be atomic;
//   - prefer additive changes (new tables, nullable columns) so that a
//     binary one version older can still run against the new schema.

// MigrationSet is one domain's migrations.
type MigrationSet struct {
	// Domain names the owner ("auth", "cases"); lower case, digits, '_'.
	Domain string
	// FS holds goose SQL files, or sqlite/ and postgres/ subfolders of them.
	FS fs.FS
	// After lists domains whose tables this set references.
	After []string
}

var registry struct {
	mu   sync.Mutex
	sets map[string]MigrationSet
}

var domainName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,40}$`)

// RegisterMigrations adds a domain's migrations; call it from init. It
// panics on a bad or duplicate domain name, as that is a programming error
// found at start.
func RegisterMigrations(domain string, fsys fs.FS, after ...string) {
	if !domainName.MatchString(domain) {
		panic(fmt.Sprintf("store: invalid migration domain %q", domain))
	}
	if fsys == nil {
		panic(fmt.Sprintf("store: nil migrations for domain %q", domain))
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.sets == nil {
		registry.sets = map[string]MigrationSet{}
	}
	if _, ok := registry.sets[domain]; ok {
		panic(fmt.Sprintf("store: migrations for domain %q registered twice", domain))
	}
	registry.sets[domain] = MigrationSet{Domain: domain, FS: fsys, After: slices.Clone(after)}
}

// RegisteredMigrations returns the registered sets in application order.
func RegisteredMigrations() []MigrationSet { return registeredMigrations() }

func registeredMigrations() []MigrationSet {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	out := make([]MigrationSet, 0, len(registry.sets))
	for _, s := range registry.sets {
		out = append(out, s)
	}
	return out
}

// orderSets sorts sets so that every set comes after the ones it names in
// After; ties go by domain name.
func orderSets(sets []MigrationSet) ([]MigrationSet, error) {
	byName := map[string]MigrationSet{}
	for _, s := range sets {
		if _, dup := byName[s.Domain]; dup {
			return nil, fmt.Errorf("migrations for domain %q given twice", s.Domain)
		}
		byName[s.Domain] = s
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	state := map[string]int{} // 1 visiting, 2 done
	var out []MigrationSet
	var visit func(n string, path []string) error
	visit = func(n string, path []string) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("migration domains depend on each other in a cycle: %s", strings.Join(append(path, n), " -> "))
		case 2:
			return nil
		}
		s, ok := byName[n]
		if !ok {
			return fmt.Errorf("migrations for domain %q need domain %q, which is not registered", path[len(path)-1], n)
		}
		state[n] = 1
		deps := slices.Clone(s.After)
		sort.Strings(deps)
		for _, d := range deps {
			if err := visit(d, append(path, n)); err != nil {
				return err
			}
		}
		state[n] = 2
		out = append(out, s)
		return nil
	}
	for _, n := range names {
		if err := visit(n, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// VersionTablePrefix starts the names of goose's version tables, which are
// the only tables without a tenant column.
const VersionTablePrefix = "wacht_schema_"

type domainProvider struct {
	set MigrationSet
	p   *goose.Provider
}

func (db *DB) providers() ([]domainProvider, error) {
	sets, err := orderSets(db.migs)
	if err != nil {
		return nil, err
	}
	dialect := goose.DialectSQLite3
	if db.dialect == Postgres {
		dialect = goose.DialectPostgres
	}
	out := make([]domainProvider, 0, len(sets))
	for _, s := range sets {
		fsys := s.FS
		if sub, err := fs.Sub(s.FS, string(db.dialect)); err == nil {
			if entries, err := fs.ReadDir(sub, "."); err == nil && len(entries) > 0 {
				fsys = sub
			}
		}
		if err := checkTransactional(fsys); err != nil {
			return nil, fmt.Errorf("load migrations of %s: %w", s.Domain, err)
		}
		p, err := goose.NewProvider(dialect, db.write, fsys,
			goose.WithTableName(VersionTablePrefix+s.Domain),
			goose.WithDisableGlobalRegistry(true),
		)
		if err != nil {
			return nil, fmt.Errorf("load migrations of %s: %w", s.Domain, err)
		}
		out = append(out, domainProvider{set: s, p: p})
	}
	return out, nil
}

// MigrationStatus is one migration of one domain.
type MigrationStatus struct {
	Domain    string    `json:"domain"`
	Version   int64     `json:"version"`
	Name      string    `json:"name"`
	Applied   bool      `json:"applied"`
	AppliedAt time.Time `json:"applied_at,omitzero"`
}

// MigrationStatus lists every known migration and whether it is applied.
// It creates the (empty) version tables when they are missing.
func (db *DB) MigrationStatus(ctx context.Context) ([]MigrationStatus, error) {
	ps, err := db.providers()
	if err != nil {
		return nil, err
	}
	var out []MigrationStatus
	for _, dp := range ps {
		st, err := dp.p.Status(ctx)
		if err != nil {
			return nil, fmt.Errorf("migration status of %s on %s: %w", dp.set.Domain, db, err)
		}
		for _, s := range st {
			out = append(out, MigrationStatus{
				Domain:    dp.set.Domain,
				Version:   s.Source.Version,
				Name:      filepath.Base(s.Source.Path),
				Applied:   s.State == goose.StateApplied,
				AppliedAt: s.AppliedAt.UTC(),
			})
		}
	}
	return out, nil
}

// AppliedMigration reports one migration applied by MigrateUp.
type AppliedMigration struct {
	Domain   string        `json:"domain"`
	Version  int64         `json:"version"`
	Name     string        `json:"name"`
	Duration time.Duration `json:"duration"`
}

// MigrateUp applies pending migrations as Open does: under a lock shared by
// every node (PostgreSQL advisory lock; a lock file beside a SQLite
// database), after a backup of a SQLite file, undoing the whole run when one
// migration fails.
func (db *DB) MigrateUp(ctx context.Context) ([]AppliedMigration, error) {
	return db.migrateUp(ctx, "", false)
}

// MigrationFailedError says which migration failed and what was done about
// it.
type MigrationFailedError struct {
	Domain      string
	Version     int64
	Err         error
	RolledBack  bool   // the run was undone; the previous binary can use the data
	Backup      string // SQLite backup taken before the run, if any
	RollbackErr error
}

func (e *MigrationFailedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "migration %s %d failed: %v", e.Domain, e.Version, e.Err)
	if e.RolledBack {
		b.WriteString("; the upgrade was rolled back to the previous schema")
	} else {
		fmt.Fprintf(&b, "; rolling back failed: %v", e.RollbackErr)
		if e.Backup != "" {
			fmt.Fprintf(&b, "; restore the backup %s", e.Backup)
		}
	}
	return b.String()
}

func (e *MigrationFailedError) Unwrap() error { return e.Err }

func (db *DB) migrateUp(ctx context.Context, backupDir string, atOpen bool) (applied []AppliedMigration, err error) {
	ps, err := db.providers()
	if err != nil {
		return nil, fmt.Errorf("migrate %s: %w", db, err)
	}
	if len(ps) == 0 {
		return nil, nil
	}
	unlock, err := db.migrationLock(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate %s: lock: %w", db, err)
	}
	defer func() {
		if uerr := unlock(); uerr != nil && err == nil {
			err = fmt.Errorf("migrate %s: unlock: %w", db, uerr)
		}
	}()

	fresh := db.dialect == SQLite && db.sqliteEmpty(ctx)
	start := make([]int64, len(ps))
	pending := false
	for i, dp := range ps {
		cur, target, err := dp.p.GetVersions(ctx)
		if err != nil {
			return nil, fmt.Errorf("migrate %s: version of %s: %w", db, dp.set.Domain, err)
		}
		if cur > target {
			return nil, fmt.Errorf("migrate %s: schema of %s is at version %d, newer than this binary knows (%d): run the newer wacht or restore a backup",
				db, dp.set.Domain, cur, target)
		}
		start[i] = cur
		has, err := dp.p.HasPending(ctx)
		if err != nil {
			return nil, fmt.Errorf("migrate %s: pending of %s: %w", db, dp.set.Domain, err)
		}
		pending = pending || has
	}
	if !pending {
		return nil, nil
	}

	var backup string
	if db.dialect == SQLite && !fresh {
		dir := backupDir
		if dir == "" {
			dir = filepath.Dir(db.path)
		}
		backup = filepath.Join(dir, fmt.Sprintf("%s.%s.pre-migrate.bak",
			filepath.Base(db.path), time.Now().UTC().Format("20060102T150405.000000000Z")))
		if err := db.Backup(ctx, backup); err != nil {
			return nil, fmt.Errorf("migrate %s: backup before migrating: %w", db, err)
		}
		db.log.Info("store_backup_before_migration", "path", backup)
	}

	for i, dp := range ps {
		res, err := dp.p.Up(ctx)
		for _, r := range res {
			applied = append(applied, db.logApplied(dp.set.Domain, r))
		}
		if err == nil {
			continue
		}
		var pe *goose.PartialError
		mf := &MigrationFailedError{Domain: dp.set.Domain, Err: err, Backup: backup}
		if errors.As(err, &pe) {
			for _, r := range pe.Applied {
				applied = append(applied, db.logApplied(dp.set.Domain, r))
			}
			if pe.Failed != nil && pe.Failed.Source != nil {
				mf.Version = pe.Failed.Source.Version
			}
			mf.Err = pe.Err
		}
		db.log.Error("store_migration_failed", "domain", dp.set.Domain, "version", mf.Version, "err", mf.Err)
		// Undo this run, newest first, so the previous binary finds the
		// schema it knows.
		var rerr error
		for j := i; j >= 0; j-- {
			if _, err := ps[j].p.DownTo(context.WithoutCancel(ctx), start[j]); err != nil {
				rerr = errors.Join(rerr, fmt.Errorf("%s down to %d: %w", ps[j].set.Domain, start[j], err))
			}
		}
		mf.RolledBack = rerr == nil
		mf.RollbackErr = rerr
		if mf.RolledBack {
			db.log.Warn("store_migration_rolled_back", "domain", dp.set.Domain)
		}
		return nil, fmt.Errorf("migrate %s: %w", db, mf)
	}
	return applied, nil
}

func (db *DB) logApplied(domain string, r *goose.MigrationResult) AppliedMigration {
	a := AppliedMigration{Domain: domain, Duration: r.Duration}
	if r.Source != nil {
		a.Version = r.Source.Version
		a.Name = filepath.Base(r.Source.Path)
	}
	if r.Error == nil {
		db.log.Info("store_migration_applied", "domain", domain, "version", a.Version, "name", a.Name, "duration", a.Duration)
	}
	return a
}

func (db *DB) sqliteEmpty(ctx context.Context) bool {
	var n int
	if err := db.write.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table'").Scan(&n); err != nil {
		return false
	}
	return n == 0
}

// migrationLock serializes migrations between processes.
func (db *DB) migrationLock(ctx context.Context) (func() error, error) {
	switch db.dialect {
	case Postgres:
		conn, err := db.write.Conn(ctx)
		if err != nil {
			return nil, err
		}
		// One lock per schema, so installations sharing a database in
		// different schemas do not wait for each other.
		const key = "hashtext('wacht.migrate.' || current_schema())"
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock("+key+")"); err != nil {
			conn.Close()
			return nil, err
		}
		return func() error {
			_, err := conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock("+key+")")
			return errors.Join(err, conn.Close())
		}, nil
	default:
		return lockFile(ctx, db.path+".migrate-lock")
	}
}

// versionTables lists goose's tables on this database.
func isVersionTable(name string) bool { return strings.HasPrefix(name, VersionTablePrefix) }

// openFileExclusive opens path for a lock; shared by the platform files.
func openLockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}

// MigrateDownTo undoes the migrations of one domain above version, under the
// migration lock. It is for operators repairing a failed upgrade by hand and
// for the contract suite, which checks that every Down undoes its Up.
func (db *DB) MigrateDownTo(ctx context.Context, domain string, version int64) (err error) {
	ps, err := db.providers()
	if err != nil {
		return fmt.Errorf("migrate %s: %w", db, err)
	}
	i := slices.IndexFunc(ps, func(dp domainProvider) bool { return dp.set.Domain == domain })
	if i < 0 {
		return fmt.Errorf("migrate %s: no migrations for domain %q", db, domain)
	}
	unlock, err := db.migrationLock(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s: lock: %w", db, err)
	}
	defer func() { err = errors.Join(err, unlock()) }()
	res, err := ps[i].p.DownTo(ctx, version)
	for _, r := range res {
		if r.Source != nil {
			db.log.Info("store_migration_undone", "domain", domain, "version", r.Source.Version)
		}
	}
	if err != nil {
		return fmt.Errorf("migrate %s: %s down to %d: %w", db, domain, version, err)
	}
	return nil
}

// checkTransactional refuses migrations that opt out of a transaction: a
// failed upgrade could not be undone.
func checkTransactional(fsys fs.FS) error {
	files, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return err
	}
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), "+goose NO TRANSACTION") {
			return fmt.Errorf("%s: NO TRANSACTION migrations are not allowed (a failed upgrade must roll back)", f)
		}
	}
	return nil
}
