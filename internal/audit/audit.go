// Package audit is wacht's tamper-evident audit trail: who did what, when,
// from where, in which tenant, with hashes of the state before and after.
//
// Records are appended to one log per instance, in the state database.
// Each record is chained to the previous one (its hash covers the previous
// hash and its own canonical encoding) and is a leaf of a Merkle tree built
// with golang.org/x/mod/sumdb/tlog, the Go checksum database's log. Signed
// checkpoints (tree size and root, a golang.org/x/mod/sumdb/note signed by
// the instance's Ed25519 key) are written every few minutes: any record can
// be proven included in a checkpoint, and a checkpoint proves that nothing
// before it was changed, removed or reordered. Verify walks the whole log
// with nothing but the database and the public key and names the first
// broken link.
//
// Appends are batched: concurrent Append calls share one transaction (and so
// one fsync). No API updates or deletes records.
package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/wacht-soc/wacht/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

func init() {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err)
	}
	store.RegisterMigrations("audit", sub)
}

// SystemTenant is the tenant of the log's own rows (tree hashes,
// checkpoints) and of records that concern no one tenant.
const SystemTenant = "_system"

// Outcome of an audited action.
type Outcome string

// Outcomes.
const (
	OutcomeOK     Outcome = "ok"
	OutcomeDenied Outcome = "denied"
	OutcomeFailed Outcome = "failed"
)

