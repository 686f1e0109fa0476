// Package store is wacht's SQL state: cases, indicators, playbook runs, users,
// tokens and the audit trail live in tables reached through database/sql,
// either in a pure-Go SQLite file (the default, one machine) or in PostgreSQL
// (several wacht nodes sharing one database).
//
// The package contains every dialect difference so that domain packages write
// one repository with one set of SQL:
//
//   - Queries use `?` placeholders; DB and Tx rebind them to `$n` on
//     PostgreSQL.
//   - Times are stored in UTC with microsecond precision (Timestamp); on
//     SQLite as fixed-width RFC 3339 text that sorts like the time.
//   - Writes on SQLite go through one connection (BEGIN IMMEDIATE), reads
//     through a pool in WAL mode; PostgreSQL transactions run at an explicit
//     isolation level. DB.Tx retries serialization failures, deadlocks and
//     SQLITE_BUSY.
//   - Claim picks work rows with FOR UPDATE SKIP LOCKED on PostgreSQL; on
//     SQLite the single write lock gives the same exactly-once result, also
//     across processes.
//   - UpdateVersioned is optimistic concurrency over a version column
//     (ErrConflict, ErrNotFound).
//
// Every table carries a tenant column and every query path takes a tenant.
//
// Each domain package owns its migrations and registers them in init with
// RegisterMigrations; Open applies pending migrations under a lock, after a
// backup of a SQLite file, and rolls a failed upgrade back to the versions the
// previous binary knew. See migrate.go for the rules a migration follows.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers driver "pgx"
	_ "modernc.org/sqlite"             // registers driver "sqlite"
)

// Sentinel errors callers branch on.
var (
	// ErrNotFound: the record does not exist (for this tenant).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the record changed since it was read (version mismatch).
	ErrConflict = errors.New("conflict: record was changed by someone else")
)

// Dialect names a SQL backend.
type Dialect string

// Supported dialects; the values are also the Config.Driver names.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Config selects the state database. It is the `state:` section of the
// configuration file.
type Config struct {
	// Driver is "sqlite" (default) or "postgres".
	Driver string `yaml:"driver" json:"driver"`
	// DSN is the file path for sqlite and a libpq URL or keyword/value
	// string for postgres (postgres://user:pass@host:5432/db?sslmode=…).
	DSN string `yaml:"dsn" json:"dsn"`
}

// String shows the configuration with the password redacted.
func (c Config) String() string {
	return c.dialect().String() + ":" + RedactDSN(c.DSN)
}

func (c Config) dialect() Dialect {
	if c.Driver == "" {
		return SQLite
	}
	return Dialect(c.Driver)
}

// Validate reports configuration errors that need no database.
func (c Config) Validate() error {
	switch c.dialect() {
	case SQLite, Postgres:
	default:
		return fmt.Errorf("state driver %q: want sqlite or postgres", c.Driver)
	}
	if c.DSN == "" {
		return fmt.Errorf("state dsn is empty for driver %s", c.dialect())
	}
	return nil
}

// ParseURL reads the form used on command lines: "sqlite:PATH" or a
// postgres:// / postgresql:// URL. A bare path means SQLite.
func ParseURL(s string) (Config, error) {
	switch {
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		return Config{Driver: string(Postgres), DSN: s}, nil
	case strings.HasPrefix(s, "sqlite:"):
		p := strings.TrimPrefix(strings.TrimPrefix(s, "sqlite:"), "//")
		if p == "" {
			return Config{}, fmt.Errorf("parse store url %q: empty path", s)
		}
		return Config{Driver: string(SQLite), DSN: p}, nil
	case s == "":
		return Config{}, errors.New("parse store url: empty")
	case strings.Contains(s, "://"):
		return Config{}, fmt.Errorf("parse store url %q: want sqlite:PATH or postgres://…", RedactDSN(s))
	default:
		return Config{Driver: string(SQLite), DSN: s}, nil
	}
}

func (d Dialect) String() string { return string(d) }

var kvPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// RedactDSN hides the password of a PostgreSQL DSN so it can be logged.
func RedactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" && u.Host != "" {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	return kvPassword.ReplaceAllString(dsn, "${1}xxxxx")
}

// DB is an open state database. It is safe for concurrent use.
type DB struct {
	cfg     Config
	dialect Dialect
	log     *slog.Logger
	// write takes every write. On SQLite it has one connection, so writes
	// are serialized in process and BEGIN IMMEDIATE serializes them across
	// processes. On PostgreSQL write and read are the same pool.
	write *sql.DB
	read  *sql.DB
	// wstmts and rstmts cache prepared statements per pool (SQLite only).
	wstmts, rstmts *stmtCache
	migs           []MigrationSet
	path           string // SQLite file
	base           string // SQLite DSN without per-pool parameters
	retry          retryPolicy
}

// SQLiteWriterCacheKiB is the SQLite writer's page cache. Bulk imports
// raise it for their transaction and set it back to this.
const SQLiteWriterCacheKiB = 64 << 10

// Option adjusts Open.
type Option func(*openOptions)

type openOptions struct {
	migrate    bool
	migrations []MigrationSet
	override   bool
	backupDir  string
	maxConns   int
}

