package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

// Querier is what repositories run SQL on: a *DB or a *Tx. Queries use `?`
// placeholders whatever the dialect.
type Querier interface {
	Exec(ctx context.Context, query string, args ...any) (sql.Result, error)
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) *sql.Row
	Dialect() Dialect
}

// Exec runs a write outside an explicit transaction (on the single writer
// for SQLite). Do not call it from inside a DB.Tx callback: use the Tx.
func (db *DB) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	q := db.dialect.Rebind(query)
	if st := db.wstmts.get(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return db.write.ExecContext(ctx, q, args...)
}

// Query reads through the read pool.
func (db *DB) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q := db.dialect.Rebind(query)
	if st := db.rstmts.get(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return db.read.QueryContext(ctx, q, args...)
}

// QueryRow reads one row through the read pool.
func (db *DB) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	q := db.dialect.Rebind(query)
	if st := db.rstmts.get(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return db.read.QueryRowContext(ctx, q, args...)
}

// Tx is a transaction handed to a DB.Tx callback.
type Tx struct {
	tx      *sql.Tx
	dialect Dialect
	stmts   *stmtCache // of the pool the transaction runs on; nil on PostgreSQL
}

// stmt returns the cached statement for q bound to the transaction, or nil
// (then noting q, to be prepared once the transaction is over).
func (tx *Tx) stmt(ctx context.Context, q string) *sql.Stmt {
	if tx.stmts == nil {
		return nil
	}
	if st := tx.stmts.lookup(q); st != nil {
		return tx.tx.StmtContext(ctx, st)
	}
	tx.stmts.want(q)
	return nil
}

// Exec runs a statement in the transaction.
func (tx *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	q := tx.dialect.Rebind(query)
	if st := tx.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.tx.ExecContext(ctx, q, args...)
}

// Query runs a query in the transaction.
func (tx *Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q := tx.dialect.Rebind(query)
	if st := tx.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return tx.tx.QueryContext(ctx, q, args...)
}

// QueryRow runs a query returning one row in the transaction.
func (tx *Tx) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	q := tx.dialect.Rebind(query)
	if st := tx.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.tx.QueryRowContext(ctx, q, args...)
}

// Dialect reports the backend.
func (tx *Tx) Dialect() Dialect { return tx.dialect }

// TxOptions sets how DB.TxWith runs a transaction.
type TxOptions struct {
	// Isolation on PostgreSQL; sql.LevelDefault means serializable. SQLite
	// transactions are always serializable.
	Isolation sql.IsolationLevel
	// ReadOnly transactions use the read pool on SQLite and do not take
	// the write lock.
	ReadOnly bool
}

// Tx runs fn in a serializable read-write transaction and commits it when fn
// returns nil. Serialization failures, deadlocks and SQLITE_BUSY roll back and
// run fn again (a few times, with backoff), so fn must not have effects
// outside the transaction. Do not use db (only tx) inside fn: on SQLite the
// writer has one connection.
func (db *DB) Tx(ctx context.Context, fn func(tx *Tx) error) error {
	return db.TxWith(ctx, TxOptions{Isolation: sql.LevelSerializable}, fn)
}

// ReadTx runs fn in a read-only transaction with one consistent snapshot.
func (db *DB) ReadTx(ctx context.Context, fn func(tx *Tx) error) error {
	return db.TxWith(ctx, TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}, fn)
}

// TxWith is Tx with explicit options.
func (db *DB) TxWith(ctx context.Context, opts TxOptions, fn func(tx *Tx) error) error {
	var err error
	for attempt := 0; ; attempt++ {
		err = db.txOnce(ctx, opts, fn)
		if err == nil || !Retryable(err) || attempt+1 >= db.retry.attempts {
			return err
		}
		wait := db.retry.backoff(attempt)
		db.log.Debug("store_tx_retry", "attempt", attempt+1, "wait", wait, "err", err)
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(wait):
		}
	}
}

func (db *DB) txOnce(ctx context.Context, opts TxOptions, fn func(tx *Tx) error) (err error) {
	pool, stmts := db.write, db.wstmts
	var txo *sql.TxOptions
	switch db.dialect {
	case Postgres:
		iso := opts.Isolation
		if iso == sql.LevelDefault {
			iso = sql.LevelSerializable
		}
		txo = &sql.TxOptions{Isolation: iso, ReadOnly: opts.ReadOnly}
	case SQLite:
		if opts.ReadOnly {
			pool, stmts = db.read, db.rstmts
		}
	}
	stx, err := pool.BeginTx(ctx, txo)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = stx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = stx.Rollback()
		}
	}()
	if err = fn(&Tx{tx: stx, dialect: db.dialect, stmts: stmts}); err != nil {
		return err
	}
	if err = stx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	stmts.preparePending(ctx)
	return nil
}

