package comply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/store"
)

// Engagement is an external or internal audit: a framework, a scope, the
// observation window the auditor may see and until when they may see it.
type Engagement struct {
	ID        string `json:"id"`
	Framework string `json:"framework"`
	Scope     string `json:"scope"`
	// Auditor is the identity's subject (a token name or "user:NAME").
	Auditor     string    `json:"auditor"`
	WindowFrom  time.Time `json:"window_from"`
	WindowTo    time.Time `json:"window_to"`
	AccessUntil time.Time `json:"access_until"`
	CreatedBy   string    `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
	Version     int64     `json:"version"`
}

// Window is a period an auditor may see: [From, To).
type Window struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Contains reports whether t lies in the window.
func (w Window) Contains(t time.Time) bool { return !t.Before(w.From) && t.Before(w.To) }

// FindingKind grades an audit finding.
type FindingKind string

// Finding kinds.
const (
	FindingMajor       FindingKind = "major_nonconformity"
	FindingMinor       FindingKind = "minor_nonconformity"
	FindingObservation FindingKind = "observation"
	FindingImprovement FindingKind = "improvement"
)

// Valid reports whether k is a known kind.
func (k FindingKind) Valid() bool {
	switch k {
	case FindingMajor, FindingMinor, FindingObservation, FindingImprovement:
		return true
	}
	return false
}

// AuditFinding is a finding of an engagement with its owner and due date.
type AuditFinding struct {
	ID           string      `json:"id"`
	EngagementID string      `json:"engagement_id"`
	Kind         FindingKind `json:"kind"`
	Requirement  string      `json:"requirement"`
	Title        string      `json:"title"`
	Description  string      `json:"description,omitempty"`
	Owner        string      `json:"owner"`
	DueAt        time.Time   `json:"due_at,omitzero"`
	Status       string      `json:"status"` // open, closed
	CreatedBy    string      `json:"created_by"`
	CreatedAt    time.Time   `json:"created_at"`
	ClosedAt     time.Time   `json:"closed_at,omitzero"`
	Version      int64       `json:"version"`
}

// CreateEngagement opens an engagement.
func (s *Service) CreateEngagement(ctx context.Context, tenant string, e Engagement, actor string) (Engagement, error) {
	if _, err := s.Catalog(ctx, tenant, e.Framework); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Engagement{}, invalidf("unknown framework %s", e.Framework)
		}
		return Engagement{}, err
	}
	switch {
	case strings.TrimSpace(e.Auditor) == "":
		return Engagement{}, invalidf("an engagement needs the auditor's identity")
	case e.WindowFrom.IsZero() || e.WindowTo.IsZero() || !e.WindowFrom.Before(e.WindowTo):
		return Engagement{}, invalidf("an engagement needs an observation window (window_from before window_to)")
	case e.AccessUntil.IsZero() || !e.AccessUntil.After(s.Now()):
		return Engagement{}, invalidf("access_until must lie in the future")
	case e.AccessUntil.Sub(s.Now()) > 180*24*time.Hour:
		return Engagement{}, invalidf("auditor access may last at most 180 days")
	}
	now := s.Now().Truncate(time.Microsecond)
	e.ID, e.CreatedBy, e.CreatedAt, e.Version = newID("eng_"), actor, now, 1
	e.WindowFrom, e.WindowTo, e.AccessUntil = e.WindowFrom.UTC().Truncate(time.Second), e.WindowTo.UTC().Truncate(time.Second), e.AccessUntil.UTC().Truncate(time.Second)
	_, err := s.db.Exec(ctx, `INSERT INTO comply_engagements (id, tenant, framework, scope, auditor, window_from, window_to, access_until,
		created_by, created_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`, e.ID, tenant, e.Framework, e.Scope, e.Auditor,
		store.TimeOf(e.WindowFrom), store.TimeOf(e.WindowTo), store.TimeOf(e.AccessUntil), actor, store.TimeOf(now))
	if err != nil {
		return Engagement{}, fmt.Errorf("create engagement: %w", err)
	}
	s.publish(ctx, "compliance.engagement.created", tenant, e.ID, actor, e)
	return e, nil
}

const engagementCols = `id, framework, scope, auditor, window_from, window_to, access_until, created_by, created_at, version`

func scanEngagement(sc interface{ Scan(...any) error }) (Engagement, error) {
	var e Engagement
	var from, to, until, created store.Timestamp
	err := sc.Scan(&e.ID, &e.Framework, &e.Scope, &e.Auditor, &from, &to, &until, &e.CreatedBy, &created, &e.Version)
	e.WindowFrom, e.WindowTo, e.AccessUntil, e.CreatedAt = from.Time, to.Time, until.Time, created.Time
	return e, err
}

// Engagements lists the tenant's engagements, newest first.
func (s *Service) Engagements(ctx context.Context, tenant string) ([]Engagement, error) {
	rows, err := s.db.Query(ctx, `SELECT `+engagementCols+` FROM comply_engagements WHERE tenant = ? ORDER BY created_at DESC, id`, tenant)
	if err != nil {
		return nil, fmt.Errorf("list engagements: %w", err)
	}
	defer rows.Close()
	var out []Engagement
	for rows.Next() {
		e, err := scanEngagement(rows)
		if err != nil {
			return nil, fmt.Errorf("list engagements: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// GetEngagement returns one engagement.
func (s *Service) GetEngagement(ctx context.Context, tenant, id string) (Engagement, error) {
	e, err := scanEngagement(s.db.QueryRow(ctx, `SELECT `+engagementCols+` FROM comply_engagements WHERE tenant = ? AND id = ?`, tenant, id))
	if errors.Is(err, errNoRows) {
		return Engagement{}, fmt.Errorf("engagement %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return Engagement{}, fmt.Errorf("read engagement %s: %w", id, err)
	}
	return e, nil
}

// ErrNoEngagement: an auditor has no engagement whose access runs now.
var ErrNoEngagement = &UserError{"no audit engagement grants you access now"}

// AuditorWindow returns the observation window of the auditor's
// engagements whose access runs now (the union's bounds when several).
func (s *Service) AuditorWindow(ctx context.Context, tenant, auditor string) (Window, error) {
	es, err := s.Engagements(ctx, tenant)
	if err != nil {
		return Window{}, err
	}
	now := s.Now()
	var w Window
	for _, e := range es {
		if e.Auditor != auditor || !now.Before(e.AccessUntil) || e.CreatedAt.After(now) {
			continue
		}
		if w.From.IsZero() || e.WindowFrom.Before(w.From) {
			w.From = e.WindowFrom
		}
		if e.WindowTo.After(w.To) {
			w.To = e.WindowTo
		}
	}
	if w.To.IsZero() {
		return Window{}, ErrNoEngagement
	}
	return w, nil
}

// AddFinding records a finding of an engagement.
func (s *Service) AddFinding(ctx context.Context, tenant, engagementID string, f AuditFinding, actor string) (AuditFinding, error) {
	e, err := s.GetEngagement(ctx, tenant, engagementID)
	if err != nil {
		return AuditFinding{}, err
	}
	if !f.Kind.Valid() {
		return AuditFinding{}, invalidf("finding kind %q: want major_nonconformity, minor_nonconformity, observation or improvement", f.Kind)
	}
	if strings.TrimSpace(f.Title) == "" || strings.TrimSpace(f.Owner) == "" {
		return AuditFinding{}, invalidf("a finding needs a title and an owner")
	}
	if (f.Kind == FindingMajor || f.Kind == FindingMinor) && f.DueAt.IsZero() {
		return AuditFinding{}, invalidf("a nonconformity needs a due date")
	}
	if f.Requirement != "" {
		cat, err := s.Catalog(ctx, tenant, e.Framework)
		if err != nil {
			return AuditFinding{}, err
		}
		if _, ok := cat.Find(f.Requirement); !ok {
			return AuditFinding{}, invalidf("unknown requirement %s in %s", f.Requirement, e.Framework)
		}
	}
	now := s.Now().Truncate(time.Microsecond)
	f.ID, f.EngagementID, f.Status, f.CreatedBy, f.CreatedAt, f.Version = newID("afd_"), e.ID, "open", actor, now, 1
	f.DueAt = f.DueAt.UTC().Truncate(time.Microsecond)
	_, err = s.db.Exec(ctx, `INSERT INTO comply_audit_findings (id, tenant, engagement_id, kind, requirement, title, description, owner,
		due_at, status, created_by, created_at, closed_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, NULL, 1)`,
		f.ID, tenant, e.ID, string(f.Kind), f.Requirement, f.Title, f.Description, f.Owner, store.TimeOf(f.DueAt), actor, store.TimeOf(now))
	if err != nil {
		return AuditFinding{}, fmt.Errorf("add finding: %w", err)
	}
	s.publish(ctx, "compliance.finding.created", tenant, f.ID, actor, f)
	return f, nil
}

// CloseFinding closes a finding (with optimistic concurrency).
func (s *Service) CloseFinding(ctx context.Context, tenant, id string, version int64, actor string) (AuditFinding, error) {
	now := s.Now().Truncate(time.Microsecond)
	if _, err := store.UpdateVersioned(ctx, s.db, "comply_audit_findings", tenant, id, version,
		"status = 'closed', closed_at = ?", store.TimeOf(now)); err != nil {
		return AuditFinding{}, fmt.Errorf("close finding %s: %w", id, err)
	}
	fs, err := s.findings(ctx, tenant, "id = ?", id)
	if err != nil || len(fs) == 0 {
		return AuditFinding{}, fmt.Errorf("read finding %s: %w", id, err)
	}
	s.publish(ctx, "compliance.finding.closed", tenant, id, actor, fs[0])
	return fs[0], nil
}

// Findings lists an engagement's findings.
func (s *Service) Findings(ctx context.Context, tenant, engagementID string) ([]AuditFinding, error) {
	return s.findings(ctx, tenant, "engagement_id = ?", engagementID)
}

func (s *Service) findings(ctx context.Context, tenant, where string, arg any) ([]AuditFinding, error) {
	rows, err := s.db.Query(ctx, `SELECT id, engagement_id, kind, requirement, title, description, owner, due_at, status, created_by,
		created_at, closed_at, version FROM comply_audit_findings WHERE tenant = ? AND `+where+` ORDER BY created_at, id`, tenant, arg)
	if err != nil {
		return nil, fmt.Errorf("list findings: %w", err)
	}
	defer rows.Close()
	var out []AuditFinding
	for rows.Next() {
		var f AuditFinding
		var kind string
		var due, created, closed store.Timestamp
		if err := rows.Scan(&f.ID, &f.EngagementID, &kind, &f.Requirement, &f.Title, &f.Description, &f.Owner, &due, &f.Status,
			&f.CreatedBy, &created, &closed, &f.Version); err != nil {
			return nil, fmt.Errorf("list findings: %w", err)
		}
		f.Kind, f.DueAt, f.CreatedAt, f.ClosedAt = FindingKind(kind), due.Time, created.Time, closed.Time
		out = append(out, f)
	}
	return out, rows.Err()
}
