package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/store"
)

const incidentCols = `tenant, id, title, description, kind, status, resolution, severity, priority, priority_manual,
score, explanation, assignee, team, alert_count, entities, attack, rules, waiting, waiting_reason, merged_into,
first_alert_at, last_alert_at, created_at, updated_at, ack_at, contained_at, resolved_at,
sla_ack_s, sla_contain_s, sla_resolve_s, sla_paused_s, sla_paused_at, sla_ack_breach, sla_cont_breach, sla_res_breach,
escalation, escalated_to, sla_next_at, version`

// incidentSet is every mutable column, for UpdateVersioned.
const incidentSet = `title = ?, description = ?, kind = ?, status = ?, resolution = ?, severity = ?, priority = ?,
priority_manual = ?, score = ?, explanation = ?, assignee = ?, team = ?, alert_count = ?, entities = ?, attack = ?,
rules = ?, waiting = ?, waiting_reason = ?, merged_into = ?, first_alert_at = ?, last_alert_at = ?, updated_at = ?,
ack_at = ?, contained_at = ?, resolved_at = ?, sla_ack_s = ?, sla_contain_s = ?, sla_resolve_s = ?, sla_paused_s = ?,
sla_paused_at = ?, sla_ack_breach = ?, sla_cont_breach = ?, sla_res_breach = ?, escalation = ?, escalated_to = ?,
sla_next_at = ?`

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func secs(d time.Duration) int64 { return int64(d / time.Second) }

func (inc *Incident) mutableArgs() []any {
	st := &inc.SLA
	return []any{inc.Title, inc.Description, inc.Type, string(inc.Status), string(inc.Resolution), string(inc.Severity),
		string(inc.Priority), b2i(inc.PriorityManual), inc.Score, mustJSON(inc.Explanation), inc.Assignee, inc.Team,
		inc.AlertCount, mustJSON(inc.Entities), mustJSON(inc.Attack), mustJSON(inc.Rules), b2i(inc.Waiting),
		inc.WaitingReason, inc.MergedInto, tsOrNil(inc.FirstAlertAt), tsOrNil(inc.LastAlertAt), tsOrNil(inc.UpdatedAt),
		tsOrNil(inc.AckAt), tsOrNil(inc.ContainedAt), tsOrNil(inc.ResolvedAt), secs(st.ackTarget), secs(st.containTarget),
		secs(st.resolveTarget), secs(st.pausedFor), tsOrNil(st.pausedAt), tsOrNil(st.AckBreachedAt),
		tsOrNil(st.ContainBreachedAt), tsOrNil(st.ResolveBreachedAt), int64(st.Escalation), st.EscalatedTo, tsOrNil(st.nextAt)}
}

type rowScanner interface{ Scan(dest ...any) error }

func scanIncident(r rowScanner) (Incident, error) {
	var inc Incident
	var status, res, sev, prio, expl, ents, attack, rules string
	var manual, waiting, ackS, contS, resS, pausedS, esc int64
	var firstA, lastA, created, updated, ack, cont, resolved, pausedAt, ab, cb, rb, next store.Timestamp
	err := r.Scan(&inc.Tenant, &inc.ID, &inc.Title, &inc.Description, &inc.Type, &status, &res, &sev, &prio, &manual,
		&inc.Score, &expl, &inc.Assignee, &inc.Team, &inc.AlertCount, &ents, &attack, &rules, &waiting, &inc.WaitingReason,
		&inc.MergedInto, &firstA, &lastA, &created, &updated, &ack, &cont, &resolved,
		&ackS, &contS, &resS, &pausedS, &pausedAt, &ab, &cb, &rb, &esc, &inc.SLA.EscalatedTo, &next, &inc.Version)
	if err != nil {
		return inc, err
	}
	inc.Status, inc.Resolution, inc.Severity, inc.Priority = Status(status), Resolution(res), Severity(sev), Priority(prio)
	inc.PriorityManual, inc.Waiting = manual == 1, waiting == 1
	if err := errors.Join(fromJSON(expl, &inc.Explanation), fromJSON(ents, &inc.Entities), fromJSON(attack, &inc.Attack), fromJSON(rules, &inc.Rules)); err != nil {
		return inc, fmt.Errorf("decode incident %s: %w", inc.ID, err)
	}
	inc.FirstAlertAt, inc.LastAlertAt, inc.CreatedAt, inc.UpdatedAt = firstA.Time, lastA.Time, created.Time, updated.Time
	inc.AckAt, inc.ContainedAt, inc.ResolvedAt = ack.Time, cont.Time, resolved.Time
	st := &inc.SLA
	st.Policy = inc.Priority
	st.ackTarget, st.containTarget, st.resolveTarget = time.Duration(ackS)*time.Second, time.Duration(contS)*time.Second, time.Duration(resS)*time.Second
	st.pausedFor, st.pausedAt = time.Duration(pausedS)*time.Second, pausedAt.Time
	st.AckBreachedAt, st.ContainBreachedAt, st.ResolveBreachedAt = ab.Time, cb.Time, rb.Time
	st.Escalation, st.nextAt = int(esc), next.Time
	return inc, nil
}