// WithoutMigrate opens without applying pending migrations (for `wacht
// migrate status` and for tools that must not change the schema).
func WithoutMigrate() Option { return func(o *openOptions) { o.migrate = false } }

// WithMigrations replaces the registered migration sets (tests, tools).
func WithMigrations(sets ...MigrationSet) Option {
	return func(o *openOptions) { o.migrations = sets; o.override = true }
}

// WithBackupDir sets where SQLite backups taken before migrations go
// (default: next to the database file).
func WithBackupDir(dir string) Option { return func(o *openOptions) { o.backupDir = dir } }

// WithMaxConns bounds the read pool (SQLite) or the pool (PostgreSQL).
func WithMaxConns(n int) Option { return func(o *openOptions) { o.maxConns = n } }

// Open connects to the configured database, checks that it is reachable and
// usable, and (unless WithoutMigrate) applies pending migrations.
func Open(ctx context.Context, cfg Config, logger *slog.Logger, opts ...Option) (*DB, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	o := openOptions{migrate: true}
	for _, f := range opts {
		f(&o)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	db := &DB{cfg: cfg, dialect: cfg.dialect(), log: logger, retry: defaultRetry}
	if o.override {
		db.migs = o.migrations
	} else {
		db.migs = registeredMigrations()
	}
	var err error
	switch db.dialect {
	case SQLite:
		err = db.openSQLite(ctx, o)
	case Postgres:
		err = db.openPostgres(ctx, o)
	}
	if err != nil {
		return nil, err
	}
	if o.migrate {
		if _, err := db.migrateUp(ctx, o.backupDir, true); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

func (db *DB) openSQLite(ctx context.Context, o openOptions) error {
	path := db.cfg.DSN
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	dir := filepath.Dir(abs)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("open sqlite %s: directory %s does not exist", path, dir)
	}
	db.path = abs
	base := "file:" + (&url.URL{Path: abs}).EscapedPath() +
		"?_busy_timeout=10000&_foreign_keys=1&_synchronous=NORMAL"
	db.base = base
	// The journal mode is persistent; set it once on the writer.
	// The writer gets a 64 MiB page cache (SQLite's default is 2 MiB):
	// grouping alerts into 100,000 open incidents touches pages all over
	// the key index, and re-reading them was a tenth of its time.
	db.write, err = sql.Open("sqlite", base+"&_journal_mode=WAL&_txlock=immediate&_pragma=cache_size(-"+strconv.Itoa(SQLiteWriterCacheKiB)+")")
	if err != nil {
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.write.SetMaxOpenConns(1)
	db.write.SetMaxIdleConns(1)
	db.write.SetConnMaxIdleTime(0)
	db.write.SetConnMaxLifetime(0)
	if err := checkSQLite(ctx, db.write); err != nil {
		db.write.Close()
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.read, err = sql.Open("sqlite", base+"&_query_only=1")
	if err != nil {
		db.write.Close()
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	n := o.maxConns
	if n <= 0 {
		n = max(4, runtime.GOMAXPROCS(0))
	}
	db.read.SetMaxOpenConns(n)
	db.read.SetMaxIdleConns(n)
	db.wstmts, db.rstmts = newStmtCache(db.write), newStmtCache(db.read)
	return nil
}

func checkSQLite(ctx context.Context, db *sql.DB) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %s, want wal", mode)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n); err != nil {
		return err
	}
	return nil
}

func (db *DB) openPostgres(ctx context.Context, o openOptions) error {
	name := RedactDSN(db.cfg.DSN)
	pool, err := sql.Open("pgx", db.cfg.DSN)
	if err != nil {
		return fmt.Errorf("open postgres %s: %w", name, err)
	}
	n := o.maxConns
	if n <= 0 {
		n = 16
	}
	// Migrations hold the advisory lock on one connection and run on another.
	n = max(n, 2)
	pool.SetMaxOpenConns(n)
	pool.SetMaxIdleConns(n)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var version string
	if err := pool.QueryRowContext(pctx, "SHOW server_version_num").Scan(&version); err != nil {
		pool.Close()
		return fmt.Errorf("open postgres %s: %w", name, err)
	}
	if v, _ := strconv.Atoi(version); v < 120000 {
		pool.Close()
		return fmt.Errorf("open postgres %s: server version %s is too old, want 12 or newer", name, version)
	}
	db.write, db.read = pool, pool
	return nil
}

// Close releases the connections.
func (db *DB) Close() error {
	db.wstmts.close()
	db.rstmts.close()
	var err error
	if db.write != nil {
		err = db.write.Close()
	}
	if db.read != nil && db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// Dialect reports the backend.
func (db *DB) Dialect() Dialect { return db.dialect }

// Config returns the configuration the database was opened with.
func (db *DB) Config() Config { return db.cfg }

// String names the database without its password.
func (db *DB) String() string { return db.cfg.String() }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.read.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", db, err)
	}
	return nil
}

// Stats reports the pools for /metrics.
func (db *DB) Stats() (write, read sql.DBStats) {
	return db.write.Stats(), db.read.Stats()
}
