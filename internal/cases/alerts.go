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

	"github.com/wacht-soc/wacht/internal/store"
)

// Limits on what an alert carries.
const (
	maxAlertEvents     = 100
	maxAlertEventBytes = 1 << 20
	maxEntities        = 50
	maxIncidentEntites = 25
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

func alertInsertArgs(a *Alert) []any {
	return []any{a.Tenant, a.ID, a.IncidentID, a.Source, a.RuleID, a.RuleTitle, string(a.Severity), mustJSON(a.Attack),
		mustJSON(a.Entities), a.DedupKey, a.Count, a.Score, string(a.Priority), mustJSON(a.Explanation),
		a.IndicatorConfidence, a.AssetCriticality, mustJSON(a.Logsource), a.Description, store.TimeOf(a.EventTime),
		store.TimeOf(a.CreatedAt), store.TimeOf(a.LastSeenAt), eventsJSON(a.Events)}
}

// eventsJSON renders an alert's event copies as a JSON array. normalize
// checked each is a JSON object, so they are joined as they are instead of
// being parsed again by encoding/json (events are most of an alert's
// bytes).
func eventsJSON(evs []json.RawMessage) string {
	n := 2
	for _, e := range evs {
		n += len(e) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, e := range evs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e...)
	}
	return string(append(b, ']'))
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
	// Each filter has an index ending in created_at; with several, the
	// most selective (incident, then rule, then severity) should drive
	// the scan. SQLite has no statistics unless ANALYZE ran and may pick
	// severity (4 values) over the rule, reading thousands of rows to
	// find 100: a unary + keeps a column's index out of its choice.
	noIndex := func(col string, used bool) string {
		if used && s.db.Dialect() == store.SQLite {
			return "+" + col
		}
		return col
	}
	if f.IncidentID != "" {
		where = append(where, "incident_id = ?")
		args = append(args, f.IncidentID)
	}
	if f.RuleID != "" {
		where = append(where, noIndex("rule_id", f.IncidentID != "")+" = ?")
		args = append(args, f.RuleID)
	}
	if f.Severity != "" {
		where = append(where, noIndex("severity", f.IncidentID != "" || f.RuleID != "")+" = ?")
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