// Record is one audited fact.
type Record struct {
	Seq    int64     `json:"seq"`
	Time   time.Time `json:"time"`
	Tenant string    `json:"tenant"`
	// Actor is who: "user:alice", "token:ci", "system".
	Actor string `json:"actor"`
	// Action is what: "POST /api/v1/cases", "bus.incident.updated",
	// "users.create".
	Action string `json:"action"`
	// Subject is the record acted on (an id), if any.
	Subject string `json:"subject,omitempty"`
	// Source is from where (peer address, "cli", "bus").
	Source  string  `json:"source,omitempty"`
	Outcome Outcome `json:"outcome"`
	// BeforeHash and AfterHash are SHA-256 (hex) of the state before and
	// after (or of the request) — never the state itself, which may hold
	// personal data or secrets.
	BeforeHash string `json:"before_hash,omitempty"`
	AfterHash  string `json:"after_hash,omitempty"`
	// Detail is a small JSON object with more context (status, route).
	Detail   json.RawMessage `json:"detail,omitempty"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
}

// HashOf returns the hex SHA-256 of v's JSON encoding (for BeforeHash and
// AfterHash); "" for nil.
func HashOf(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// canonical is the byte string a record's hashes cover: everything but
// the hashes themselves, in a fixed order.
func (r *Record) canonical() []byte {
	detail := string(r.Detail)
	if detail == "" {
		detail = "{}"
	}
	b, _ := json.Marshal([]any{"wacht.audit.v1", r.Seq, store.FormatTime(r.Time), r.Tenant, r.Actor, r.Action,
		r.Subject, r.Source, string(r.Outcome), r.BeforeHash, r.AfterHash, detail})
	return b
}

// chainHash is SHA-256(prev || canonical), hex.
func chainHash(prev string, canon []byte) string {
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write(canon)
	return hex.EncodeToString(h.Sum(nil))
}

// Log appends to the audit trail.
type Log struct {
	db     *store.DB
	signer note.Signer
	origin string
	now    func() time.Time
	log    *slog.Logger

	queue chan *pending
	done  chan struct{}
	stop  sync.Once

	mu    sync.Mutex // guards cache
	cache map[int64]tlog.Hash
}

type pending struct {
	recs []Record
	err  chan error
}

// Options configure a Log.
type Options struct {
	// Signer signs checkpoints (see LoadOrCreateKey); nil: no checkpoints.
	Signer note.Signer
	Now    func() time.Time
	Log    *slog.Logger
	// MaxBatch bounds records per transaction (default 2000).
	MaxBatch int
}

// Open starts the log's writer. Close stops it.
func Open(db *store.DB, o Options) *Log {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 2000
	}
	l := &Log{db: db, signer: o.Signer, now: o.Now, log: o.Log,
		queue: make(chan *pending, 4096), done: make(chan struct{}), cache: map[int64]tlog.Hash{}}
	if o.Signer != nil {
		l.origin = o.Signer.Name()
	}
	go l.run(o.MaxBatch)
	return l
}

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("audit log closed")

// Append records rs and returns once they are committed. Seq, PrevHash
// and Hash are assigned; a zero Time is now.
func (l *Log) Append(ctx context.Context, rs ...Record) error {
	if len(rs) == 0 {
		return nil
	}
	p := &pending{recs: rs, err: make(chan error, 1)}
	select {
	case l.queue <- p:
	case <-l.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-p.err:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the writer after the queued appends.
func (l *Log) Close() {
	l.stop.Do(func() {
		close(l.done)
	})
}

func (l *Log) run(maxBatch int) {
	for {
		var batch []*pending
		select {
		case p := <-l.queue:
			batch = append(batch, p)
		case <-l.done:
			// Drain what was queued before Close.
			for {
				select {
				case p := <-l.queue:
					p.err <- l.write([]*pending{p})
				default:
					return
				}
			}
		}
		n := len(batch[0].recs)
	fill:
		for n < maxBatch {
			select {
			case p := <-l.queue:
				batch = append(batch, p)
				n += len(p.recs)
			default:
				break fill
			}
		}
		err := l.write(batch)
		for _, p := range batch {
			p.err <- err
		}
	}
}

// write commits one batch in one transaction.
func (l *Log) write(batch []*pending) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var recs []*Record
	now := l.now().UTC().Truncate(time.Microsecond)
	for _, p := range batch {
		for i := range p.recs {
			r := &p.recs[i]
			if r.Time.IsZero() {
				r.Time = now
			}
			r.Time = r.Time.UTC().Truncate(time.Microsecond)
			if r.Tenant == "" {
				r.Tenant = SystemTenant
			}
			if r.Outcome == "" {
				r.Outcome = OutcomeOK
			}
			if len(r.Detail) > 0 && !json.Valid(r.Detail) {
				r.Detail = json.RawMessage(strconv.Quote(string(r.Detail)))
			}
			recs = append(recs, r)
		}
	}
	var newHashes map[int64]tlog.Hash
	err := l.db.Tx(ctx, func(tx *store.Tx) error {
		next, prev, err := tail(ctx, tx)
		if err != nil {
			return err
		}
		newHashes = map[int64]tlog.Hash{}
		reader := l.reader(ctx, tx, newHashes)
		var treeRows []any
		var recRows []any
		for _, r := range recs {
			r.Seq = next
			next++
			canon := r.canonical()
			r.PrevHash = prev
			r.Hash = chainHash(prev, canon)
			prev = r.Hash
			hs, err := tlog.StoredHashes(r.Seq, canon, reader)
			if err != nil {
				return fmt.Errorf("tree hashes of record %d: %w", r.Seq, err)
			}
			base := tlog.StoredHashCount(r.Seq)
			for i, h := range hs {
				newHashes[base+int64(i)] = h
				treeRows = append(treeRows, base+int64(i), SystemTenant, hex.EncodeToString(h[:]))
			}
			recRows = append(recRows, r.Seq, r.Tenant, store.TimeOf(r.Time), r.Actor, r.Action, r.Subject, r.Source,
				string(r.Outcome), r.BeforeHash, r.AfterHash, detailText(r.Detail), r.PrevHash, r.Hash)
		}
		if err := insertRows(ctx, tx, "audit_records (seq, tenant, at, actor, action, subject, source, outcome, before_hash, after_hash, detail, prev_hash, hash)", 13, recRows); err != nil {
			return err
		}
		return insertRows(ctx, tx, "audit_tree (idx, tenant, hash)", 3, treeRows)
	})
	if err != nil {
		l.log.Error("audit_append_failed", "records", len(recs), "err", err)
		return fmt.Errorf("append %d audit records: %w", len(recs), err)
	}
	l.mu.Lock()
	if len(l.cache) > 1<<16 {
		clear(l.cache)
	}
	for k, v := range newHashes {
		l.cache[k] = v
	}
	l.mu.Unlock()
	return nil
}

func detailText(d json.RawMessage) string {
	if len(d) == 0 {
		return "{}"
	}
	return string(d)
}

// insertRows inserts rows in multi-row statements.
func insertRows(ctx context.Context, tx *store.Tx, into string, cols int, vals []any) error {
	const perStmt = 200
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	for len(vals) > 0 {
		n := min(len(vals)/cols, perStmt)
		var sb strings.Builder
		sb.WriteString("INSERT INTO " + into + " VALUES ")
		for i := range n {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(one)
		}
		if _, err := tx.Exec(ctx, sb.String(), vals[:n*cols]...); err != nil {
			return fmt.Errorf("insert into %s: %w", strings.Fields(into)[0], err)
		}
		vals = vals[n*cols:]
	}
	return nil
}

// tail returns the next sequence number and the last record's hash.
func tail(ctx context.Context, q store.Querier) (int64, string, error) {
	var seq int64
	var hash string
	err := q.QueryRow(ctx, "SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1").Scan(&seq, &hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, "", nil
	case err != nil:
		return 0, "", fmt.Errorf("read audit tail: %w", err)
	}
	return seq + 1, hash, nil
}

// reader reads stored tree hashes: this batch's, the cache, then the
// database.
func (l *Log) reader(ctx context.Context, q store.Querier, batch map[int64]tlog.Hash) tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		var missing []int64
		l.mu.Lock()
		for i, x := range idx {
			if h, ok := batch[x]; ok {
				out[i] = h
			} else if h, ok := l.cache[x]; ok {
				out[i] = h
			} else {
				missing = append(missing, x)
			}
		}
		l.mu.Unlock()
		if len(missing) == 0 {
			return out, nil
		}
		got, err := readHashes(ctx, q, missing)
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		for k, v := range got {
			l.cache[k] = v
		}
		l.mu.Unlock()
		for i, x := range idx {
			if h, ok := batch[x]; ok {
				out[i] = h
			} else if h, ok := got[x]; ok {
				out[i] = h
			} else if h, ok := l.cacheGet(x); ok {
				out[i] = h
			} else {
				return nil, fmt.Errorf("audit tree hash %d missing", x)
			}
		}
		return out, nil
	})
}

func (l *Log) cacheGet(x int64) (tlog.Hash, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, ok := l.cache[x]
	return h, ok
}

func readHashes(ctx context.Context, q store.Querier, idx []int64) (map[int64]tlog.Hash, error) {
	args := make([]any, len(idx))
	for i, x := range idx {
		args[i] = x
	}
	rows, err := q.Query(ctx, "SELECT idx, hash FROM audit_tree WHERE idx IN ("+store.Placeholders(len(idx))+")", args...)
	if err != nil {
		return nil, fmt.Errorf("read audit tree: %w", err)
	}
	defer rows.Close()
	out := map[int64]tlog.Hash{}
	for rows.Next() {
		var x int64
		var s string
		if err := rows.Scan(&x, &s); err != nil {
			return nil, fmt.Errorf("read audit tree: %w", err)
		}
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != tlog.HashSize {
			return nil, fmt.Errorf("audit tree hash %d is malformed", x)
		}
		out[x] = tlog.Hash(b)
	}
	return out, rows.Err()
}

// Checkpoint is a signed tree head.
type Checkpoint struct {
	Size int64     `json:"size"`
	Root string    `json:"root"` // base64, as in the note
	Note string    `json:"note"` // the signed note text
	Time time.Time `json:"time"`
}

// checkpointText is the note body: origin, size, root (the format of
// transparency-log checkpoints).
func checkpointText(origin string, size int64, root tlog.Hash) string {
	return fmt.Sprintf("%s\n%d\n%s\n", origin, size, root.String())
}

// Anchor signs and stores a checkpoint of the current tree, unless the
// latest one already covers it. It returns the newest checkpoint.
func (l *Log) Anchor(ctx context.Context) (Checkpoint, error) {
	if l.signer == nil {
		return Checkpoint{}, errors.New("anchor audit log: no signing key")
	}
	var cp Checkpoint
	err := l.db.Tx(ctx, func(tx *store.Tx) error {
		size, _, err := tail(ctx, tx)
		if err != nil {
			return err
		}
		last, err := latestCheckpoint(ctx, tx)
		if err != nil {
			return err
		}
		if last.Size == size && size > 0 {
			cp = last
			return nil
		}
		root, err := tlog.TreeHash(size, l.reader(ctx, tx, nil))
		if err != nil {
			return fmt.Errorf("tree hash at %d: %w", size, err)
		}
		msg, err := note.Sign(&note.Note{Text: checkpointText(l.origin, size, root)}, l.signer)
		if err != nil {
			return fmt.Errorf("sign checkpoint: %w", err)
		}
		cp = Checkpoint{Size: size, Root: root.String(), Note: string(msg), Time: l.now().UTC().Truncate(time.Microsecond)}
		_, err = tx.Exec(ctx, "INSERT INTO audit_checkpoints (size, tenant, root, note, at) VALUES (?, ?, ?, ?, ?)",
			cp.Size, SystemTenant, cp.Root, cp.Note, store.TimeOf(cp.Time))
		return err
	})
	if err != nil {
		return Checkpoint{}, fmt.Errorf("anchor audit log: %w", err)
	}
	return cp, nil
}

// RunAnchors anchors every interval (measured on tick, which tests drive)
// until ctx ends.
func (l *Log) RunAnchors(ctx context.Context, tick <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			if _, err := l.Anchor(ctx); err != nil && ctx.Err() == nil {
				l.log.Error("audit_anchor_failed", "err", err)
			}
		}
	}
}

func latestCheckpoint(ctx context.Context, q store.Querier) (Checkpoint, error) {
	cps, err := checkpoints(ctx, q, "ORDER BY size DESC LIMIT 1")
	if err != nil || len(cps) == 0 {
		return Checkpoint{}, err
	}
	return cps[0], nil
}

func checkpoints(ctx context.Context, q store.Querier, tailSQL string) ([]Checkpoint, error) {
	rows, err := q.Query(ctx, "SELECT size, root, note, at FROM audit_checkpoints "+tailSQL)
	if err != nil {
		return nil, fmt.Errorf("read audit checkpoints: %w", err)
	}
	defer rows.Close()
	var out []Checkpoint
	for rows.Next() {
		var c Checkpoint
		var at store.Timestamp
		if err := rows.Scan(&c.Size, &c.Root, &c.Note, &at); err != nil {
			return nil, fmt.Errorf("read audit checkpoints: %w", err)
		}
		c.Time = at.Time
		out = append(out, c)
	}
	return out, rows.Err()
}

// Latest returns the newest checkpoint (zero when there is none).
func (l *Log) Latest(ctx context.Context) (Checkpoint, error) { return latestCheckpoint(ctx, l.db) }
