package ueba

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/store"
)

// AllowEntry exempts an entity from one detector (or from all, Detector
// 0) until it expires: its anomalies are still computed, recorded and
// shown, marked with the entry, but add no risk and raise nothing. A
// reason and an expiry are required, so an exemption is never forgotten.
type AllowEntry struct {
	ID        string    `json:"id"`
	Detector  Detector  `json:"detector,omitempty"`
	Entity    Entity    `json:"entity"`
	Reason    string    `json:"reason"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// MaxAllowFor bounds an allow-list entry's life.
const MaxAllowFor = 366 * 24 * time.Hour

// ErrAllowInvalid marks an allow-list entry refused for its content.
var ErrAllowInvalid = errors.New("invalid allow-list entry")

// Allow adds an entry.
func (s *Service) Allow(ctx context.Context, tenant string, e AllowEntry) (AllowEntry, error) {
	now := s.opts.Now()
	e.Entity.Value = strings.TrimSpace(e.Entity.Value)
	e.Reason = strings.TrimSpace(e.Reason)
	switch {
	case e.Entity.Kind == 0 || e.Entity.Value == "":
		return e, fmt.Errorf("%w: entity kind and value are required", ErrAllowInvalid)
	case e.Reason == "":
		return e, fmt.Errorf("%w: a reason is required", ErrAllowInvalid)
	case !e.ExpiresAt.After(now):
		return e, fmt.Errorf("%w: expires_at must be in the future", ErrAllowInvalid)
	case e.ExpiresAt.Sub(now) > MaxAllowFor:
		return e, fmt.Errorf("%w: expires_at is more than %d days away", ErrAllowInvalid, int(MaxAllowFor/(24*time.Hour)))
	}
	e.ID = "allow_" + strings.ToLower(rand.Text()[:16])
	e.CreatedAt = now
	det := ""
	if e.Detector != 0 {
		det = e.Detector.String()
	}
	_, err := s.opts.DB.Exec(ctx, `INSERT INTO ueba_allowlist (tenant, id, detector, entity_kind, entity_value, reason, created_by, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, tenant, e.ID, det, e.Entity.Kind.String(), e.Entity.Value, e.Reason, e.CreatedBy,
		store.TimeOf(e.CreatedAt), store.TimeOf(e.ExpiresAt))
	if err != nil {
		return e, fmt.Errorf("save allow-list entry: %w", err)
	}
	s.mu.Lock()
	s.allow[tenant] = append(s.allow[tenant], e)
	s.mu.Unlock()
	return e, nil
}

// AllowList lists a tenant's entries that have not expired.
func (s *Service) AllowList(tenant string) []AllowEntry {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []AllowEntry{}
	for _, e := range s.allow[tenant] {
		if e.ExpiresAt.After(now) {
			out = append(out, e)
		}
	}
	return out
}

// Disallow removes an entry; false when there was none.
func (s *Service) Disallow(ctx context.Context, tenant, id string) (bool, error) {
	res, err := s.opts.DB.Exec(ctx, `DELETE FROM ueba_allowlist WHERE tenant = ? AND id = ?`, tenant, id)
	if err != nil {
		return false, fmt.Errorf("delete allow-list entry: %w", err)
	}
	n, _ := res.RowsAffected()
	s.mu.Lock()
	list := s.allow[tenant][:0:0]
	for _, e := range s.allow[tenant] {
		if e.ID != id {
			list = append(list, e)
		}
	}
	s.allow[tenant] = list
	s.mu.Unlock()
	return n > 0, nil
}

// allowed returns the entry covering an anomaly, or nil; called with s.mu
// held.
func (s *Service) allowed(a *Anomaly, ent Entity, now time.Time) *AllowEntry {
	for i := range s.allow[a.Tenant] {
		e := &s.allow[a.Tenant][i]
		if (e.Detector == 0 || e.Detector == a.Detector) && e.ExpiresAt.After(now) &&
			(e.Entity == a.Entity || e.Entity == ent) {
			return e
		}
	}
	return nil
}

// loadAllow reads every tenant's entries that have not expired.
func (s *Service) loadAllow(ctx context.Context) error {
	rows, err := s.opts.DB.Query(ctx, `SELECT tenant, id, detector, entity_kind, entity_value, reason, created_by, created_at, expires_at
		FROM ueba_allowlist WHERE expires_at > ?`, store.TimeOf(s.opts.Now()))
	if err != nil {
		return fmt.Errorf("load ueba allow-list: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var tenant, det, kind string
		var e AllowEntry
		var created, expires store.Timestamp
		if err := rows.Scan(&tenant, &e.ID, &det, &kind, &e.Entity.Value, &e.Reason, &e.CreatedBy, &created, &expires); err != nil {
			return fmt.Errorf("load ueba allow-list: %w", err)
		}
		if det != "" {
			if e.Detector, err = ParseDetector(det); err != nil {
				continue // a detector this version no longer has
			}
		}
		if e.Entity.Kind, err = ParseEntityKind(kind); err != nil {
			continue
		}
		e.CreatedAt, e.ExpiresAt = created.Time, expires.Time
		s.allow[tenant] = append(s.allow[tenant], e)
	}
	return rows.Err()
}
