package cases

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/store"
)

// recompute derives an incident's aggregates from its alerts (after a
// merge or split).
func (s *Service) recompute(ctx context.Context, q store.Querier, inc *Incident) error {
	rows, err := q.Query(ctx, "SELECT "+alertCols+" FROM case_alerts WHERE tenant = ? AND incident_id = ?", inc.Tenant, inc.ID)
	if err != nil {
		return fmt.Errorf("recompute incident %s: %w", inc.ID, err)
	}
	defer rows.Close()
	inc.AlertCount, inc.Score = 0, 0
	inc.Entities, inc.Attack, inc.Rules = []Entity{}, []string{}, []string{}
	inc.FirstAlertAt, inc.LastAlertAt = time.Time{}, time.Time{}
	sev := SevInformational
	for rows.Next() {
		a, err := scanAlert(rows, false)
		if err != nil {
			return fmt.Errorf("recompute incident %s: %w", inc.ID, err)
		}
		inc.AlertCount++
		if a.Severity.Rank() > sev.Rank() {
			sev = a.Severity
		}
		if a.Score > inc.Score {
			inc.Score, inc.Explanation = a.Score, a.Explanation
		}
		inc.Entities = unionEntities(inc.Entities, a.Entities, maxIncidentEntites)
		inc.Attack = unionStrings(inc.Attack, a.Attack...)
		inc.Rules = unionStrings(inc.Rules, a.RuleID)
		if inc.FirstAlertAt.IsZero() || a.CreatedAt.Before(inc.FirstAlertAt) {
			inc.FirstAlertAt = a.CreatedAt
		}
		if a.CreatedAt.After(inc.LastAlertAt) {
			inc.LastAlertAt = a.CreatedAt
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("recompute incident %s: %w", inc.ID, err)
	}
	if inc.AlertCount > 0 {
		inc.Severity = sev
		if p := priorityOf(inc.Score); !inc.PriorityManual && p != inc.Priority {
			inc.Priority = p
			s.setTargets(inc)
		}
	}
	return nil
}

// MergeIncidents moves the alerts and observables of sources into target;
// the sources are closed as duplicates pointing at the target.
func (s *Service) MergeIncidents(ctx context.Context, tenant, targetID string, sourceIDs []string, actor string) (Incident, error) {
	if len(sourceIDs) == 0 {
		return Incident{}, userErrorf("merge: name at least one incident to merge into %s", targetID)
	}
	var target Incident
	var evs []bus.Event
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		evs = nil
		var err error
		now := s.clock()
		if target, err = s.loadIncident(ctx, tx, tenant, targetID); err != nil {
			return err
		}
		if target.Status == StatusClosed {
			return userErrorf("merge: target %s is closed", targetID)
		}
		for _, sid := range sourceIDs {
			if sid == targetID {
				return userErrorf("merge: cannot merge %s into itself", sid)
			}
			src, err := s.loadIncident(ctx, tx, tenant, sid)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "UPDATE case_alerts SET incident_id = ? WHERE tenant = ? AND incident_id = ?", targetID, tenant, sid); err != nil {
				return fmt.Errorf("move alerts of %s: %w", sid, err)
			}
			if _, err := tx.Exec(ctx, "UPDATE case_group_keys SET incident_id = ? WHERE tenant = ? AND incident_id = ?", targetID, tenant, sid); err != nil {
				return fmt.Errorf("move group keys of %s: %w", sid, err)
			}
			obs, err := queryObservables(ctx, tx, tenant, sid)
			if err != nil {
				return err
			}
			for _, o := range obs {
				if _, err := tx.Exec(ctx, `INSERT INTO case_observables (tenant, id, incident_id, kind, value, tlp, pap, source, first_seen_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, incident_id, kind, value) DO NOTHING`,
					tenant, newID("obs_"), targetID, o.Kind, o.Value, string(o.TLP), string(o.PAP), o.Source, store.TimeOf(o.FirstSeenAt)); err != nil {
					return fmt.Errorf("copy observables of %s: %w", sid, err)
				}
			}
			if src.Status != StatusClosed {
				s.resume(&src, now)
				src.Status, src.Resolution, src.ResolvedAt = StatusClosed, ResDuplicate, now
				src.Waiting = false
			}
			src.MergedInto, src.UpdatedAt = targetID, now
			if err := s.recompute(ctx, tx, &src); err != nil {
				return err
			}
			if err := s.saveIncident(ctx, tx, &src); err != nil {
				return err
			}
			if err := addTimeline(ctx, tx, tenant, sid, now, "merge", actor, "merged into "+targetID, targetID); err != nil {
				return err
			}
			if err := addTimeline(ctx, tx, tenant, targetID, now, "merge", actor, "merged "+sid+": "+src.Title, sid); err != nil {
				return err
			}
			evs = append(evs, bus.Event{Type: EventIncidentUpdated, Tenant: tenant, Subject: sid, Actor: actor,
				Data: IncidentChange{Incident: src, Changes: []string{"merged into " + targetID}}})
		}
		if err := s.recompute(ctx, tx, &target); err != nil {
			return err
		}
		target.UpdatedAt = now
		if err := s.saveIncident(ctx, tx, &target); err != nil {
			return err
		}
		evs = append(evs, bus.Event{Type: EventIncidentUpdated, Tenant: tenant, Subject: targetID, Actor: actor,
			Data: IncidentChange{Incident: target, Changes: []string{fmt.Sprintf("merged %v", sourceIDs)}}})
		// The group keys moved: in-memory indexes (this one included) are
		// stale and get rebuilt.
		return bumpGroupGen(ctx, tx, tenant)
	})
	if err != nil {
		return Incident{}, err
	}
	s.keys.drop(tenant)
	s.keys.allowRebuild(tenant)
	s.publish(ctx, evs)
	s.fillSLA(&target, s.clock())
	return target, nil
}