// incidentInsertCols matches incidentInsertArgs.
const incidentInsertCols = `tenant, id, title, description, kind, status, resolution, severity, priority, priority_manual, score,
explanation, assignee, team, alert_count, entities, attack, rules, waiting, waiting_reason, merged_into, first_alert_at,
last_alert_at, updated_at, ack_at, contained_at, resolved_at, sla_ack_s, sla_contain_s, sla_resolve_s, sla_paused_s,
sla_paused_at, sla_ack_breach, sla_cont_breach, sla_res_breach, escalation, escalated_to, sla_next_at, created_at, version`

func incidentInsertArgs(inc *Incident) []any {
	args := append([]any{inc.Tenant, inc.ID}, inc.mutableArgs()...)
	return append(args, store.TimeOf(inc.CreatedAt), inc.Version)
}

// saveIncident writes inc if its version is still inc.Version and bumps it.
func (s *Service) saveIncident(ctx context.Context, q store.Querier, inc *Incident) error {
	inc.SLA.nextAt = s.nextCheck(inc)
	v, err := store.UpdateVersioned(ctx, q, "case_incidents", inc.Tenant, inc.ID, inc.Version, incidentSet, inc.mutableArgs()...)
	if err != nil {
		return err
	}
	inc.Version = v
	return nil
}

func (s *Service) loadIncident(ctx context.Context, q store.Querier, tenant, id string) (Incident, error) {
	inc, err := scanIncident(q.QueryRow(ctx, "SELECT "+incidentCols+" FROM case_incidents WHERE tenant = ? AND id = ?", tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return inc, fmt.Errorf("incident %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return inc, fmt.Errorf("load incident %s: %w", id, err)
	}
	return inc, nil
}

// GetIncident returns one incident with its SLA as of now.
func (s *Service) GetIncident(ctx context.Context, tenant, id string) (Incident, error) {
	inc, err := s.loadIncident(ctx, s.db, tenant, id)
	if err != nil {
		return inc, err
	}
	s.fillSLA(&inc, s.clock())
	return inc, nil
}

// IncidentFilter selects incidents to list.
type IncidentFilter struct {
	Status   []Status
	Open     bool // not closed
	Priority Priority
	Severity Severity
	Assignee string
	// Text matches title or description (substring).
	Text string
	// Before pages: only incidents created before this time.
	Before time.Time
	Since  time.Time
	Limit  int // default 100, at most 1000
}

// ListIncidents returns incidents, newest first.
func (s *Service) ListIncidents(ctx context.Context, tenant string, f IncidentFilter) ([]Incident, error) {
	where := []string{"tenant = ?"}
	args := []any{tenant}
	if len(f.Status) > 0 {
		ph := make([]string, len(f.Status))
		for i, st := range f.Status {
			if !st.Valid() {
				return nil, userErrorf("status %q: want one of %v", st, Statuses)
			}
			ph[i] = "?"
			args = append(args, string(st))
		}
		where = append(where, "status IN ("+strings.Join(ph, ", ")+")")
	}
	if f.Open {
		where = append(where, "status <> 'closed'")
	}
	if f.Priority != "" {
		where = append(where, "priority = ?")
		args = append(args, string(f.Priority))
	}
	if f.Severity != "" {
		where = append(where, "severity = ?")
		args = append(args, string(f.Severity))
	}
	if f.Assignee != "" {
		where = append(where, "assignee = ?")
		args = append(args, f.Assignee)
	}
	if f.Text != "" {
		where = append(where, "(LOWER(title) LIKE ? OR LOWER(description) LIKE ?)")
		p := "%" + strings.ToLower(likeEscape(f.Text)) + "%"
		args = append(args, p, p)
	}
	if !f.Before.IsZero() {
		where = append(where, "created_at < ?")
		args = append(args, store.TimeOf(f.Before))
	}
	if !f.Since.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, store.TimeOf(f.Since))
	}
	limit := clampLimit(f.Limit)
	rows, err := s.db.Query(ctx, "SELECT "+incidentCols+" FROM case_incidents WHERE "+strings.Join(where, " AND ")+
		fmt.Sprintf(" ORDER BY created_at DESC LIMIT %d", limit), args...)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	defer rows.Close()
	now := s.clock()
	var out []Incident
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("list incidents: %w", err)
		}
		s.fillSLA(&inc, now)
		out = append(out, inc)
	}
	return out, rows.Err()
}

