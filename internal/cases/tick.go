package cases

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/store"
)

// TickResult counts what a Tick did.
type TickResult struct {
	Breaches    int `json:"breaches"`
	Escalations int `json:"escalations"`
	Deadlines   int `json:"deadlines"`
	Expired     int `json:"exceptions_expired"`
}

// Tick advances every clock to the service's now: SLA breaches and
// escalations, regulatory deadline warnings. The module calls it every
// few seconds; tests call it after moving a fake clock.
func (s *Service) Tick(ctx context.Context) (TickResult, error) {
	now := s.clock()
	var res TickResult
	for range 20 { // bounded: a backlog finishes on the next tick
		n, err := s.tickSLA(ctx, &res)
		if err != nil {
			return res, err
		}
		if n < 500 {
			break
		}
	}
	d, err := s.tickDeadlines(ctx, now)
	res.Deadlines = d
	if err != nil {
		return res, err
	}
	res.Expired, err = s.expireExceptions(ctx, now)
	if err != nil {
		return res, err
	}
	return res, s.pruneGroupKeys(ctx, now)
}

// tickSLA looks at up to 500 incidents whose next SLA check is due.
func (s *Service) tickSLA(ctx context.Context, res *TickResult) (int, error) {
	now := s.clock()
	rows, err := s.db.Query(ctx, "SELECT "+incidentCols+" FROM case_incidents WHERE sla_next_at IS NOT NULL AND sla_next_at <= ? ORDER BY sla_next_at LIMIT 500", store.TimeOf(now))
	if err != nil {
		return 0, fmt.Errorf("find incidents with due SLA clocks: %w", err)
	}
	var due []Incident
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			rows.Close()
			return 0, fmt.Errorf("find incidents with due SLA clocks: %w", err)
		}
		due = append(due, inc)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("find incidents with due SLA clocks: %w", err)
	}
	for i := range due {
		inc := &due[i]
		breaches, esc := s.advanceSLA(inc, now)
		var evs []bus.Event
		err := s.db.Tx(ctx, func(tx *store.Tx) error {
			evs = nil
			cur := *inc
			if err := s.saveIncident(ctx, tx, &cur); err != nil {
				return err
			}
			for _, b := range breaches {
				if err := addTimeline(ctx, tx, inc.Tenant, inc.ID, b.Due, "sla", SystemActor, fmt.Sprintf("SLA breached: %s (%s)", b.Clock, b.Priority), string(b.Clock)); err != nil {
					return err
				}
				evs = append(evs, bus.Event{Type: EventSLABreached, Tenant: inc.Tenant, Subject: inc.ID, Actor: SystemActor, Data: b})
			}
			if esc != nil {
				if err := addTimeline(ctx, tx, inc.Tenant, inc.ID, now, "sla", SystemActor, fmt.Sprintf("escalated to %s (level %d)", esc.To, esc.Level), esc.To); err != nil {
					return err
				}
				evs = append(evs, bus.Event{Type: EventIncidentEscalated, Tenant: inc.Tenant, Subject: inc.ID, Actor: SystemActor, Data: *esc})
			}
			if len(breaches) > 0 || esc != nil {
				evs = append(evs, bus.Event{Type: EventIncidentUpdated, Tenant: inc.Tenant, Subject: inc.ID, Actor: SystemActor,
					Data: IncidentChange{Incident: cur, Changes: []string{"sla"}}})
			}
			return nil
		})
		if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
			continue // changed meanwhile; the next tick sees the new state
		}
		if err != nil {
			return 0, err
		}
		res.Breaches += len(breaches)
		if esc != nil {
			res.Escalations++
		}
		s.publish(ctx, evs)
	}
	return len(due), nil
}

// pruneGroupKeys drops grouping keys older than the window, at most once
// an hour (it scans the table).
func (s *Service) pruneGroupKeys(ctx context.Context, now time.Time) error {
	s.mu.Lock()
	due := now.Sub(s.prunedAt) >= time.Hour
	if due {
		s.prunedAt = now
	}
	s.mu.Unlock()
	if !due {
		return nil
	}
	if _, err := s.db.Exec(ctx, "DELETE FROM case_group_keys WHERE last_seen_at < ?", store.TimeOf(now.Add(-s.group.Window))); err != nil {
		return fmt.Errorf("prune group keys: %w", err)
	}
	s.keys.prune(now.Add(-s.group.Window))
	return nil
}