type retryPolicy struct {
	attempts int
	base     time.Duration
	cap      time.Duration
}

var defaultRetry = retryPolicy{attempts: 10, base: 2 * time.Millisecond, cap: 250 * time.Millisecond}

func (p retryPolicy) backoff(attempt int) time.Duration {
	d := p.base << min(attempt, 16)
	if d > p.cap || d <= 0 {
		d = p.cap
	}
	return d/2 + rand.N(d/2+1)
}

// Retryable reports whether err is a transient concurrency failure that a
// new attempt of the same transaction may not hit: PostgreSQL serialization
// failure (40001) or deadlock (40P01), SQLITE_BUSY or SQLITE_LOCKED.
func Retryable(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "40001" || pg.Code == "40P01"
	}
	var le *sqlite.Error
	if errors.As(err, &le) {
		switch le.Code() & 0xff {
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return true
		}
	}
	return false
}

// IsUniqueViolation reports a duplicate key on either backend.
func IsUniqueViolation(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505"
	}
	var le *sqlite.Error
	if errors.As(err, &le) {
		// SQLITE_CONSTRAINT_UNIQUE and SQLITE_CONSTRAINT_PRIMARYKEY
		return le.Code() == 2067 || le.Code() == 1555
	}
	return false
}

// Rebind turns `?` placeholders into the dialect's: `$1, $2…` on
// PostgreSQL. Question marks inside quoted strings, quoted identifiers and
// comments are left alone.
func (d Dialect) Rebind(query string) string {
	if d != Postgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			j := strings.IndexByte(query[i+1:], c)
			if j < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+j+2])
			i += j + 1
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+j+1])
			i += j
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// ForUpdateSkipLocked is the locking clause for claiming rows: empty on
// SQLite, where the single write lock already excludes other claimers.
func (d Dialect) ForUpdateSkipLocked() string {
	if d == Postgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// Placeholders returns "?, ?, …" with n marks.
func Placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// Upsert builds an INSERT that updates the listed columns when a row with
// the same conflict key exists. The syntax (ON CONFLICT … DO UPDATE SET col =
// excluded.col) is shared by SQLite and PostgreSQL; with no update columns it
// is DO NOTHING. Table and column names come from code, never from input.
func Upsert(table string, cols, conflict, update []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (%s) ",
		table, strings.Join(cols, ", "), Placeholders(len(cols)), strings.Join(conflict, ", "))
	if len(update) == 0 {
		b.WriteString("DO NOTHING")
		return b.String()
	}
	b.WriteString("DO UPDATE SET ")
	for i, c := range update {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s = excluded.%s", c, c)
	}
	return b.String()
}

// timeLayout is fixed width so that text comparison on SQLite orders like
// time; microseconds because that is PostgreSQL's precision.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// FormatTime renders t as stored: UTC, microseconds, fixed width.
func FormatTime(t time.Time) string { return t.UTC().Truncate(time.Microsecond).Format(timeLayout) }

// Timestamp is a time column. The zero time is NULL. It writes UTC text with
// microsecond precision (PostgreSQL parses it into timestamptz; SQLite keeps
// the text, which sorts like the time) and reads either form back in UTC.
type Timestamp struct{ time.Time }

// TimeOf wraps t for use as a query argument.
func TimeOf(t time.Time) Timestamp { return Timestamp{t} }

// Value implements driver.Valuer.
func (t Timestamp) Value() (driver.Value, error) {
	if t.IsZero() {
		return nil, nil
	}
	return FormatTime(t.Time), nil
}

// Scan implements sql.Scanner.
func (t *Timestamp) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		t.Time = time.Time{}
	case time.Time:
		t.Time = v.UTC()
	case string:
		return t.parse(v)
	case []byte:
		return t.parse(string(v))
	default:
		return fmt.Errorf("scan timestamp: unsupported %T", src)
	}
	return nil
}

func (t *Timestamp) parse(s string) error {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if v, err := time.Parse(layout, s); err == nil {
			t.Time = v.UTC()
			return nil
		}
	}
	return fmt.Errorf("scan timestamp: cannot parse %q", s)
}