func likeEscape(s string) string {
	return strings.NewReplacer("%", "", "_", "").Replace(s)
}

func clampLimit(n int) int {
	if n <= 0 {
		return 100
	}
	return min(n, 1000)
}

// NewIncident describes an incident opened by hand.
type NewIncident struct {
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Type        string   `json:"type"`
	Severity    Severity `json:"severity"`
	Priority    Priority `json:"priority"`
	Assignee    string   `json:"assignee"`
	Team        string   `json:"team"`
}

// CreateIncident opens an incident by hand (no alerts yet).
func (s *Service) CreateIncident(ctx context.Context, tenant string, n NewIncident, actor string) (Incident, error) {
	if strings.TrimSpace(n.Title) == "" || len(n.Title) > 500 {
		return Incident{}, userErrorf("title: required, at most 500 characters")
	}
	if n.Severity == "" {
		n.Severity = SevMedium
	}
	if n.Severity.Rank() < 0 {
		return Incident{}, userErrorf("severity %q: want informational, low, medium, high or critical", n.Severity)
	}
	if n.Priority != "" && !n.Priority.Valid() {
		return Incident{}, userErrorf("priority %q: want P1-P4", n.Priority)
	}
	now := s.clock()
	sc, expl := score(n.Severity, 0, 0, nil)
	inc := s.newIncident(tenant, now, n.Title, n.Type, n.Severity, sc, expl)
	inc.Description, inc.Assignee, inc.Team = n.Description, n.Assignee, n.Team
	if n.Priority != "" {
		inc.Priority, inc.PriorityManual = n.Priority, true
		s.setTargets(&inc)
	}
	if inc.Assignee != "" {
		inc.AckAt = now
	}
	var evs []bus.Event
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		evs = nil
		if err := s.createIncident(ctx, tx, &inc, actor, "opened by hand"); err != nil {
			return err
		}
		evs = append(evs, bus.Event{Type: EventIncidentCreated, Tenant: tenant, Subject: inc.ID, Actor: actor, Data: inc})
		return nil
	})
	if err != nil {
		return Incident{}, err
	}
	s.publish(ctx, evs)
	s.fillSLA(&inc, now)
	return inc, nil
}

func (s *Service) newIncident(tenant string, now time.Time, title, kind string, sev Severity, sc int, expl []ScoreFactor) Incident {
	if kind == "" {
		kind = "generic"
	}
	inc := Incident{ID: newID("inc_"), Tenant: tenant, Title: title, Type: kind, Status: StatusNew, Severity: sev,
		Score: sc, Priority: priorityOf(sc), Explanation: expl, CreatedAt: now, UpdatedAt: now, Version: 1,
		Entities: []Entity{}, Attack: []string{}, Rules: []string{}}
	s.setTargets(&inc)
	return inc
}

// createIncident inserts inc with its task template and first timeline
// entry.
func (s *Service) createIncident(ctx context.Context, tx *store.Tx, inc *Incident, actor, why string) error {
	return s.createIncidents(ctx, tx, []*Incident{inc}, actor, why)
}

