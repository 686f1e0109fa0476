package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrBackupUnsupported: online backup into a file is for SQLite; back up
// PostgreSQL with pg_dump (pg_dump --format=custom --file=wacht.dump DSN).
var ErrBackupUnsupported = errors.New("backup into a file is only for sqlite: use pg_dump for postgres")

// Backup writes a consistent copy of a SQLite database into the new file
// dest while the database stays in use (VACUUM INTO). The copy is a normal
// SQLite database that Open accepts.
func (db *DB) Backup(ctx context.Context, dest string) error {
	if db.dialect != SQLite {
		return ErrBackupUnsupported
	}
	abs, err := filepath.Abs(dest)
	if err != nil {
		return fmt.Errorf("backup %s: %w", dest, err)
	}
	if _, err := os.Stat(abs); err == nil {
		return fmt.Errorf("backup %s: file exists", dest)
	}
	// VACUUM INTO reads in one transaction and needs a connection that may
	// write (the read pool is query_only); the writer stays free meanwhile.
	conn, err := sql.Open("sqlite", db.base)
	if err != nil {
		return fmt.Errorf("backup %s into %s: %w", db.path, dest, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "VACUUM INTO ?", abs); err != nil {
		return fmt.Errorf("backup %s into %s: %w", db.path, dest, err)
	}
	return nil
}

// TableReport is the verification of one copied table.
type TableReport struct {
	Table    string `json:"table"`
	Rows     int64  `json:"rows"`
	Checksum string `json:"checksum"`
}

// Copy moves every table of one installation into another, e.g. from a
// SQLite file to PostgreSQL when scaling out. Both databases are opened with
// this binary's migrations (so both have the same schema); the destination's
// tables must be empty. Rows are written in one transaction in foreign key
// order, then every table is verified by row count and an order-independent
// checksum over its normalized values. Nothing is written on failure.
func Copy(ctx context.Context, from, to Config, logger *slog.Logger, opts ...Option) ([]TableReport, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	src, err := Open(ctx, from, logger, opts...)
	if err != nil {
		return nil, fmt.Errorf("copy: source: %w", err)
	}
	defer src.Close()
	dst, err := Open(ctx, to, logger, opts...)
	if err != nil {
		return nil, fmt.Errorf("copy: destination: %w", err)
	}
	defer dst.Close()
	return CopyDB(ctx, src, dst, logger)
}

// CopyDB is Copy between open databases.
func CopyDB(ctx context.Context, src, dst *DB, logger *slog.Logger) ([]TableReport, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	tables, err := src.Tables(ctx)
	if err != nil {
		return nil, fmt.Errorf("copy from %s: %w", src, err)
	}
	dtables, err := dst.Tables(ctx)
	if err != nil {
		return nil, fmt.Errorf("copy to %s: %w", dst, err)
	}
	if !slices.Equal(names(tables), names(dtables)) {
		return nil, fmt.Errorf("copy %s to %s: tables differ: %v and %v", src, dst, names(tables), names(dtables))
	}
	for _, t := range dtables {
		var n int64
		if err := dst.QueryRow(ctx, "SELECT count(*) FROM "+t.Name).Scan(&n); err != nil {
			return nil, fmt.Errorf("copy to %s: count %s: %w", dst, t.Name, err)
		}
		if n > 0 {
			return nil, fmt.Errorf("copy to %s: table %s already has %d rows; copy needs an empty destination", dst, t.Name, n)
		}
	}
	order := dependencyOrder(dtables)
	err = dst.TxWith(ctx, TxOptions{Isolation: sql.LevelReadCommitted}, func(tx *Tx) error {
		if dst.dialect == SQLite {
			if _, err := tx.Exec(ctx, "PRAGMA defer_foreign_keys = ON"); err != nil {
				return err
			}
		}
		for _, t := range order {
			start := time.Now()
			n, err := copyTable(ctx, src, tx, t)
			if err != nil {
				return fmt.Errorf("copy table %s: %w", t.Name, err)
			}
			logger.Info("store_copy_table", "table", t.Name, "rows", n, "duration", time.Since(start))
			if dst.dialect == Postgres {
				if err := resetSequences(ctx, tx, t); err != nil {
					return fmt.Errorf("copy table %s: %w", t.Name, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	var reports []TableReport
	for _, t := range tables {
		a, err := src.TableChecksum(ctx, t.Name, t.Columns)
		if err != nil {
			return nil, err
		}
		b, err := dst.TableChecksum(ctx, t.Name, t.Columns)
		if err != nil {
			return nil, err
		}
		if a != b {
			return nil, fmt.Errorf("copy %s to %s: table %s differs after copy: %d rows %s, %d rows %s",
				src, dst, t.Name, a.Rows, a.Checksum, b.Rows, b.Checksum)
		}
		reports = append(reports, a)
	}
	return reports, nil
}

// Table describes one application table.
type Table struct {
	Name       string
	Columns    []string
	Types      []string // declared column types, lower case
	References []string // tables its foreign keys point to
}

func names(ts []Table) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

// Tables lists the application tables (not goose's version tables) sorted by
// name, with their columns in declaration order.
func (db *DB) Tables(ctx context.Context) ([]Table, error) {
	var q string
	switch db.dialect {
	case SQLite:
		q = `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`
	case Postgres:
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`
	}
	tnames, err := queryStrings(ctx, db, q)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	var out []Table
	for _, name := range tnames {
		if isVersionTable(name) {
			continue
		}
		t := Table{Name: name}
		switch db.dialect {
		case SQLite:
			t.Columns, err = queryStrings(ctx, db, "SELECT name FROM pragma_table_info(?) ORDER BY cid", name)
			if err == nil {
				t.Types, err = queryStrings(ctx, db, "SELECT lower(type) FROM pragma_table_info(?) ORDER BY cid", name)
			}
			if err == nil {
				t.References, err = queryStrings(ctx, db, `SELECT DISTINCT "table" FROM pragma_foreign_key_list(?)`, name)
			}
		case Postgres:
			t.Columns, err = queryStrings(ctx, db, `SELECT column_name FROM information_schema.columns
				WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position`, name)
			if err == nil {
				t.Types, err = queryStrings(ctx, db, `SELECT lower(data_type) FROM information_schema.columns
				WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position`, name)
			}
			if err == nil {
				t.References, err = queryStrings(ctx, db, `SELECT DISTINCT c2.relname FROM pg_constraint k
					JOIN pg_class c1 ON c1.oid = k.conrelid JOIN pg_class c2 ON c2.oid = k.confrelid
					WHERE k.contype = 'f' AND c1.relname = ? AND c1.relnamespace = current_schema()::regnamespace`, name)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("describe table %s: %w", name, err)
		}
		sort.Strings(t.References)
		out = append(out, t)
	}
	return out, nil
}

func queryStrings(ctx context.Context, db *DB, q string, args ...any) ([]string, error) {
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// dependencyOrder puts referenced tables before the tables that reference
// them (self references and cycles are left to deferred checks).
func dependencyOrder(tables []Table) []Table {
	byName := map[string]Table{}
	for _, t := range tables {
		byName[t.Name] = t
	}
	done := map[string]bool{}
	visiting := map[string]bool{}
	var out []Table
	var visit func(n string)
	visit = func(n string) {
		t, ok := byName[n]
		if !ok || done[n] || visiting[n] {
			return
		}
		visiting[n] = true
		for _, r := range t.References {
			visit(r)
		}
		visiting[n] = false
		done[n] = true
		out = append(out, t)
	}
	for _, t := range tables {
		visit(t.Name)
	}
	return out
}

func copyTable(ctx context.Context, src *DB, tx *Tx, t Table) (int64, error) {
	cols := strings.Join(t.Columns, ", ")
	rows, err := src.Query(ctx, "SELECT "+cols+" FROM "+t.Name)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	const batch = 100
	var (
		n           int64
		args        []any
		rowsInBatch int
	)
	rowPH := "(" + Placeholders(len(t.Columns)) + ")"
	flush := func() error {
		if rowsInBatch == 0 {
			return nil
		}
		q := "INSERT INTO " + t.Name + " (" + cols + ") VALUES " + strings.Repeat(rowPH+", ", rowsInBatch-1) + rowPH
		if _, err := tx.Exec(ctx, q, args...); err != nil {
			return err
		}
		args, rowsInBatch = args[:0], 0
		return nil
	}
	vals := make([]any, len(t.Columns))
	ptrs := make([]any, len(t.Columns))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		for i, v := range vals {
			args = append(args, portable(v, t.Types[i]))
		}
		rowsInBatch++
		n++
		if rowsInBatch == batch {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, flush()
}

// portable converts a value scanned from one backend into one the other
// accepts for the destination column type: SQLite keeps booleans as
// integers and times as text.
func portable(v any, destType string) any {
	switch x := v.(type) {
	case int64:
		if destType == "boolean" {
			return x != 0
		}
	case time.Time:
		return FormatTime(x)
	case []byte:
		return bytes.Clone(x)
	}
	return v
}

func resetSequences(ctx context.Context, tx *Tx, t Table) error {
	for _, c := range t.Columns {
		var seq sql.NullString
		if err := tx.QueryRow(ctx, "SELECT pg_get_serial_sequence(?, ?)", t.Name, c).Scan(&seq); err != nil {
			return err
		}
		if !seq.Valid {
			continue
		}
		if _, err := tx.Exec(ctx, "SELECT setval(?, COALESCE((SELECT max("+c+") FROM "+t.Name+"), 0) + 1, false)", seq.String); err != nil {
			return err
		}
	}
	return nil
}

// TableChecksum counts a table's rows and hashes them independently of row
// order and of the backend: each row's values are normalized (times as UTC
// microseconds, booleans as 0/1, integers in decimal, bytes in hex), hashed,
// and the sorted row hashes are hashed again.
func (db *DB) TableChecksum(ctx context.Context, table string, columns []string) (TableReport, error) {
	rows, err := db.Query(ctx, "SELECT "+strings.Join(columns, ", ")+" FROM "+table)
	if err != nil {
		return TableReport{}, fmt.Errorf("checksum %s on %s: %w", table, db, err)
	}
	defer rows.Close()
	vals := make([]any, len(columns))
	ptrs := make([]any, len(columns))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var hashes [][sha256.Size]byte
	var buf []byte
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return TableReport{}, fmt.Errorf("checksum %s on %s: %w", table, db, err)
		}
		buf = buf[:0]
		for _, v := range vals {
			buf = appendNormalized(buf, v)
			buf = append(buf, 0x1f)
		}
		hashes = append(hashes, sha256.Sum256(buf))
	}
	if err := rows.Err(); err != nil {
		return TableReport{}, fmt.Errorf("checksum %s on %s: %w", table, db, err)
	}
	slices.SortFunc(hashes, func(a, b [sha256.Size]byte) int { return bytes.Compare(a[:], b[:]) })
	h := sha256.New()
	for _, x := range hashes {
		h.Write(x[:])
	}
	return TableReport{Table: table, Rows: int64(len(hashes)), Checksum: hex.EncodeToString(h.Sum(nil))}, nil
}

func appendNormalized(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, 'N')
	case int64:
		return strconv.AppendInt(append(b, 'i'), x, 10)
	case int32:
		return strconv.AppendInt(append(b, 'i'), int64(x), 10)
	case bool:
		if x {
			return append(b, 'i', '1')
		}
		return append(b, 'i', '0')
	case float64:
		if x == float64(int64(x)) {
			return strconv.AppendInt(append(b, 'i'), int64(x), 10)
		}
		return strconv.AppendFloat(append(b, 'f'), x, 'g', -1, 64)
	case float32:
		return appendNormalized(b, float64(x))
	case time.Time:
		return append(append(b, 's'), FormatTime(x)...)
	case string:
		return append(append(b, 's'), x...)
	case []byte:
		return hex.AppendEncode(append(b, 'b'), x)
	default:
		return fmt.Appendf(append(b, 'x'), "%v", x)
	}
}
