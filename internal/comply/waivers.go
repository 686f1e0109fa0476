package comply

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/store"
)

// WaiverState is where a waiver stands at a time.
type WaiverState string

// Waiver states.
const (
	WaiverRequested WaiverState = "requested"
	WaiverApproved  WaiverState = "approved"
	WaiverRejected  WaiverState = "rejected"
	WaiverRevoked   WaiverState = "revoked"
	WaiverExpired   WaiverState = "expired"
)

// Waiver accepts a failing check for some subjects for a limited time. Its
// subjects show "waived", never "pass". The approver must differ from the
// requester; every change is a domain event, so the audit trail has it.
type Waiver struct {
	ID    string `json:"id"`
	Check string `json:"check"`
	// Subject is a subject id or a path.Match pattern ("*" for all).
	Subject       string      `json:"subject"`
	Justification string      `json:"justification"`
	Owner         string      `json:"owner"`
	RequestedBy   string      `json:"requested_by"`
	RequestedAt   time.Time   `json:"requested_at"`
	ApprovedBy    string      `json:"approved_by,omitempty"`
	ApprovedAt    time.Time   `json:"approved_at,omitzero"`
	Rejected      bool        `json:"rejected,omitempty"`
	RevokedAt     time.Time   `json:"revoked_at,omitzero"`
	ExpiresAt     time.Time   `json:"expires_at"`
	WarnedAt      time.Time   `json:"warned_at,omitzero"`
	State         WaiverState `json:"state"`
	Version       int64       `json:"version"`
}

// stateAt is the waiver's state at time t.
func (w *Waiver) stateAt(t time.Time) WaiverState {
	switch {
	case w.Rejected:
		return WaiverRejected
	case !w.RevokedAt.IsZero() && !t.Before(w.RevokedAt):
		return WaiverRevoked
	case !t.Before(w.ExpiresAt):
		return WaiverExpired
	case w.ApprovedAt.IsZero() || t.Before(w.ApprovedAt):
		return WaiverRequested
	}
	return WaiverApproved
}

// covers reports whether the waiver applies to check and subject.
func (w *Waiver) covers(check, subject string) bool {
	if w.Check != check {
		return false
	}
	if w.Subject == subject || w.Subject == "*" {
		return true
	}
	ok, _ := path.Match(w.Subject, subject)
	return ok
}

// WaiverInput is a waiver request.
type WaiverInput struct {
	Check         string    `json:"check"`
	Subject       string    `json:"subject"`
	Justification string    `json:"justification"`
	Owner         string    `json:"owner"`
	ExpiresAt     time.Time `json:"expires_at"`
}

// RequestWaiver records a waiver request; it has no effect until another
// person approves it.
func (s *Service) RequestWaiver(ctx context.Context, tenant string, in WaiverInput, actor string) (Waiver, error) {
	now := s.Now().Truncate(time.Microsecond)
	switch {
	case strings.TrimSpace(in.Check) == "":
		return Waiver{}, invalidf("a waiver needs a check")
	case strings.TrimSpace(in.Subject) == "":
		return Waiver{}, invalidf("a waiver needs a subject (an id, a pattern, or * for all)")
	case len(strings.TrimSpace(in.Justification)) < 10:
		return Waiver{}, invalidf("a waiver needs a justification (at least 10 characters)")
	case in.ExpiresAt.IsZero():
		return Waiver{}, invalidf("a waiver needs an expiry date")
	case !in.ExpiresAt.After(now):
		return Waiver{}, invalidf("expiry must lie in the future")
	case in.ExpiresAt.Sub(now) > s.maxW:
		return Waiver{}, invalidf("a waiver may last at most %d days", int(s.maxW/(24*time.Hour)))
	case actor == "":
		return Waiver{}, invalidf("a waiver needs a requester")
	}
	if _, err := path.Match(in.Subject, "x"); err != nil {
		return Waiver{}, invalidf("subject pattern: %v", err)
	}
	b, err := s.Bundle(ctx, tenant)
	if err != nil {
		return Waiver{}, err
	}
	found := false
	for _, c := range b.Checks {
		found = found || c.ID == in.Check
	}
	if !found {
		return Waiver{}, invalidf("unknown check %s", in.Check)
	}
	if in.Owner == "" {
		in.Owner = actor
	}
	w := Waiver{ID: newID("wvr_"), Check: in.Check, Subject: in.Subject, Justification: in.Justification, Owner: in.Owner,
		RequestedBy: actor, RequestedAt: now, ExpiresAt: in.ExpiresAt.UTC().Truncate(time.Microsecond), Version: 1}
	_, err = s.db.Exec(ctx, `INSERT INTO comply_waivers (id, tenant, check_id, subject, justification, owner, requested_by,
		requested_at, approved_by, approved_at, rejected, revoked_at, expires_at, warned_at, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', NULL, 0, NULL, ?, NULL, 1)`,
		w.ID, tenant, w.Check, w.Subject, w.Justification, w.Owner, w.RequestedBy, store.TimeOf(now), store.TimeOf(w.ExpiresAt))
	if err != nil {
		return Waiver{}, fmt.Errorf("request waiver: %w", err)
	}
	w.State = w.stateAt(now)
	s.publish(ctx, "compliance.waiver.requested", tenant, w.ID, actor, w)
	return w, nil
}