// SplitIncident moves the named alerts of an incident into a new
// incident and returns it.
func (s *Service) SplitIncident(ctx context.Context, tenant, incID string, alertIDs []string, actor string) (Incident, error) {
	if len(alertIDs) == 0 {
		return Incident{}, userErrorf("split: name the alerts to move to a new incident")
	}
	var created Incident
	var evs []bus.Event
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		evs = nil
		now := s.clock()
		orig, err := s.loadIncident(ctx, tx, tenant, incID)
		if err != nil {
			return err
		}
		var moved []Alert
		for _, aid := range slices.Compact(slices.Sorted(slices.Values(alertIDs))) {
			a, err := scanAlert(tx.QueryRow(ctx, "SELECT "+alertCols+" FROM case_alerts WHERE tenant = ? AND id = ?", tenant, aid), false)
			if err != nil || a.IncidentID != incID {
				return userErrorf("split: alert %s is not in incident %s", aid, incID)
			}
			moved = append(moved, a)
		}
		if int64(len(moved)) >= orig.AlertCount {
			return userErrorf("split: leave at least one alert in %s", incID)
		}
		created = s.newIncident(tenant, now, "Split from "+incID+": "+moved[0].RuleTitle, orig.Type, moved[0].Severity, moved[0].Score, moved[0].Explanation)
		created.Team = orig.Team
		for _, a := range moved {
			if _, err := tx.Exec(ctx, "UPDATE case_alerts SET incident_id = ? WHERE tenant = ? AND id = ?", created.ID, tenant, a.ID); err != nil {
				return fmt.Errorf("move alert %s: %w", a.ID, err)
			}
			for _, e := range a.Entities {
				if _, err := tx.Exec(ctx, `INSERT INTO case_observables (tenant, id, incident_id, kind, value, tlp, pap, source, first_seen_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, incident_id, kind, value) DO NOTHING`,
					tenant, newID("obs_"), created.ID, e.Kind, e.Value, string(TLPAmber), string(PAPAmber), "alert "+a.ID, store.TimeOf(now)); err != nil {
					return fmt.Errorf("record observable: %w", err)
				}
			}
		}
		if err := s.recompute(ctx, tx, &created); err != nil {
			return err
		}
		if err := s.createIncident(ctx, tx, &created, actor, "split from "+incID); err != nil {
			return err
		}
		if err := s.recompute(ctx, tx, &orig); err != nil {
			return err
		}
		orig.UpdatedAt = now
		if err := s.saveIncident(ctx, tx, &orig); err != nil {
			return err
		}
		if err := addTimeline(ctx, tx, tenant, incID, now, "split", actor, fmt.Sprintf("%d alerts split into %s", len(moved), created.ID), created.ID); err != nil {
			return err
		}
		evs = append(evs, bus.Event{Type: EventIncidentCreated, Tenant: tenant, Subject: created.ID, Actor: actor, Data: created},
			bus.Event{Type: EventIncidentUpdated, Tenant: tenant, Subject: incID, Actor: actor,
				Data: IncidentChange{Incident: orig, Changes: []string{"split into " + created.ID}}})
		return nil
	})
	if err != nil {
		return Incident{}, err
	}
	s.publish(ctx, evs)
	s.fillSLA(&created, s.clock())
	return created, nil
}

func queryObservables(ctx context.Context, q store.Querier, tenant, incID string) ([]Observable, error) {
	rows, err := q.Query(ctx, "SELECT kind, value, tlp, pap, source, first_seen_at FROM case_observables WHERE tenant = ? AND incident_id = ?", tenant, incID)
	if err != nil {
		return nil, fmt.Errorf("observables of %s: %w", incID, err)
	}
	defer rows.Close()
	var out []Observable
	for rows.Next() {
		var o Observable
		var tlp, pap string
		var at store.Timestamp
		if err := rows.Scan(&o.Kind, &o.Value, &tlp, &pap, &o.Source, &at); err != nil {
			return nil, fmt.Errorf("observables of %s: %w", incID, err)
		}
		o.TLP, o.PAP, o.FirstSeenAt = TLP(tlp), PAP(pap), at.Time
		out = append(out, o)
	}
	return out, rows.Err()
}
