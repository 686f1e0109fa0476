package vuln

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/assets"
	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/vuln/report"
)

func (s *Service) assetFor(ctx context.Context, cache map[string]*assets.Asset, tenant, id string) *assets.Asset {
	key := tenant + "\x00" + id
	if a, ok := cache[key]; ok {
		return a
	}
	var out *assets.Asset
	if a, err := s.assets.Get(ctx, tenant, id); err == nil {
		out = &a
	}
	cache[key] = out
	return out
}

// Transition is a change of state asked for by a person.
type Transition struct {
	State  State  `json:"state"`
	Reason string `json:"reason"`
	// Approver and Until are required to accept a risk.
	Approver string    `json:"approver,omitempty"`
	Until    time.Time `json:"until,omitzero"`
	// Version is the finding's version as read (optimistic concurrency).
	Version int64 `json:"version"`
}

// SetState moves a finding: to in_triage, accepted (approver, reason and an
// expiry in the future), false_positive or not_affected (a reason), open,
// or fixed (manually verified).
func (s *Service) SetState(ctx context.Context, tenant, id, actor string, t Transition) (Finding, error) {
	now := s.now().UTC()
	if !t.State.Valid() {
		return Finding{}, errorf("state %q", t.State)
	}
	set := "state = ?, state_reason = ?, updated_at = ?"
	args := []any{string(t.State), t.Reason, store.TimeOf(now)}
	switch t.State {
	case StateAccepted:
		if t.Approver == "" || strings.TrimSpace(t.Reason) == "" {
			return Finding{}, errorf("accepting a risk needs an approver and a reason")
		}
		if !t.Until.After(now) {
			return Finding{}, errorf("acceptance must expire in the future")
		}
		set += ", approver = ?, accepted_until = ?"
		args = append(args, t.Approver, store.TimeOf(t.Until))
	case StateFalsePositive, StateNotAffected:
		if strings.TrimSpace(t.Reason) == "" {
			return Finding{}, errorf("%s needs a reason", t.State)
		}
	case StateFixed:
		set += ", fixed_at = ?"
		args = append(args, store.TimeOf(now))
	case StateOpen, StateInTriage, StateReopened:
		set += ", accepted_until = NULL, fixed_at = NULL"
	}
	if _, err := store.UpdateVersioned(ctx, s.db, "vuln_findings", tenant, id, t.Version, set, args...); err != nil {
		return Finding{}, err
	}
	f, err := s.Get(ctx, tenant, id)
	if err == nil {
		s.publish(ctx, bus.Event{Type: "vuln.finding.updated", Tenant: tenant, Subject: id, Actor: actor, Data: f})
	}
	return f, err
}

// SweepResult counts what Sweep did.
type SweepResult struct {
	Breached int `json:"breached"`
	Expired  int `json:"expired"`
}

// Sweep marks active findings past their due date as breached (publishing
// vuln.sla_breached once per finding) and reopens accepted findings whose
// acceptance expired (vuln.acceptance_expired). Run it on a timer; the
// clock is the service's.
func (s *Service) Sweep(ctx context.Context) (SweepResult, error) {
	now := s.now().UTC()
	var res SweepResult
	// Expired acceptances first: a reopened finding past due breaches
	// in the same sweep.
	for {
		ids, err := s.db.Claim(ctx, store.ClaimSpec{
			Table: "vuln_findings", Tenant: store.AnyTenant,
			Where: "state = ? AND accepted_until IS NOT NULL AND accepted_until <= ?",
			Args:  []any{string(StateAccepted), store.TimeOf(now)},
			Limit: 500, Set: "state = ?, state_reason = ?, updated_at = ?, version = version + 1",
			SetArgs: []any{string(StateReopened), "risk acceptance expired", store.TimeOf(now)},
		})
		if err != nil {
			return res, fmt.Errorf("sweep acceptances: %w", err)
		}
		for _, id := range ids {
			if f, err := s.getAny(ctx, id); err == nil {
				s.publish(ctx, bus.Event{Type: EventAcceptanceExpired, Tenant: f.Tenant, Subject: id, Actor: "system", Data: f})
			}
		}
		res.Expired += len(ids)
		if len(ids) < 500 {
			break
		}
	}
	for {
		ids, err := s.db.Claim(ctx, store.ClaimSpec{
			Table: "vuln_findings", Tenant: store.AnyTenant,
			Where: "state IN (?, ?, ?) AND sla_breached = 0 AND due_at IS NOT NULL AND due_at < ?",
			Args:  []any{string(StateOpen), string(StateInTriage), string(StateReopened), store.TimeOf(now)},
			Limit: 500, Set: "sla_breached = 1, version = version + 1",
		})
		if err != nil {
			return res, fmt.Errorf("sweep sla: %w", err)
		}
		for _, id := range ids {
			if f, err := s.getAny(ctx, id); err == nil {
				s.publish(ctx, bus.Event{Type: EventSLABreached, Tenant: f.Tenant, Subject: id, Actor: "system", Data: f})
			}
		}
		res.Breached += len(ids)
		if len(ids) < 500 {
			break
		}
	}
	return res, nil
}

func (s *Service) getAny(ctx context.Context, id string) (Finding, error) {
	return scanFinding(s.db.QueryRow(ctx, selectFindings+` WHERE id = ?`, id))
}

// Run sweeps every interval until ctx ends.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("vuln_sweep_failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Stats are the program's metrics.
type Stats struct {
	Open          int            `json:"open"`
	ByPriority    map[string]int `json:"open_by_priority"`
	BySeverity    map[string]int `json:"open_by_severity"`
	Overdue       int            `json:"overdue"`
	KEVOpen       int            `json:"kev_open"`
	KEVAssets     int            `json:"kev_assets"`
	Fixed         int            `json:"fixed"`
	MTTRDays      float64        `json:"mean_time_to_remediate_days"`
	SLACompliance float64        `json:"sla_compliance"`
	// Trend is opened and fixed per day over the last 30 days.
	Trend []TrendPoint `json:"trend"`
}

// TrendPoint is one day.
type TrendPoint struct {
	Day    string `json:"day"`
	Opened int    `json:"opened"`
	Fixed  int    `json:"fixed"`
}

func reportSeverity(n int) string { return report.Severity(n).String() }
