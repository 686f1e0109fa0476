package intel

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/store"
)

//go:embed migrations
var migrations embed.FS

func init() {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err)
	}
	store.RegisterMigrations("intel", sub)
}

// repo is the SQL of the intel domain.
type repo struct{ db *store.DB }

var indicatorCols = []string{"tenant", "id", "type", "value", "confidence", "tlp", "pap", "valid_from", "valid_until",
	"source", "first_seen", "last_seen", "tags", "attack", "stix_id", "description", "warninglist", "updated_at"}

// On re-import the feed's view wins, except first_seen and the sightings.
var indicatorUpdateCols = []string{"confidence", "tlp", "pap", "valid_from", "valid_until", "source", "last_seen",
	"tags", "attack", "stix_id", "description", "warninglist", "updated_at"}

const selectIndicator = `SELECT tenant, id, type, value, confidence, tlp, pap, valid_from, valid_until, source,
	first_seen, last_seen, sightings, last_sighted, tags, attack, stix_id, description, warninglist FROM intel_indicators`

// rowsPerInsert keeps a statement under SQLite's and PostgreSQL's
// parameter limits (18 columns × 400 = 7,200).
const rowsPerInsert = 400

func jsonList(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	b, _ := json.Marshal(ss)
	return string(b)
}

func parseList(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	if json.Unmarshal([]byte(s), &out) != nil {
		return nil
	}
	return out
}

// upsert writes indicators of one tenant in one transaction.
func (r repo) upsert(ctx context.Context, tenant string, inds []Indicator, now time.Time) error {
	if len(inds) == 0 {
		return nil
	}
	return r.db.Tx(ctx, func(tx *store.Tx) error {
		if tx.Dialect() == store.SQLite {
			// Inserts by random ids touch pages all over the table: a
			// 128 MiB page cache saves re-reading them. It stays for the
			// batches of one import; the writer connection is shared, so
			// the import ends with resetCache.
			if _, err := tx.Exec(ctx, "PRAGMA cache_size = -131072"); err != nil {
				return fmt.Errorf("size sqlite cache: %w", err)
			}
		}
		return upsertValues(ctx, tx, tenant, inds, now)
	})
}

// upsertValues writes indicators with multi-row VALUES statements.
func upsertValues(ctx context.Context, tx *store.Tx, tenant string, inds []Indicator, now time.Time) error {
	// Every full chunk has the same statement text; it is built once.
	// Times are formatted once per batch where they are the batch's
	// time, and the JSON of a tag list shared by many rows (a feed's
	// label) is encoded once.
	nowText := store.FormatTime(now)
	timeArg := func(t time.Time) any {
		if t.IsZero() || t.Equal(now) {
			if t.IsZero() {
				return nil
			}
			return nowText
		}
		return store.FormatTime(t)
	}
	var tagsJSON, attackJSON listEncoder
	var fullStmt string
	args := make([]any, 0, min(len(inds), rowsPerInsert)*len(indicatorCols))
	for start := 0; start < len(inds); start += rowsPerInsert {
		chunk := inds[start:min(start+rowsPerInsert, len(inds))]
		var stmt string
		if len(chunk) == rowsPerInsert && fullStmt != "" {
			stmt = fullStmt
		} else {
			stmt = upsertStatement(len(chunk))
			if len(chunk) == rowsPerInsert {
				fullStmt = stmt
			}
		}
		args = args[:0]
		for i := range chunk {
			ind := &chunk[i]
			first, last := nowText, nowText
			if !ind.FirstSeen.IsZero() {
				first = timeArg(ind.FirstSeen).(string)
			}
			if !ind.LastSeen.IsZero() {
				last = timeArg(ind.LastSeen).(string)
			}
			args = append(args, tenant, ind.ID, ind.Type.String(), ind.Value, ind.Confidence, ind.TLP.String(), ind.PAP.String(),
				timeArg(ind.ValidFrom), timeArg(ind.ValidUntil), ind.Source, first, last,
				tagsJSON.encode(ind.Tags), attackJSON.encode(ind.Attack), ind.STIXID, ind.Description, ind.Warninglist, nowText)
		}
		if _, err := tx.Exec(ctx, stmt, args...); err != nil {
			return fmt.Errorf("store %d indicators: %w", len(chunk), err)
		}
	}
	return nil
}

// resetCache gives the SQLite writer its default page cache back.
func (r repo) resetCache(ctx context.Context) {
	if r.db.Dialect() == store.SQLite {
		_, _ = r.db.Exec(ctx, fmt.Sprintf("PRAGMA cache_size = -%d", store.SQLiteWriterCacheKiB))
	}
}