// WaiverDecision approves or rejects a waiver.
type WaiverDecision struct {
	Approve bool  `json:"approve"`
	Version int64 `json:"version"`
}

// ErrSelfApproval: the requester tried to approve their own waiver.
var ErrSelfApproval = &UserError{"the approver must be someone other than the requester"}

// DecideWaiver approves or rejects a requested waiver. The approver must
// not be the requester.
func (s *Service) DecideWaiver(ctx context.Context, tenant, id string, d WaiverDecision, actor string) (Waiver, error) {
	w, err := s.GetWaiver(ctx, tenant, id)
	if err != nil {
		return Waiver{}, err
	}
	now := s.Now().Truncate(time.Microsecond)
	if w.State != WaiverRequested {
		return Waiver{}, invalidf("waiver %s is %s, not requested", id, w.State)
	}
	if actor == "" || actor == w.RequestedBy {
		return Waiver{}, ErrSelfApproval
	}
	if d.Version == 0 {
		d.Version = w.Version
	}
	typ := "compliance.waiver.approved"
	if d.Approve {
		w.Version, err = store.UpdateVersioned(ctx, s.db, "comply_waivers", tenant, id, d.Version,
			"approved_by = ?, approved_at = ?", actor, store.TimeOf(now))
		w.ApprovedBy, w.ApprovedAt = actor, now
	} else {
		typ = "compliance.waiver.rejected"
		w.Version, err = store.UpdateVersioned(ctx, s.db, "comply_waivers", tenant, id, d.Version,
			"approved_by = ?, rejected = 1", actor)
		w.ApprovedBy, w.Rejected = actor, true
	}
	if err != nil {
		return Waiver{}, fmt.Errorf("decide waiver %s: %w", id, err)
	}
	w.State = w.stateAt(now)
	s.publish(ctx, typ, tenant, id, actor, w)
	return w, nil
}

// RevokeWaiver ends a waiver now.
func (s *Service) RevokeWaiver(ctx context.Context, tenant, id string, version int64, actor string) (Waiver, error) {
	w, err := s.GetWaiver(ctx, tenant, id)
	if err != nil {
		return Waiver{}, err
	}
	now := s.Now().Truncate(time.Microsecond)
	if w.State == WaiverRevoked || w.State == WaiverExpired || w.State == WaiverRejected {
		return Waiver{}, invalidf("waiver %s is already %s", id, w.State)
	}
	if version == 0 {
		version = w.Version
	}
	if w.Version, err = store.UpdateVersioned(ctx, s.db, "comply_waivers", tenant, id, version, "revoked_at = ?", store.TimeOf(now)); err != nil {
		return Waiver{}, fmt.Errorf("revoke waiver %s: %w", id, err)
	}
	w.RevokedAt = now
	w.State = w.stateAt(now)
	s.publish(ctx, "compliance.waiver.revoked", tenant, id, actor, w)
	return w, nil
}

const waiverCols = `id, check_id, subject, justification, owner, requested_by, requested_at, approved_by, approved_at,
	rejected, revoked_at, expires_at, warned_at, version`