// UpdateVersioned is optimistic concurrency for a table with columns tenant,
// id and version: it applies set (e.g. "title = ?, state = ?") to the row only
// if its version is still version, increments the version and returns the
// new one. It returns ErrConflict when the row changed since it was read and
// ErrNotFound when it does not exist for the tenant.
func UpdateVersioned(ctx context.Context, q Querier, table, tenant string, id any, version int64, set string, args ...any) (int64, error) {
	query := "UPDATE " + table + " SET " + set + ", version = version + 1 WHERE tenant = ? AND id = ? AND version = ?"
	all := append(append(make([]any, 0, len(args)+3), args...), tenant, id, version)
	res, err := q.Exec(ctx, query, all...)
	if err != nil {
		return 0, fmt.Errorf("update %s %v: %w", table, id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("update %s %v: %w", table, id, err)
	}
	if n == 1 {
		return version + 1, nil
	}
	var one int
	err = q.QueryRow(ctx, "SELECT 1 FROM "+table+" WHERE tenant = ? AND id = ?", tenant, id).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, fmt.Errorf("update %s %v: %w", table, id, ErrNotFound)
	case err != nil:
		return 0, fmt.Errorf("update %s %v: %w", table, id, err)
	}
	return 0, fmt.Errorf("update %s %v version %d: %w", table, id, version, ErrConflict)
}

// AnyTenant in ClaimSpec.Tenant lets a system worker claim across tenants.
const AnyTenant = "\x00any"

// ClaimSpec describes work rows to claim from a table with columns tenant
// and id.
type ClaimSpec struct {
	Table  string
	Tenant string // a tenant, or AnyTenant
	// Where selects claimable rows, e.g. "state = 'ready' AND run_at <= ?".
	Where string
	Args  []any
	// OrderBy picks which rows go first, e.g. "run_at, id".
	OrderBy string
	Limit   int
	// Set marks the rows as claimed, e.g. "state = 'running', owner = ?".
	Set     string
	SetArgs []any
}

// Claim takes up to spec.Limit rows in a transaction of its own and returns
// their ids. Two claimers, in one process or on several nodes, never get the
// same row: PostgreSQL skips rows another transaction holds (FOR UPDATE SKIP
// LOCKED, read committed); SQLite serializes claims on its write lock.
func (db *DB) Claim(ctx context.Context, spec ClaimSpec) ([]string, error) {
	var ids []string
	err := db.TxWith(ctx, TxOptions{Isolation: sql.LevelReadCommitted}, func(tx *Tx) error {
		var err error
		ids, err = tx.Claim(ctx, spec)
		return err
	})
	return ids, err
}

// Claim is DB.Claim inside a transaction the caller controls (so the claim
// commits together with other writes). On PostgreSQL run it at read
// committed: at serializable, concurrent claimers fail and retry instead of
// skipping.
func (tx *Tx) Claim(ctx context.Context, spec ClaimSpec) ([]string, error) {
	if spec.Limit <= 0 {
		spec.Limit = 1
	}
	var where []string
	var args []any
	if spec.Tenant != AnyTenant {
		where = append(where, "tenant = ?")
		args = append(args, spec.Tenant)
	}
	if spec.Where != "" {
		where = append(where, "("+spec.Where+")")
		args = append(args, spec.Args...)
	}
	q := "SELECT id FROM " + spec.Table
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if spec.OrderBy != "" {
		q += " ORDER BY " + spec.OrderBy
	}
	q += " LIMIT " + strconv.Itoa(spec.Limit) + tx.dialect.ForUpdateSkipLocked()
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("claim from %s: %w", spec.Table, err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("claim from %s: %w", spec.Table, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim from %s: %w", spec.Table, err)
	}
	rows.Close()
	if len(ids) == 0 {
		return nil, nil
	}
	uargs := append(append([]any{}, spec.SetArgs...), anySlice(ids)...)
	uq := "UPDATE " + spec.Table + " SET " + spec.Set + " WHERE id IN (" + Placeholders(len(ids)) + ")"
	if spec.Tenant != AnyTenant {
		uq += " AND tenant = ?"
		uargs = append(uargs, spec.Tenant)
	}
	if _, err := tx.Exec(ctx, uq, uargs...); err != nil {
		return nil, fmt.Errorf("claim from %s: %w", spec.Table, err)
	}
	return ids, nil
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