// upsertStatement is the multi-row upsert of rows indicators.
func upsertStatement(rows int) string {
	var b strings.Builder
	row := "(" + store.Placeholders(len(indicatorCols)) + ")"
	b.Grow(100 + rows*(len(row)+2) + len(indicatorUpdateCols)*40)
	b.WriteString("INSERT INTO intel_indicators (" + strings.Join(indicatorCols, ", ") + ") VALUES ")
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	b.WriteString(" ON CONFLICT (tenant, id) DO UPDATE SET ")
	for i, c := range indicatorUpdateCols {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s = excluded.%s", c, c)
	}
	return b.String()
}

// listEncoder remembers the JSON of the last list it encoded: rows of one
// feed file share their tag slice.
type listEncoder struct {
	last []string
	text string
}

func (e *listEncoder) encode(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	if len(e.last) == len(ss) && &e.last[0] == &ss[0] {
		return e.text
	}
	e.last, e.text = ss, jsonList(ss)
	return e.text
}

func scanIndicator(sc interface{ Scan(...any) error }) (Indicator, error) {
	var ind Indicator
	var typ, tlp, pap, tags, attack string
	var vf, vu, fs, ls, lsi store.Timestamp
	err := sc.Scan(&ind.Tenant, &ind.ID, &typ, &ind.Value, &ind.Confidence, &tlp, &pap, &vf, &vu, &ind.Source,
		&fs, &ls, &ind.Sightings, &lsi, &tags, &attack, &ind.STIXID, &ind.Description, &ind.Warninglist)
	if err != nil {
		return ind, err
	}
	ind.Type, _ = ParseType(typ)
	ind.TLP, _ = ParseTLP(tlp)
	ind.PAP, _ = ParsePAP(pap)
	ind.ValidFrom, ind.ValidUntil, ind.FirstSeen, ind.LastSeen, ind.LastSighted = vf.Time, vu.Time, fs.Time, ls.Time, lsi.Time
	ind.Tags, ind.Attack = parseList(tags), parseList(attack)
	if ind.Type == TypePattern {
		ind.Pattern = ind.Value
	}
	return ind, nil
}

func (r repo) get(ctx context.Context, tenant, id string) (Indicator, error) {
	ind, err := scanIndicator(r.db.QueryRow(ctx, selectIndicator+" WHERE tenant = ? AND id = ?", tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return ind, store.ErrNotFound
	}
	if err != nil {
		return ind, fmt.Errorf("get indicator %s: %w", id, err)
	}
	return ind, nil
}

// ListFilter selects indicators.
type ListFilter struct {
	Type   Type
	Source string
	// Prefix matches the start of the value.
	Prefix string
	// After is the id to continue after (pagination by id).
	After string
	Limit int
}

func (r repo) list(ctx context.Context, tenant string, f ListFilter) ([]Indicator, error) {
	q := selectIndicator + " WHERE tenant = ?"
	args := []any{tenant}
	if f.Type != TypeUnknown {
		q += " AND type = ?"
		args = append(args, f.Type.String())
	}
	if f.Source != "" {
		q += " AND source = ?"
		args = append(args, f.Source)
	}
	if f.Prefix != "" {
		q += " AND value >= ? AND value < ?"
		args = append(args, f.Prefix, f.Prefix+"\U0010FFFF")
	}
	if f.After != "" {
		q += " AND id > ?"
		args = append(args, f.After)
	}
	limit := f.Limit
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	q += fmt.Sprintf(" ORDER BY id LIMIT %d", limit)
	rows, err := r.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list indicators: %w", err)
	}
	defer rows.Close()
	var out []Indicator
	for rows.Next() {
		ind, err := scanIndicator(rows)
		if err != nil {
			return nil, fmt.Errorf("list indicators: %w", err)
		}
		out = append(out, ind)
	}
	return out, rows.Err()
}

// each streams every indicator of a tenant (for building the index and
// for exports).
func (r repo) each(ctx context.Context, tenant string, fn func(*Indicator) error) error {
	rows, err := r.db.Query(ctx, selectIndicator+" WHERE tenant = ?", tenant)
	if err != nil {
		return fmt.Errorf("read indicators of %s: %w", tenant, err)
	}
	defer rows.Close()
	for rows.Next() {
		ind, err := scanIndicator(rows)
		if err != nil {
			return fmt.Errorf("read indicators of %s: %w", tenant, err)
		}
		if err := fn(&ind); err != nil {
			return err
		}
	}
	return rows.Err()
}