func scanWaiver(sc interface{ Scan(...any) error }) (Waiver, error) {
	var w Waiver
	var req, appr, rev, exp, warned store.Timestamp
	var rejected int
	err := sc.Scan(&w.ID, &w.Check, &w.Subject, &w.Justification, &w.Owner, &w.RequestedBy, &req, &w.ApprovedBy, &appr,
		&rejected, &rev, &exp, &warned, &w.Version)
	w.RequestedAt, w.ApprovedAt, w.RevokedAt, w.ExpiresAt, w.WarnedAt = req.Time, appr.Time, rev.Time, exp.Time, warned.Time
	w.Rejected = rejected != 0
	return w, err
}

// GetWaiver returns one waiver with its state now.
func (s *Service) GetWaiver(ctx context.Context, tenant, id string) (Waiver, error) {
	w, err := scanWaiver(s.db.QueryRow(ctx, `SELECT `+waiverCols+` FROM comply_waivers WHERE tenant = ? AND id = ?`, tenant, id))
	if errors.Is(err, errNoRows) {
		return Waiver{}, fmt.Errorf("waiver %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return Waiver{}, fmt.Errorf("read waiver %s: %w", id, err)
	}
	w.State = w.stateAt(s.Now())
	return w, nil
}

// Waivers lists the tenant's waivers with their state at now.
func (s *Service) Waivers(ctx context.Context, tenant string) ([]Waiver, error) {
	ws, err := s.listWaivers(ctx, tenant)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	for i := range ws {
		ws[i].State = ws[i].stateAt(now)
	}
	return ws, nil
}

func (s *Service) listWaivers(ctx context.Context, tenant string) ([]Waiver, error) {
	rows, err := s.db.Query(ctx, `SELECT `+waiverCols+` FROM comply_waivers WHERE tenant = ? ORDER BY requested_at, id`, tenant)
	if err != nil {
		return nil, fmt.Errorf("list waivers: %w", err)
	}
	defer rows.Close()
	var out []Waiver
	for rows.Next() {
		w, err := scanWaiver(rows)
		if err != nil {
			return nil, fmt.Errorf("list waivers: %w", err)
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// waiversInForce are the waivers approved and neither expired nor revoked
// at time at.
func (s *Service) waiversInForce(ctx context.Context, tenant string, at time.Time) ([]Waiver, error) {
	all, err := s.listWaivers(ctx, tenant)
	if err != nil {
		return nil, err
	}
	var out []Waiver
	for _, w := range all {
		if w.stateAt(at) == WaiverApproved {
			w.State = WaiverApproved
			out = append(out, w)
		}
	}
	return out, nil
}

func matchWaiver(ws []Waiver, check, subject string) *Waiver {
	for i := range ws {
		if ws[i].covers(check, subject) {
			return &ws[i]
		}
	}
	return nil
}

// ExpiringWaivers lists approved waivers that expire within d from now.
func (s *Service) ExpiringWaivers(ctx context.Context, tenant string, d time.Duration) ([]Waiver, error) {
	ws, err := s.Waivers(ctx, tenant)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	var out []Waiver
	for _, w := range ws {
		if w.State == WaiverApproved && w.ExpiresAt.Sub(now) <= d {
			out = append(out, w)
		}
	}
	return out, nil
}

// WarnExpiring publishes compliance.waiver.expiring once for every
// approved waiver that expires within the warning period, so that its
// owner is told (playbooks and notifications subscribe to the event). It
// returns how many it warned.
func (s *Service) WarnExpiring(ctx context.Context, tenant string) (int, error) {
	ws, err := s.ExpiringWaivers(ctx, tenant, s.warn)
	if err != nil {
		return 0, err
	}
	now := s.Now().Truncate(time.Microsecond)
	n := 0
	for _, w := range ws {
		if !w.WarnedAt.IsZero() {
			continue
		}
		res, err := s.db.Exec(ctx, `UPDATE comply_waivers SET warned_at = ? WHERE tenant = ? AND id = ? AND warned_at IS NULL`,
			store.TimeOf(now), tenant, w.ID)
		if err != nil {
			return n, fmt.Errorf("mark waiver %s warned: %w", w.ID, err)
		}
		if k, _ := res.RowsAffected(); k == 0 {
			continue // another node warned
		}
		w.WarnedAt = now
		s.publish(ctx, "compliance.waiver.expiring", tenant, w.ID, "system", w)
		s.log.Info("compliance_waiver_expiring", "tenant", tenant, "waiver", w.ID, "owner", w.Owner, "expires_at", w.ExpiresAt)
		n++
	}
	return n, nil
}
