package detect

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/wacht-soc/wacht/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

func init() {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err)
	}
	store.RegisterMigrations("detect", sub)
}

// ErrNotFound is returned for a suppression that does not exist in the
// caller's tenant, and for an unknown rule.
var ErrNotFound = errors.New("not found")

// UserError is bad input, safe to show to the caller.
type UserError struct{ msg string }

func (e *UserError) Error() string { return e.msg }

func userErrorf(format string, args ...any) error { return &UserError{fmt.Sprintf(format, args...)} }

// MaxSuppression bounds how long a suppression may last: suppressions
// must expire.
const MaxSuppression = 366 * 24 * time.Hour

// Suppression silences a rule for one entity value (Field = Value, case
// insensitive), or for every match when Field is empty, until ExpiresAt.
type Suppression struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"tenant"`
	RuleID    string    `json:"rule_id"`
	Field     string    `json:"field,omitempty"`
	Value     string    `json:"value,omitempty"`
	Reason    string    `json:"reason"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Hits counts the matches it silenced since this node started.
	Hits uint64 `json:"hits"`
}

// NewSuppression is the input of AddSuppression.
type NewSuppression struct {
	RuleID string `json:"rule_id"`
	// Field is an entity name (host.name, user.name, source.ip…) or any
	// event field; empty silences the rule entirely.
	Field string `json:"field,omitempty"`
	Value string `json:"value,omitempty"`
	// For is how long it lasts ("24h", "7d"); ExpiresAt may be given
	// instead.
	For       string    `json:"for,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Reason    string    `json:"reason"`
}

func (s *Suppression) matches(d *Detection) bool {
	if s.RuleID != d.RuleID {
		return false
	}
	if s.Field == "" {
		return true
	}
	if v, ok := d.Entities[s.Field]; ok {
		return strings.EqualFold(v, s.Value)
	}
	for _, ev := range d.Events {
		if v, ok := ev.Get(s.Field); ok && strings.EqualFold(v.String(), s.Value) {
			return true
		}
	}
	return false
}

// suppressions caches the active suppressions per tenant.
type suppressions struct {
	db  *store.DB
	now func() time.Time
	ttl time.Duration

	mu     sync.Mutex
	tenant map[string]*tenantSuppressions
	hits   map[string]uint64
}

type tenantSuppressions struct {
	list   []*Suppression
	loaded time.Time
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "sup_" + hex.EncodeToString(b[:])
}

func parseFor(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		d, err := time.ParseDuration(n + "h")
		return d * 24, err
	}
	return time.ParseDuration(s)
}

// add stores a suppression.
func (c *suppressions) add(ctx context.Context, tenant, actor string, in NewSuppression) (*Suppression, error) {
	if c.db == nil {
		return nil, errors.New("suppressions need the state database")
	}
	in.RuleID = strings.TrimSpace(in.RuleID)
	if in.RuleID == "" {
		return nil, userErrorf("rule_id is required")
	}
	if (in.Field == "") != (in.Value == "") {
		return nil, userErrorf("give field and value together, or neither to silence the whole rule")
	}
	now := c.now().UTC()
	exp := in.ExpiresAt
	if in.For != "" {
		d, err := parseFor(in.For)
		if err != nil || d <= 0 {
			return nil, userErrorf("for: want a positive duration such as 24h or 7d")
		}
		exp = now.Add(d)
	}
	if exp.IsZero() {
		return nil, userErrorf("a suppression must expire: give for (24h, 7d) or expires_at")
	}
	if !exp.After(now) || exp.Sub(now) > MaxSuppression {
		return nil, userErrorf("expires_at must be in the future and within %d days", int(MaxSuppression.Hours()/24))
	}
	if strings.TrimSpace(in.Reason) == "" {
		return nil, userErrorf("reason is required (why is this match expected?)")
	}
	s := &Suppression{ID: newID(), Tenant: tenant, RuleID: in.RuleID, Field: in.Field, Value: in.Value,
		Reason: in.Reason, CreatedBy: actor, CreatedAt: now, ExpiresAt: exp.UTC()}
	_, err := c.db.Exec(ctx, `INSERT INTO detect_suppressions (id, tenant, rule_id, field, value, reason, created_by, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, s.ID, s.Tenant, s.RuleID, s.Field, s.Value, s.Reason, s.CreatedBy,
		store.TimeOf(s.CreatedAt), store.TimeOf(s.ExpiresAt))
	if err != nil {
		return nil, fmt.Errorf("store suppression for %s: %w", s.RuleID, err)
	}
	c.invalidate(tenant)
	return s, nil
}

// remove deletes a suppression of tenant.
func (c *suppressions) remove(ctx context.Context, tenant, id string) error {
	if c.db == nil {
		return ErrNotFound
	}
	res, err := c.db.Exec(ctx, `DELETE FROM detect_suppressions WHERE tenant = ? AND id = ?`, tenant, id)
	if err != nil {
		return fmt.Errorf("delete suppression %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	c.invalidate(tenant)
	return nil
}

// list returns the tenant's suppressions that have not expired.
func (c *suppressions) list(ctx context.Context, tenant string) ([]*Suppression, error) {
	if c.db == nil {
		return nil, nil
	}
	rows, err := c.db.Query(ctx, `SELECT id, rule_id, field, value, reason, created_by, created_at, expires_at
		FROM detect_suppressions WHERE tenant = ? AND expires_at > ? ORDER BY created_at, id`, tenant, store.TimeOf(c.now()))
	if err != nil {
		return nil, fmt.Errorf("list suppressions: %w", err)
	}
	defer rows.Close()
	var out []*Suppression
	for rows.Next() {
		s := &Suppression{Tenant: tenant}
		var created, expires store.Timestamp
		if err := rows.Scan(&s.ID, &s.RuleID, &s.Field, &s.Value, &s.Reason, &s.CreatedBy, &created, &expires); err != nil {
			return nil, fmt.Errorf("list suppressions: %w", err)
		}
		s.CreatedAt, s.ExpiresAt = created.Time, expires.Time
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list suppressions: %w", err)
	}
	c.mu.Lock()
	for _, s := range out {
		s.Hits = c.hits[s.ID]
	}
	c.mu.Unlock()
	return out, nil
}

func (c *suppressions) invalidate(tenant string) {
	c.mu.Lock()
	delete(c.tenant, tenant)
	c.mu.Unlock()
}

// suppressed reports whether d is silenced, counting the hit. The tenant's
// list is read from the database at most every ttl (and at once after a
// change on this node).
func (c *suppressions) suppressed(ctx context.Context, d *Detection) (bool, error) {
	now := c.now()
	c.mu.Lock()
	ts := c.tenant[d.Tenant]
	c.mu.Unlock()
	if ts == nil || now.Sub(ts.loaded) >= c.ttl || now.Before(ts.loaded) {
		list, err := c.list(ctx, d.Tenant)
		if err != nil {
			return false, err
		}
		ts = &tenantSuppressions{list: list, loaded: now}
		c.mu.Lock()
		c.tenant[d.Tenant] = ts
		c.mu.Unlock()
	}
	for _, s := range ts.list {
		if now.Before(s.ExpiresAt) && s.matches(d) {
			c.mu.Lock()
			c.hits[s.ID]++
			c.mu.Unlock()
			return true, nil
		}
	}
	return false, nil
}