// eachForIndex streams only what the match index needs. AlertUntil counts
// decay from last_seen, which is never empty (an import sets it), so
// valid_from and first_seen are not read: a rebuild of a million
// indicators parses two million timestamps fewer.
func (r repo) eachForIndex(ctx context.Context, tenant string, fn func(*Indicator)) error {
	rows, err := r.db.Query(ctx, `SELECT type, value, confidence, tlp, valid_until, last_seen, warninglist
		FROM intel_indicators WHERE tenant = ?`, tenant)
	if err != nil {
		return fmt.Errorf("read indicators of %s: %w", tenant, err)
	}
	defer rows.Close()
	var ind Indicator
	var typ, tlp string
	var vu, ls store.Timestamp
	for rows.Next() {
		if err := rows.Scan(&typ, &ind.Value, &ind.Confidence, &tlp, &vu, &ls, &ind.Warninglist); err != nil {
			return fmt.Errorf("read indicators of %s: %w", tenant, err)
		}
		ind.Type, _ = ParseType(typ)
		ind.TLP, _ = ParseTLP(tlp)
		ind.ValidUntil, ind.LastSeen = vu.Time, ls.Time
		fn(&ind)
	}
	return rows.Err()
}

// Changed is an indicator with the time it was last written.
type Changed struct {
	Indicator
	Updated time.Time
}

// changedSince pages through a tenant's indicators in the order they were
// written: after (updated, id), at most limit, only the TLP levels given.
func (r repo) changedSince(ctx context.Context, tenant string, after time.Time, afterID string, tlps []TLP, limit int) ([]Changed, error) {
	q := strings.Replace(selectIndicator, "FROM", ", updated_at FROM", 1) + " WHERE tenant = ?"
	args := []any{tenant}
	if !after.IsZero() {
		q += " AND (updated_at > ? OR (updated_at = ? AND id > ?))"
		args = append(args, store.TimeOf(after), store.TimeOf(after), afterID)
	}
	if len(tlps) > 0 {
		q += " AND tlp IN (" + store.Placeholders(len(tlps)) + ")"
		for _, t := range tlps {
			args = append(args, t.String())
		}
	}
	q += fmt.Sprintf(" ORDER BY updated_at, id LIMIT %d", limit)
	rows, err := r.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list changed indicators: %w", err)
	}
	defer rows.Close()
	var out []Changed
	for rows.Next() {
		var c Changed
		var upd store.Timestamp
		var typ, tlp, pap, tags, attack string
		var vf, vu, fs, ls, lsi store.Timestamp
		if err := rows.Scan(&c.Tenant, &c.ID, &typ, &c.Value, &c.Confidence, &tlp, &pap, &vf, &vu, &c.Source,
			&fs, &ls, &c.Sightings, &lsi, &tags, &attack, &c.STIXID, &c.Description, &c.Warninglist, &upd); err != nil {
			return nil, fmt.Errorf("list changed indicators: %w", err)
		}
		c.Type, _ = ParseType(typ)
		c.TLP, _ = ParseTLP(tlp)
		c.PAP, _ = ParsePAP(pap)
		c.ValidFrom, c.ValidUntil, c.FirstSeen, c.LastSeen, c.LastSighted = vf.Time, vu.Time, fs.Time, ls.Time, lsi.Time
		c.Tags, c.Attack = parseList(tags), parseList(attack)
		c.Updated = upd.Time
		out = append(out, c)
	}
	return out, rows.Err()
}

