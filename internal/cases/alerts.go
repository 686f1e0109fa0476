package cases

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/store"
)

// Limits on what an alert carries.
const (
	maxAlertEvents     = 100
	maxAlertEventBytes = 1 << 20
	maxEntities        = 50
	maxIncidentEntites = 100
)

// entityKinds are the entity families alerts may name; each entity also
// becomes an observable of its incident (the pivot for similar incidents).
var entityKinds = map[string]bool{"host": true, "user": true, "ip": true, "process": true, "hash": true,
	"domain": true, "url": true, "email": true, "file": true, "service": true, "account": true, "registry": true}

const alertCols = `tenant, id, incident_id, source, rule_id, rule_title, severity, attack, entities, dedup_key, hit_count,
score, priority, explanation, ioc_conf, asset_crit, logsource, description, event_time, created_at, last_seen_at`

func scanAlert(r rowScanner, withEvents bool) (Alert, error) {
	var a Alert
	var sev, attack, ents, prio, expl, ls, events string
	var evTime, created, last store.Timestamp
	dest := []any{&a.Tenant, &a.ID, &a.IncidentID, &a.Source, &a.RuleID, &a.RuleTitle, &sev, &attack, &ents, &a.DedupKey,
		&a.Count, &a.Score, &prio, &expl, &a.IndicatorConfidence, &a.AssetCriticality, &ls, &a.Description, &evTime, &created, &last}
	if withEvents {
		dest = append(dest, &events)
	}
	if err := r.Scan(dest...); err != nil {
		return a, err
	}
	a.Severity, a.Priority = Severity(sev), Priority(prio)
	a.EventTime, a.CreatedAt, a.LastSeenAt = evTime.Time, created.Time, last.Time
	if err := errors.Join(fromJSON(attack, &a.Attack), fromJSON(ents, &a.Entities), fromJSON(expl, &a.Explanation),
		fromJSON(ls, &a.Logsource), fromJSON(events, &a.Events)); err != nil {
		return a, fmt.Errorf("decode alert %s: %w", a.ID, err)
	}
	return a, nil
}

// normalize validates an input and fills defaults.
func (s *Service) normalize(ctx context.Context, tenant string, in AlertInput, now time.Time) (AlertInput, error) {
	in.RuleID = strings.TrimSpace(in.RuleID)
	if in.RuleID == "" {
		in.RuleID = strings.TrimSpace(in.RuleTitle)
	}
	if in.RuleID == "" || len(in.RuleID) > 200 || len(in.RuleTitle) > 500 {
		return in, userErrorf("rule_id or rule_title: required, rule_id at most 200 characters")
	}
	if in.RuleTitle == "" {
		in.RuleTitle = in.RuleID
	}
	if in.Source == "" {
		in.Source = "api"
	}
	if in.Severity == "" {
		in.Severity = SevMedium
	}
	sev, err := ParseSeverity(string(in.Severity))
	if err != nil {
		return in, err
	}
	in.Severity = sev
	in.Attack = normalizeAttack(in.Attack)
	if len(in.Entities) > maxEntities {
		return in, userErrorf("entities: at most %d", maxEntities)
	}
	ents := make([]Entity, 0, len(in.Entities))
	for _, e := range in.Entities {
		e.Kind = strings.ToLower(strings.TrimSpace(e.Kind))
		e.Value = strings.TrimSpace(e.Value)
		if !entityKinds[e.Kind] {
			return in, userErrorf("entity kind %q: want one of host, user, ip, process, hash, domain, url, email, file, service, account, registry", e.Kind)
		}
		if e.Value == "" || len(e.Value) > 2000 {
			return in, userErrorf("entity %s: value required, at most 2000 characters", e.Kind)
		}
		e.Value = normalizeValue(e.Kind, e.Value)
		ents = append(ents, e)
	}
	in.Entities = unionEntities(nil, ents, maxEntities)
	if len(in.Events) > maxAlertEvents {
		in.Events = in.Events[:maxAlertEvents]
	}
	size := 0
	for i, ev := range in.Events {
		if !json.Valid(ev) || len(ev) == 0 || ev[0] != '{' {
			return in, userErrorf("events[%d]: want a JSON object", i)
		}
		size += len(ev)
		if size > maxAlertEventBytes {
			return in, userErrorf("events: at most %d bytes in all", maxAlertEventBytes)
		}
	}
	if in.EventTime.IsZero() && len(in.Events) > 0 {
		var first struct {
			Time time.Time `json:"_time"`
		}
		if json.Unmarshal(in.Events[0], &first) == nil {
			in.EventTime = first.Time
		}
	}
	if in.EventTime.IsZero() || in.EventTime.After(now) {
		in.EventTime = now
	}
	in.IndicatorConfidence = max(0, min(100, in.IndicatorConfidence))
	in.AssetCriticality = max(0, min(5, in.AssetCriticality))
	if in.AssetCriticality == 0 && s.assetCrit != nil {
		in.AssetCriticality = max(0, min(5, s.assetCrit(ctx, tenant, in.Entities)))
	}
	if in.DedupKey == "" {
		parts := []string{in.Source, in.RuleID}
		for _, e := range in.Entities {
			parts = append(parts, e.String())
		}
		in.DedupKey = hashKey(parts...)
	}
	if len(in.DedupKey) > 200 || len(in.Description) > 10000 {
		return in, userErrorf("dedup_key at most 200, description at most 10000 characters")
	}
	return in, nil
}