// createIncidents inserts new incidents and their first timeline entries
// with a few multi-row statements (tasks are stored on first use, see
// Tasks).
func (s *Service) createIncidents(ctx context.Context, tx *store.Tx, incs []*Incident, actor, why string) error {
	if len(incs) == 0 {
		return nil
	}
	var rows, tl [][]any
	for _, inc := range incs {
		inc.SLA.nextAt = s.nextCheck(inc)
		rows = append(rows, incidentInsertArgs(inc))
		tl = append(tl, []any{inc.Tenant, newID("tl_"), inc.ID, store.TimeOf(inc.CreatedAt), "created", actor, why, ""})
	}
	if err := insertRows(ctx, tx, "INSERT INTO case_incidents ("+incidentInsertCols+")", rows, ""); err != nil {
		return fmt.Errorf("insert incidents: %w", err)
	}
	if err := insertRows(ctx, tx, "INSERT INTO case_timeline (tenant, id, incident_id, at, kind, actor, text, ref)", tl, ""); err != nil {
		return fmt.Errorf("add timeline entries: %w", err)
	}
	return nil
}

// insertRows runs head VALUES (…), (…) suffix over rows in chunks that
// stay below both backends' parameter limits.
func insertRows(ctx context.Context, q store.Querier, head string, rows [][]any, suffix string) error {
	if len(rows) == 0 {
		return nil
	}
	ncols := len(rows[0])
	per := max(1, min(500, 30000/ncols))
	ph := "(" + store.Placeholders(ncols) + ")"
	for i := 0; i < len(rows); i += per {
		chunk := rows[i:min(len(rows), i+per)]
		var b strings.Builder
		b.WriteString(head)
		b.WriteString(" VALUES ")
		args := make([]any, 0, len(chunk)*ncols)
		for j, r := range chunk {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(ph)
			args = append(args, r...)
		}
		b.WriteString(" ")
		b.WriteString(suffix)
		if _, err := q.Exec(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// IncidentPatch changes an incident; nil fields stay.
type IncidentPatch struct {
	Title         *string     `json:"title,omitempty"`
	Description   *string     `json:"description,omitempty"`
	Type          *string     `json:"type,omitempty"`
	Status        *Status     `json:"status,omitempty"`
	Resolution    *Resolution `json:"resolution,omitempty"`
	Severity      *Severity   `json:"severity,omitempty"`
	Priority      *Priority   `json:"priority,omitempty"`
	Assignee      *string     `json:"assignee,omitempty"`
	Team          *string     `json:"team,omitempty"`
	Waiting       *bool       `json:"waiting,omitempty"`
	WaitingReason *string     `json:"waiting_reason,omitempty"`
}

// UpdateIncident applies p. With version > 0 the incident must still be
// at that version (ErrConflict otherwise), so two analysts editing at once
// cannot overwrite each other unseen.
func (s *Service) UpdateIncident(ctx context.Context, tenant, id string, version int64, p IncidentPatch, actor string) (Incident, error) {
	var inc Incident
	var evs []bus.Event
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		evs = nil
		var err error
		inc, err = s.loadIncident(ctx, tx, tenant, id)
		if err != nil {
			return err
		}
		if version > 0 && inc.Version != version {
			return fmt.Errorf("update incident %s version %d (now %d): %w", id, version, inc.Version, ErrConflict)
		}
		changes, err := s.applyPatch(&inc, p, s.clock())
		if err != nil {
			return err
		}
		if len(changes) == 0 {
			return nil
		}
		if err := s.saveIncident(ctx, tx, &inc); err != nil {
			return err
		}
		for _, c := range changes {
			if err := addTimeline(ctx, tx, tenant, id, inc.UpdatedAt, "change", actor, c, ""); err != nil {
				return err
			}
		}
		if inc.Status == StatusClosed {
			if err := s.startHandledStages(ctx, tx, &inc, inc.UpdatedAt); err != nil {
				return err
			}
		}
		evs = append(evs, bus.Event{Type: EventIncidentUpdated, Tenant: tenant, Subject: id, Actor: actor,
			Data: IncidentChange{Incident: inc, Changes: changes}})
		return nil
	})
	if err != nil {
		return Incident{}, err
	}
	s.publish(ctx, evs)
	s.fillSLA(&inc, s.clock())
	return inc, nil
}

// IncidentChange is the payload of incident.updated.
type IncidentChange struct {
	Incident Incident `json:"incident"`
	Changes  []string `json:"changes"`
}

func (s *Service) applyPatch(inc *Incident, p IncidentPatch, now time.Time) ([]string, error) {
	var ch []string
	set := func(name string, dst *string, v *string, maxLen int) error {
		if v == nil || *v == *dst {
			return nil
		}
		if len(*v) > maxLen {
			return userErrorf("%s: at most %d characters", name, maxLen)
		}
		ch = append(ch, fmt.Sprintf("%s: %q → %q", name, *dst, *v))
		*dst = *v
		return nil
	}
	if err := errors.Join(set("title", &inc.Title, p.Title, 500), set("description", &inc.Description, p.Description, 100000),
		set("type", &inc.Type, p.Type, 100), set("team", &inc.Team, p.Team, 200)); err != nil {
		return nil, err
	}
	if p.Title != nil && strings.TrimSpace(*p.Title) == "" {
		return nil, userErrorf("title: must not be empty")
	}
	if p.Assignee != nil && *p.Assignee != inc.Assignee {
		if err := set("assignee", &inc.Assignee, p.Assignee, 200); err != nil {
			return nil, err
		}
		if inc.Assignee != "" && inc.AckAt.IsZero() {
			inc.AckAt = now
		}
	}
	if p.Severity != nil && *p.Severity != inc.Severity {
		if p.Severity.Rank() < 0 {
			return nil, userErrorf("severity %q: want informational, low, medium, high or critical", *p.Severity)
		}
		ch = append(ch, fmt.Sprintf("severity: %s → %s", inc.Severity, *p.Severity))
		inc.Severity = *p.Severity
	}
	if p.Priority != nil && (*p.Priority != inc.Priority || !inc.PriorityManual) {
		if !p.Priority.Valid() {
			return nil, userErrorf("priority %q: want P1, P2, P3 or P4", *p.Priority)
		}
		ch = append(ch, fmt.Sprintf("priority: %s → %s (manual)", inc.Priority, *p.Priority))
		inc.Priority, inc.PriorityManual = *p.Priority, true
		s.setTargets(inc)
	}
	if p.Resolution != nil && !p.Resolution.Valid() {
		return nil, userErrorf("resolution %q: want true_positive, benign_true_positive, false_positive or duplicate", *p.Resolution)
	}
	if p.Status != nil && *p.Status != inc.Status {
		to := *p.Status
		if !to.Valid() {
			return nil, userErrorf("status %q: want one of %v", to, Statuses)
		}
		if inc.Status == StatusClosed && to != StatusTriage {
			return nil, userErrorf("incident %s is closed: reopen it to triage first", inc.ID)
		}
		if to == StatusClosed {
			res := inc.Resolution
			if p.Resolution != nil {
				res = *p.Resolution
			}
			if res == ResNone {
				return nil, userErrorf("closing needs a resolution: true_positive, benign_true_positive, false_positive or duplicate")
			}
			inc.Resolution = res
			inc.ResolvedAt = now
			s.resume(inc, now)
			inc.Waiting, inc.WaitingReason = false, ""
		}
		if inc.Status == StatusClosed { // reopen
			inc.Resolution, inc.ResolvedAt = ResNone, time.Time{}
		}
		if to.acknowledged() && inc.AckAt.IsZero() {
			inc.AckAt = now
		}
		if to.contained() && inc.ContainedAt.IsZero() {
			inc.ContainedAt = now
		}
		ch = append(ch, fmt.Sprintf("status: %s → %s", inc.Status, to))
		inc.Status = to
		if to == StatusClosed {
			ch = append(ch, "resolution: "+string(inc.Resolution))
		}
	} else if p.Resolution != nil && *p.Resolution != inc.Resolution {
		if inc.Status != StatusClosed {
			return nil, userErrorf("a resolution is set when closing (status closed)")
		}
		ch = append(ch, fmt.Sprintf("resolution: %s → %s", inc.Resolution, *p.Resolution))
		inc.Resolution = *p.Resolution
	}
	if p.WaitingReason != nil && *p.WaitingReason != inc.WaitingReason {
		if err := set("waiting_reason", &inc.WaitingReason, p.WaitingReason, 1000); err != nil {
			return nil, err
		}
	}
	if p.Waiting != nil && *p.Waiting != inc.Waiting {
		if *p.Waiting && inc.Status == StatusClosed {
			return nil, userErrorf("a closed incident cannot wait")
		}
		inc.Waiting = *p.Waiting
		if inc.Waiting {
			s.pause(inc, now)
			ch = append(ch, "waiting: SLA clocks paused")
		} else {
			s.resume(inc, now)
			inc.WaitingReason = ""
			ch = append(ch, "waiting ended: SLA clocks run")
		}
	}
	if len(ch) > 0 {
		inc.UpdatedAt = now
	}
	return ch, nil
}