func (r repo) tenants(ctx context.Context) ([]string, error) {
	rows, err := r.db.Query(ctx, "SELECT DISTINCT tenant FROM intel_indicators")
	if err != nil {
		return nil, fmt.Errorf("list intel tenants: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func (r repo) count(ctx context.Context, tenant string) (int64, error) {
	var n int64
	err := r.db.QueryRow(ctx, "SELECT count(*) FROM intel_indicators WHERE tenant = ?", tenant).Scan(&n)
	return n, err
}

func (r repo) delete(ctx context.Context, tenant, id string) error {
	res, err := r.db.Exec(ctx, "DELETE FROM intel_indicators WHERE tenant = ? AND id = ?", tenant, id)
	if err != nil {
		return fmt.Errorf("delete indicator %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// Sighting is one verified match of an indicator in an event.
type Sighting struct {
	ID          string    `json:"id"`
	Tenant      string    `json:"tenant"`
	IndicatorID string    `json:"indicator_id"`
	Time        time.Time `json:"time"`
	EventID     string    `json:"event_id"`
	Field       string    `json:"field"`
	Observed    string    `json:"observed"`
}

// recordSightings stores sightings and counts them on their indicators;
// it returns which were new (a replayed event is not sighted twice).
func (r repo) recordSightings(ctx context.Context, ss []Sighting) (map[string]bool, error) {
	fresh := map[string]bool{}
	if len(ss) == 0 {
		return fresh, nil
	}
	type agg struct {
		n    int64
		last time.Time
	}
	err := r.db.Tx(ctx, func(tx *store.Tx) error {
		clear(fresh)
		counts := map[[2]string]*agg{}
		for _, s := range ss {
			res, err := tx.Exec(ctx, "INSERT INTO intel_sightings (tenant, id, indicator_id, seen_at, event_id, field, observed) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, id) DO NOTHING",
				s.Tenant, s.ID, s.IndicatorID, store.TimeOf(s.Time), s.EventID, s.Field, s.Observed)
			if err != nil {
				return fmt.Errorf("record sighting of %s: %w", s.IndicatorID, err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				continue
			}
			fresh[s.ID] = true
			k := [2]string{s.Tenant, s.IndicatorID}
			a := counts[k]
			if a == nil {
				a = &agg{}
				counts[k] = a
			}
			a.n++
			if s.Time.After(a.last) {
				a.last = s.Time
			}
		}
		for k, a := range counts {
			if _, err := tx.Exec(ctx, "UPDATE intel_indicators SET sightings = sightings + ?, last_sighted = ? WHERE tenant = ? AND id = ?",
				a.n, store.TimeOf(a.last), k[0], k[1]); err != nil {
				return fmt.Errorf("count sightings of %s: %w", k[1], err)
			}
		}
		return nil
	})
	return fresh, err
}

func (r repo) sightings(ctx context.Context, tenant, indicatorID string, limit int) ([]Sighting, error) {
	if limit <= 0 || limit > 10000 {
		limit = 100
	}
	rows, err := r.db.Query(ctx, fmt.Sprintf("SELECT tenant, id, indicator_id, seen_at, event_id, field, observed FROM intel_sightings WHERE tenant = ? AND indicator_id = ? ORDER BY seen_at DESC LIMIT %d", limit), tenant, indicatorID)
	if err != nil {
		return nil, fmt.Errorf("list sightings of %s: %w", indicatorID, err)
	}
	defer rows.Close()
	var out []Sighting
	for rows.Next() {
		var s Sighting
		var at store.Timestamp
		if err := rows.Scan(&s.Tenant, &s.ID, &s.IndicatorID, &at, &s.EventID, &s.Field, &s.Observed); err != nil {
			return nil, err
		}
		s.Time = at.Time
		out = append(out, s)
	}
	return out, rows.Err()
}

func (r repo) putWarninglist(ctx context.Context, tenant string, wl *Warninglist, now time.Time) error {
	attrs, _ := json.Marshal(wl.MatchingAttributes)
	_, err := r.db.Exec(ctx, store.Upsert("intel_warninglists",
		[]string{"tenant", "name", "description", "version", "type", "attributes", "entries", "updated_at"},
		[]string{"tenant", "name"},
		[]string{"description", "version", "type", "attributes", "entries", "updated_at"}),
		tenant, wl.Name, wl.Description, wl.Version, string(wl.Type), string(attrs), strings.Join(wl.List, "\n"), store.TimeOf(now))
	if err != nil {
		return fmt.Errorf("store warninglist %s: %w", wl.Name, err)
	}
	return nil
}

func (r repo) deleteWarninglist(ctx context.Context, tenant, name string) error {
	res, err := r.db.Exec(ctx, "DELETE FROM intel_warninglists WHERE tenant = ? AND name = ?", tenant, name)
	if err != nil {
		return fmt.Errorf("delete warninglist %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	_, err = r.db.Exec(ctx, "UPDATE intel_indicators SET warninglist = '' WHERE tenant = ? AND warninglist = ?", tenant, name)
	if err != nil {
		return fmt.Errorf("delete warninglist %s: %w", name, err)
	}
	return nil
}

func (r repo) warninglists(ctx context.Context, tenant string) ([]*Warninglist, error) {
	rows, err := r.db.Query(ctx, "SELECT name, description, version, type, attributes, entries FROM intel_warninglists WHERE tenant = ? ORDER BY name", tenant)
	if err != nil {
		return nil, fmt.Errorf("read warninglists: %w", err)
	}
	defer rows.Close()
	var out []*Warninglist
	for rows.Next() {
		wl := &Warninglist{}
		var typ, attrs, entries string
		if err := rows.Scan(&wl.Name, &wl.Description, &wl.Version, &typ, &attrs, &entries); err != nil {
			return nil, fmt.Errorf("read warninglists: %w", err)
		}
		wl.Type = WarninglistType(typ)
		_ = json.Unmarshal([]byte(attrs), &wl.MatchingAttributes)
		if entries != "" {
			wl.List = strings.Split(entries, "\n")
		}
		out = append(out, wl)
	}
	return out, rows.Err()
}