// groupKeys are the keys under which an alert looks for an incident to
// join.
func (s *Service) groupKeys(in AlertInput) []string {
	var keys []string
	for _, e := range in.Entities {
		if s.group.RuleEntity {
			keys = append(keys, "rule:"+in.RuleID+"|"+e.String())
		}
		if slices.Contains(s.group.AcrossRules, e.Kind) {
			keys = append(keys, e.String())
		}
	}
	if len(in.Entities) == 0 && s.group.RuleEntity {
		keys = append(keys, "rule:"+in.RuleID)
	}
	return keys
}

// RaiseAlert stores an alert and groups it into an incident; see the
// package documentation.
func (s *Service) RaiseAlert(ctx context.Context, tenant string, in AlertInput) (Alert, error) {
	as, err := s.RaiseAlerts(ctx, tenant, []AlertInput{in})
	if err != nil {
		return Alert{}, err
	}
	return as[0], nil
}

// RaiseAlerts is RaiseAlert for a batch, in one transaction.
func (s *Service) RaiseAlerts(ctx context.Context, tenant string, ins []AlertInput) ([]Alert, error) {
	tenant, err := validTenant(tenant)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	norm := make([]AlertInput, len(ins))
	for i, in := range ins {
		if norm[i], err = s.normalize(ctx, tenant, in, now); err != nil {
			return nil, err
		}
	}
	var out []Alert
	var evs []bus.Event
	for attempt := 0; ; attempt++ {
		err = s.db.Tx(ctx, func(tx *store.Tx) error {
			out, evs = out[:0], evs[:0]
			g := &grouper{s: s, tx: tx, tenant: tenant, now: now, incidents: map[string]*incState{}, keys: map[string]*incState{}}
			for _, in := range norm {
				a, err := g.raise(ctx, in)
				if err != nil {
					return err
				}
				out = append(out, a)
			}
			var err error
			evs, err = g.flush(ctx, out)
			return err
		})
		if !errors.Is(err, ErrConflict) || attempt >= 5 {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("raise alerts: %w", err)
	}
	s.publish(ctx, evs)
	return out, nil
}

type incState struct {
	inc     Incident
	created bool
	changes []string
}

// grouper raises alerts of one transaction, saving each touched incident
// once at the end.
type grouper struct {
	s         *Service
	tx        *store.Tx
	tenant    string
	now       time.Time
	incidents map[string]*incState
	order     []string
	// keys touched in this transaction (their incidents may not be
	// inserted yet).
	keys map[string]*incState
}

func (g *grouper) raise(ctx context.Context, in AlertInput) (Alert, error) {
	s, tx, tenant, now := g.s, g.tx, g.tenant, g.now
	// De-duplicate.
	if s.group.DedupWindow > 0 {
		a, err := scanAlert(tx.QueryRow(ctx, "SELECT "+alertCols+" FROM case_alerts WHERE tenant = ? AND dedup_key = ? AND last_seen_at >= ? ORDER BY last_seen_at DESC LIMIT 1",
			tenant, in.DedupKey, store.TimeOf(now.Add(-s.group.DedupWindow))), false)
		switch {
		case err == nil:
			if _, err := tx.Exec(ctx, "UPDATE case_alerts SET hit_count = hit_count + 1, last_seen_at = ? WHERE tenant = ? AND id = ?",
				store.TimeOf(now), tenant, a.ID); err != nil {
				return a, fmt.Errorf("count repeat of alert %s: %w", a.ID, err)
			}
			a.Count++
			a.LastSeenAt = now
			a.Deduplicated = true
			return a, nil
		case !errors.Is(err, sql.ErrNoRows):
			return a, fmt.Errorf("find duplicate alert: %w", err)
		}
	}
	sc, expl := score(in.Severity, in.AssetCriticality, in.IndicatorConfidence, in.Attack)
	a := Alert{ID: newID("alr_"), Tenant: tenant, Source: in.Source, RuleID: in.RuleID, RuleTitle: in.RuleTitle,
		Severity: in.Severity, Attack: in.Attack, Entities: in.Entities, DedupKey: in.DedupKey, Count: 1, Score: sc,
		Priority: priorityOf(sc), Explanation: expl, IndicatorConfidence: in.IndicatorConfidence,
		AssetCriticality: in.AssetCriticality, Logsource: in.Logsource, Description: in.Description,
		EventTime: in.EventTime, CreatedAt: now, LastSeenAt: now, Events: in.Events}
	if a.Attack == nil {
		a.Attack = []string{}
	}
	if a.Events == nil {
		a.Events = []json.RawMessage{}
	}
	// Find an open incident sharing a key.
	keys := s.groupKeys(in)
	st, err := g.find(ctx, keys)
	if err != nil {
		return a, err
	}
	if st == nil {
		title := in.RuleTitle
		for _, e := range in.Entities {
			if e.Kind == "host" || e.Kind == "user" {
				title += " on " + e.String()
				break
			}
		}
		inc := s.newIncident(tenant, now, title, "", in.Severity, sc, expl)
		inc.Description = in.Description
		st = &incState{inc: inc, created: true}
		g.incidents[inc.ID] = st
		g.order = append(g.order, inc.ID)
	}
	inc := &st.inc
	a.IncidentID = inc.ID
	// Fold the alert into the incident.
	inc.AlertCount++
	if inc.FirstAlertAt.IsZero() {
		inc.FirstAlertAt = now
	}
	inc.LastAlertAt = now
	inc.UpdatedAt = now
	if in.Severity.Rank() > inc.Severity.Rank() {
		st.changes = append(st.changes, fmt.Sprintf("severity: %s → %s", inc.Severity, in.Severity))
		inc.Severity = in.Severity
	}
	if sc > inc.Score {
		inc.Score, inc.Explanation = sc, expl
		if p := priorityOf(sc); !inc.PriorityManual && p != inc.Priority {
			st.changes = append(st.changes, fmt.Sprintf("priority: %s → %s", inc.Priority, p))
			inc.Priority = p
			s.setTargets(inc)
		}
	}
	inc.Entities = unionEntities(inc.Entities, in.Entities, maxIncidentEntites)
	inc.Attack = unionStrings(inc.Attack, in.Attack...)
	if !slices.Contains(inc.Rules, in.RuleID) && len(inc.Rules) < 200 {
		inc.Rules = unionStrings(inc.Rules, in.RuleID)
	}
	if !st.created {
		st.changes = append(st.changes, "alert "+a.ID+": "+in.RuleTitle)
	}
	if err := insertAlert(ctx, tx, &a); err != nil {
		return a, err
	}
	for _, k := range keys {
		g.keys[k] = st
		if _, err := tx.Exec(ctx, store.Upsert("case_group_keys", []string{"tenant", "gkey", "incident_id", "last_seen_at"},
			[]string{"tenant", "gkey"}, []string{"incident_id", "last_seen_at"}), tenant, k, inc.ID, store.TimeOf(now)); err != nil {
			return a, fmt.Errorf("record group key: %w", err)
		}
	}
	for _, e := range in.Entities {
		if _, err := tx.Exec(ctx, `INSERT INTO case_observables (tenant, id, incident_id, kind, value, tlp, pap, source, first_seen_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, incident_id, kind, value) DO NOTHING`,
			tenant, newID("obs_"), inc.ID, e.Kind, e.Value, string(TLPAmber), string(PAPAmber), "alert "+a.ID, store.TimeOf(now)); err != nil {
			return a, fmt.Errorf("record observable: %w", err)
		}
	}
	return a, nil
}

// find returns the open incident that most recently took one of keys
// within the grouping window.
func (g *grouper) find(ctx context.Context, keys []string) (*incState, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	for _, k := range keys {
		if st, ok := g.keys[k]; ok && st.inc.Status != StatusClosed {
			return st, nil
		}
	}
	args := []any{g.tenant}
	for _, k := range keys {
		args = append(args, k)
	}
	args = append(args, store.TimeOf(g.now.Add(-g.s.group.Window)))
	var id string
	err := g.tx.QueryRow(ctx, `SELECT k.incident_id FROM case_group_keys k JOIN case_incidents i ON i.tenant = k.tenant AND i.id = k.incident_id
WHERE k.tenant = ? AND k.gkey IN (`+store.Placeholders(len(keys))+`) AND k.last_seen_at >= ? AND i.status <> 'closed' AND i.merged_into = ''
ORDER BY k.last_seen_at DESC LIMIT 1`, args...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find incident to group into: %w", err)
	}
	if st, ok := g.incidents[id]; ok {
		return st, nil
	}
	inc, err := g.s.loadIncident(ctx, g.tx, g.tenant, id)
	if err != nil {
		return nil, err
	}
	st := &incState{inc: inc}
	g.incidents[id] = st
	g.order = append(g.order, id)
	return st, nil
}

// flush writes the touched incidents and returns the events to publish.
func (g *grouper) flush(ctx context.Context, alerts []Alert) ([]bus.Event, error) {
	var evs []bus.Event
	for _, a := range alerts {
		if !a.Deduplicated {
			ev := a
			ev.Events = nil
			evs = append(evs, bus.Event{Type: EventAlertCreated, Tenant: g.tenant, Subject: a.ID, Actor: a.Source, Time: a.CreatedAt, Data: ev})
		}
	}
	for _, id := range g.order {
		st := g.incidents[id]
		if st.created {
			if err := g.s.createIncident(ctx, g.tx, &st.inc, SystemActor, "opened from alerts"); err != nil {
				return nil, err
			}
			evs = append(evs, bus.Event{Type: EventIncidentCreated, Tenant: g.tenant, Subject: id, Actor: SystemActor, Data: st.inc})
			continue
		}
		if err := g.s.saveIncident(ctx, g.tx, &st.inc); err != nil {
			return nil, err
		}
		evs = append(evs, bus.Event{Type: EventIncidentUpdated, Tenant: g.tenant, Subject: id, Actor: SystemActor,
			Data: IncidentChange{Incident: st.inc, Changes: st.changes}})
	}
	return evs, nil
}

func insertAlert(ctx context.Context, q store.Querier, a *Alert) error {
	_, err := q.Exec(ctx, "INSERT INTO case_alerts ("+alertCols+", events) VALUES ("+store.Placeholders(22)+")",
		a.Tenant, a.ID, a.IncidentID, a.Source, a.RuleID, a.RuleTitle, string(a.Severity), mustJSON(a.Attack),
		mustJSON(a.Entities), a.DedupKey, a.Count, a.Score, string(a.Priority), mustJSON(a.Explanation),
		a.IndicatorConfidence, a.AssetCriticality, mustJSON(a.Logsource), a.Description, store.TimeOf(a.EventTime),
		store.TimeOf(a.CreatedAt), store.TimeOf(a.LastSeenAt), mustJSON(a.Events))
	if err != nil {
		return fmt.Errorf("insert alert: %w", err)
	}
	return nil
}

// GetAlert returns an alert with its copied events.
func (s *Service) GetAlert(ctx context.Context, tenant, id string) (Alert, error) {
	a, err := scanAlert(s.db.QueryRow(ctx, "SELECT "+alertCols+", events FROM case_alerts WHERE tenant = ? AND id = ?", tenant, id), true)
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("alert %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return a, fmt.Errorf("get alert %s: %w", id, err)
	}
	return a, nil
}

// AlertFilter selects alerts to list (without their events).
type AlertFilter struct {
	IncidentID string
	RuleID     string
	Severity   Severity
	Since      time.Time
	// Before pages: alerts created before this time.
	Before time.Time
	Limit  int // default 100, at most 1000
}

// ListAlerts returns alerts, newest first.
func (s *Service) ListAlerts(ctx context.Context, tenant string, f AlertFilter) ([]Alert, error) {
	where := []string{"tenant = ?"}
	args := []any{tenant}
	if f.IncidentID != "" {
		where = append(where, "incident_id = ?")
		args = append(args, f.IncidentID)
	}
	if f.RuleID != "" {
		where = append(where, "rule_id = ?")
		args = append(args, f.RuleID)
	}
	if f.Severity != "" {
		where = append(where, "severity = ?")
		args = append(args, string(f.Severity))
	}
	if !f.Since.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, store.TimeOf(f.Since))
	}
	if !f.Before.IsZero() {
		where = append(where, "created_at < ?")
		args = append(args, store.TimeOf(f.Before))
	}
	rows, err := s.db.Query(ctx, "SELECT "+alertCols+" FROM case_alerts WHERE "+strings.Join(where, " AND ")+
		fmt.Sprintf(" ORDER BY created_at DESC LIMIT %d", clampLimit(f.Limit)), args...)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	defer rows.Close()
	out := []Alert{}
	for rows.Next() {
		a, err := scanAlert(rows, false)
		if err != nil {
			return nil, fmt.Errorf("list alerts: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// normalizeValue lower-cases the entity kinds that are case-insensitive.
func normalizeValue(kind, v string) string {
	switch kind {
	case "host", "user", "domain", "email", "hash", "account":
		return strings.ToLower(v)
	}
	return v
}
