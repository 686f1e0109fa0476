package cases

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/store"
)

// Exceptions tune out false positives from an alert: the alert's field
// values, scoped to its rule or to its logsource, become a Sigma filter
// document (the specification's meta filter: logsource, filter.rules,
// filter.selection, filter.condition) that the detection engine loads with
// ActiveFilters. Each change keeps a version; expired exceptions stop
// applying on their own (Tick marks them). While active, an exception also
// suppresses matching alerts raised through RaiseAlert.

// ExceptionScope says what an exception applies to.
type ExceptionScope string

// Scopes.
const (
	ScopeRule      ExceptionScope = "rule"
	ScopeLogsource ExceptionScope = "logsource"
)

// ExceptionStatus is an exception's state.
type ExceptionStatus string

// Statuses.
const (
	ExceptionActive  ExceptionStatus = "active"
	ExceptionExpired ExceptionStatus = "expired"
	ExceptionRevoked ExceptionStatus = "revoked"
)

// ExceptionInput describes an exception to preview or create.
type ExceptionInput struct {
	// AlertID is the alert it is made from (rule, logsource, events).
	AlertID string `json:"alert_id"`
	// Fields are the field values to except; they must come from the
	// alert's events (name → value).
	Fields map[string]string `json:"fields"`
	Scope  ExceptionScope    `json:"scope"`
	Reason string            `json:"reason"`
	// ExpiresAt (optional) ends the exception.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// PreviewDays is how far back the preview looks (default 30).
	PreviewDays int `json:"preview_days,omitempty"`
}

// Exception is a stored exception.
type Exception struct {
	ID          string            `json:"id"`
	Title       string            `json:"title"`
	Scope       ExceptionScope    `json:"scope"`
	RuleID      string            `json:"rule_id"`
	Logsource   map[string]string `json:"logsource"`
	Fields      map[string]string `json:"fields"`
	Sigma       string            `json:"sigma"`
	Author      string            `json:"author"`
	Reason      string            `json:"reason"`
	SourceAlert string            `json:"source_alert"`
	Status      ExceptionStatus   `json:"status"`
	ExpiresAt   time.Time         `json:"expires_at,omitzero"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
	Version     int64             `json:"version"`
	Preview     *Preview          `json:"preview,omitempty"`
	History     []ExceptionChange `json:"history,omitempty"`
}

// ExceptionChange is one version of an exception.
type ExceptionChange struct {
	Version   int64             `json:"version"`
	Status    ExceptionStatus   `json:"status"`
	Fields    map[string]string `json:"fields"`
	Reason    string            `json:"reason"`
	ExpiresAt time.Time         `json:"expires_at,omitzero"`
	ChangedBy string            `json:"changed_by"`
	ChangedAt time.Time         `json:"changed_at"`
	Change    string            `json:"change"`
}

// Preview is how many alerts an exception would have suppressed.
type Preview struct {
	Days int `json:"days"`
	// Considered alerts of the rule (or logsource) in the period.
	Considered int `json:"considered"`
	// Suppressed of them.
	Suppressed int      `json:"suppressed"`
	Sample     []string `json:"sample"`
	// Truncated: more alerts existed than were examined.
	Truncated bool `json:"truncated,omitempty"`
}

const previewScanLimit = 50_000

// prepareException checks an input against its alert and renders the
// Sigma filter document.
func (s *Service) prepareException(ctx context.Context, tenant string, in ExceptionInput, author string) (Exception, error) {
	if in.Scope == "" {
		in.Scope = ScopeRule
	}
	switch in.Scope {
	case ScopeRule, ScopeLogsource:
	default:
		return Exception{}, userErrorf("scope %q: want rule or logsource", in.Scope)
	}
	if len(in.Fields) == 0 || len(in.Fields) > 20 {
		return Exception{}, userErrorf("fields: name 1 to 20 field values from the alert")
	}
	if strings.TrimSpace(in.Reason) == "" || len(in.Reason) > 2000 {
		return Exception{}, userErrorf("reason: required, at most 2000 characters")
	}
	now := s.clock()
	if !in.ExpiresAt.IsZero() && !in.ExpiresAt.After(now) {
		return Exception{}, userErrorf("expires_at must be in the future")
	}
	a, err := s.GetAlert(ctx, tenant, in.AlertID)
	if err != nil {
		return Exception{}, err
	}
	if in.Scope == ScopeLogsource && len(a.Logsource) == 0 {
		return Exception{}, userErrorf("alert %s has no logsource; scope the exception to its rule", a.ID)
	}
	for k, v := range in.Fields {
		if !slices.ContainsFunc(a.Events, func(ev json.RawMessage) bool { return eventHas(ev, k, v) }) {
			return Exception{}, userErrorf("field %s = %q is not in the alert's events", k, v)
		}
	}
	x := Exception{ID: newID("exc_"), Scope: in.Scope, RuleID: a.RuleID, Logsource: a.Logsource, Fields: in.Fields,
		Author: author, Reason: in.Reason, SourceAlert: a.ID, Status: ExceptionActive, ExpiresAt: in.ExpiresAt.UTC(),
		CreatedAt: now, UpdatedAt: now, Version: 1}
	if x.Logsource == nil {
		x.Logsource = map[string]string{}
	}
	x.Title = "Exception for " + a.RuleTitle
	if in.Scope == ScopeLogsource {
		x.Title = "Exception for logsource " + logsourceText(a.Logsource)
	}
	x.Sigma, err = x.sigmaDoc()
	return x, err
}

func logsourceText(ls map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(ls)) {
		parts = append(parts, k+"="+ls[k])
	}
	return strings.Join(parts, ",")
}

// sigmaEscape keeps a value literal in Sigma (no wildcards).
func sigmaEscape(v string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`).Replace(v)
}

// sigmaDoc renders the exception as a Sigma filter document. For a
// logsource scope, filter.rules lists the rule the alert came from and the
// logsource limits where the filter applies; the engine decides how wide a
// logsource filter reaches.
func (x *Exception) sigmaDoc() (string, error) {
	sel := map[string]string{}
	for k, v := range x.Fields {
		sel[k] = sigmaEscape(v)
	}
	doc := struct {
		Title       string            `yaml:"title"`
		ID          string            `yaml:"id"`
		Description string            `yaml:"description"`
		Author      string            `yaml:"author"`
		Date        string            `yaml:"date"`
		Modified    string            `yaml:"modified,omitempty"`
		Logsource   map[string]string `yaml:"logsource"`
		Filter      struct {
			Rules     []string          `yaml:"rules"`
			Selection map[string]string `yaml:"selection"`
			Condition string            `yaml:"condition"`
		} `yaml:"filter"`
	}{Title: x.Title, ID: sigmaUUID(x.ID), Description: x.Reason, Author: x.Author, Date: x.CreatedAt.Format(time.DateOnly), Logsource: x.Logsource}
	if x.Version > 1 {
		doc.Modified = x.UpdatedAt.Format(time.DateOnly)
	}
	doc.Filter.Rules = []string{x.RuleID}
	doc.Filter.Selection = sel
	doc.Filter.Condition = "selection"
	b, err := yaml.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("render exception %s: %w", x.ID, err)
	}
	return string(b), nil
}

// sigmaUUID derives a stable UUID-shaped id from the exception id.
func sigmaUUID(id string) string {
	h := hashKey("wacht-exception", id) // 32 hex
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-8" + h[17:20] + "-" + h[20:32]
}

// eventHas reports whether a copied event has field = value
// (case-insensitive, as Sigma compares plain values).
func eventHas(ev json.RawMessage, field, value string) bool {
	var m map[string]any
	if json.Unmarshal(ev, &m) != nil {
		return false
	}
	v, ok := m[field]
	if !ok {
		return false
	}
	switch x := v.(type) {
	case string:
		return strings.EqualFold(x, value)
	case []any:
		for _, e := range x {
			if strings.EqualFold(fmt.Sprint(e), value) {
				return true
			}
		}
		return false
	case nil:
		return value == ""
	default:
		b, _ := json.Marshal(x)
		return strings.EqualFold(string(b), value)
	}
}

func (x *Exception) matches(a Alert) bool {
	switch x.Scope {
	case ScopeRule:
		if a.RuleID != x.RuleID {
			return false
		}
	case ScopeLogsource:
		if !maps.Equal(a.Logsource, x.Logsource) {
			return false
		}
	}
	for _, ev := range a.Events {
		all := true
		for k, v := range x.Fields {
			if !eventHas(ev, k, v) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// PreviewException counts the alerts of the last PreviewDays the
// exception would have suppressed, without saving it.
func (s *Service) PreviewException(ctx context.Context, tenant string, in ExceptionInput) (Preview, error) {
	x, err := s.prepareException(ctx, tenant, in, "")
	if err != nil {
		return Preview{}, err
	}
	return s.preview(ctx, tenant, &x, in.PreviewDays)
}

func (s *Service) preview(ctx context.Context, tenant string, x *Exception, days int) (Preview, error) {
	if days <= 0 {
		days = 30
	}
	p := Preview{Days: min(days, 365), Sample: []string{}}
	since := s.clock().AddDate(0, 0, -p.Days)
	q := "SELECT " + alertCols + ", events FROM case_alerts WHERE tenant = ? AND created_at >= ? AND "
	args := []any{tenant, store.TimeOf(since)}
	switch x.Scope {
	case ScopeRule:
		q += "rule_id = ?"
		args = append(args, x.RuleID)
	case ScopeLogsource:
		q += "logsource = ?"
		args = append(args, mustJSON(x.Logsource))
	}
	rows, err := s.db.Query(ctx, q+fmt.Sprintf(" ORDER BY created_at DESC LIMIT %d", previewScanLimit+1), args...)
	if err != nil {
		return p, fmt.Errorf("preview exception: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAlert(rows, true)
		if err != nil {
			return p, fmt.Errorf("preview exception: %w", err)
		}
		if p.Considered == previewScanLimit {
			p.Truncated = true
			break
		}
		p.Considered++
		if x.matches(a) {
			p.Suppressed++
			if len(p.Sample) < 20 {
				p.Sample = append(p.Sample, a.ID)
			}
		}
	}
	return p, rows.Err()
}

const exceptionCols = "id, title, scope, rule_id, logsource, fields, sigma, author, reason, source_alert, status, expires_at, created_at, updated_at, version"

func scanException(r rowScanner) (Exception, error) {
	var x Exception
	var scope, ls, fields, status string
	var exp, created, updated store.Timestamp
	if err := r.Scan(&x.ID, &x.Title, &scope, &x.RuleID, &ls, &fields, &x.Sigma, &x.Author, &x.Reason, &x.SourceAlert, &status,
		&exp, &created, &updated, &x.Version); err != nil {
		return x, err
	}
	x.Scope, x.Status, x.ExpiresAt, x.CreatedAt, x.UpdatedAt = ExceptionScope(scope), ExceptionStatus(status), exp.Time, created.Time, updated.Time
	return x, errors.Join(fromJSON(ls, &x.Logsource), fromJSON(fields, &x.Fields))
}

func addExceptionVersion(ctx context.Context, q store.Querier, tenant string, x *Exception, by, change string, at time.Time) error {
	_, err := q.Exec(ctx, `INSERT INTO case_exception_versions (tenant, exception_id, version, status, fields, sigma, reason, expires_at, changed_by, changed_at, change)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, tenant, x.ID, x.Version, string(x.Status), mustJSON(x.Fields), x.Sigma, x.Reason,
		store.TimeOf(x.ExpiresAt), by, store.TimeOf(at), change)
	if err != nil {
		return fmt.Errorf("record version %d of exception %s: %w", x.Version, x.ID, err)
	}
	return nil
}

// CreateException saves an exception (with its preview) and publishes
// exception.changed for the detection engine and the audit trail.
func (s *Service) CreateException(ctx context.Context, tenant string, in ExceptionInput, author string) (Exception, error) {
	x, err := s.prepareException(ctx, tenant, in, author)
	if err != nil {
		return Exception{}, err
	}
	p, err := s.preview(ctx, tenant, &x, in.PreviewDays)
	if err != nil {
		return Exception{}, err
	}
	x.Preview = &p
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO case_exceptions (tenant, "+exceptionCols+") VALUES ("+store.Placeholders(16)+")",
			tenant, x.ID, x.Title, string(x.Scope), x.RuleID, mustJSON(x.Logsource), mustJSON(x.Fields), x.Sigma, x.Author, x.Reason,
			x.SourceAlert, string(x.Status), store.TimeOf(x.ExpiresAt), store.TimeOf(x.CreatedAt), store.TimeOf(x.UpdatedAt), x.Version); err != nil {
			return fmt.Errorf("create exception: %w", err)
		}
		return addExceptionVersion(ctx, tx, tenant, &x, author, fmt.Sprintf("created (would have suppressed %d of %d alerts in %d days)", p.Suppressed, p.Considered, p.Days), x.CreatedAt)
	})
	if err != nil {
		return Exception{}, err
	}
	s.publish(ctx, []bus.Event{{Type: EventExceptionChanged, Tenant: tenant, Subject: x.ID, Actor: author, Data: x}})
	return x, nil
}

// GetException returns an exception with its history.
func (s *Service) GetException(ctx context.Context, tenant, id string) (Exception, error) {
	x, err := scanException(s.db.QueryRow(ctx, "SELECT "+exceptionCols+" FROM case_exceptions WHERE tenant = ? AND id = ?", tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return x, fmt.Errorf("exception %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return x, fmt.Errorf("get exception %s: %w", id, err)
	}
	rows, err := s.db.Query(ctx, "SELECT version, status, fields, reason, expires_at, changed_by, changed_at, change FROM case_exception_versions WHERE tenant = ? AND exception_id = ? ORDER BY version", tenant, id)
	if err != nil {
		return x, fmt.Errorf("history of exception %s: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var c ExceptionChange
		var status, fields string
		var exp, at store.Timestamp
		if err := rows.Scan(&c.Version, &status, &fields, &c.Reason, &exp, &c.ChangedBy, &at, &c.Change); err != nil {
			return x, fmt.Errorf("history of exception %s: %w", id, err)
		}
		c.Status, c.ExpiresAt, c.ChangedAt = ExceptionStatus(status), exp.Time, at.Time
		if err := fromJSON(fields, &c.Fields); err != nil {
			return x, err
		}
		x.History = append(x.History, c)
	}
	return x, rows.Err()
}

// ListExceptions lists exceptions, newest first; all statuses with all.
func (s *Service) ListExceptions(ctx context.Context, tenant string, all bool) ([]Exception, error) {
	q := "SELECT " + exceptionCols + " FROM case_exceptions WHERE tenant = ?"
	if !all {
		q += " AND status = 'active'"
	}
	rows, err := s.db.Query(ctx, q+" ORDER BY created_at DESC LIMIT 1000", tenant)
	if err != nil {
		return nil, fmt.Errorf("list exceptions: %w", err)
	}
	defer rows.Close()
	out := []Exception{}
	for rows.Next() {
		x, err := scanException(rows)
		if err != nil {
			return nil, fmt.Errorf("list exceptions: %w", err)
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// ActiveFilters returns the Sigma filter documents of the active
// exceptions, for the detection engine to compile with its rules.
func (s *Service) ActiveFilters(ctx context.Context, tenant string) ([]string, error) {
	xs, err := s.ListExceptions(ctx, tenant, false)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	var out []string
	for _, x := range xs {
		if x.ExpiresAt.IsZero() || x.ExpiresAt.After(now) {
			out = append(out, x.Sigma)
		}
	}
	return out, nil
}

// ExceptionPatch changes an exception; nil fields stay.
type ExceptionPatch struct {
	Reason    *string           `json:"reason,omitempty"`
	ExpiresAt *time.Time        `json:"expires_at,omitempty"`
	Fields    map[string]string `json:"fields,omitempty"`
	Revoke    bool              `json:"revoke,omitempty"`
}

// UpdateException changes an exception at version (0: current) and keeps
// the previous version in its history.
func (s *Service) UpdateException(ctx context.Context, tenant, id string, version int64, p ExceptionPatch, actor string) (Exception, error) {
	var x Exception
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		var err error
		x, err = scanException(tx.QueryRow(ctx, "SELECT "+exceptionCols+" FROM case_exceptions WHERE tenant = ? AND id = ?", tenant, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("exception %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("load exception %s: %w", id, err)
		}
		if version > 0 && version != x.Version {
			return fmt.Errorf("exception %s version %d: %w", id, version, ErrConflict)
		}
		if x.Status != ExceptionActive {
			return userErrorf("exception %s is %s", id, x.Status)
		}
		var ch []string
		now := s.clock()
		if p.Reason != nil && *p.Reason != x.Reason {
			if strings.TrimSpace(*p.Reason) == "" {
				return userErrorf("reason must not be empty")
			}
			x.Reason = *p.Reason
			ch = append(ch, "reason")
		}
		if p.ExpiresAt != nil {
			if !p.ExpiresAt.IsZero() && !p.ExpiresAt.After(now) {
				return userErrorf("expires_at must be in the future")
			}
			x.ExpiresAt = p.ExpiresAt.UTC()
			ch = append(ch, "expiry")
		}
		if len(p.Fields) > 0 && !maps.Equal(p.Fields, x.Fields) {
			x.Fields = p.Fields
			ch = append(ch, "fields")
		}
		if p.Revoke {
			x.Status = ExceptionRevoked
			ch = append(ch, "revoked")
		}
		if len(ch) == 0 {
			return nil
		}
		x.UpdatedAt = now
		prev := x.Version
		x.Version++
		if x.Sigma, err = x.sigmaDoc(); err != nil {
			return err
		}
		if _, err := store.UpdateVersioned(ctx, tx, "case_exceptions", tenant, id, prev,
			"fields = ?, sigma = ?, reason = ?, status = ?, expires_at = ?, updated_at = ?",
			mustJSON(x.Fields), x.Sigma, x.Reason, string(x.Status), store.TimeOf(x.ExpiresAt), store.TimeOf(now)); err != nil {
			return err
		}
		return addExceptionVersion(ctx, tx, tenant, &x, actor, strings.Join(ch, ", "), now)
	})
	if err != nil {
		return Exception{}, err
	}
	s.publish(ctx, []bus.Event{{Type: EventExceptionChanged, Tenant: tenant, Subject: x.ID, Actor: actor, Data: x}})
	return x, nil
}

// expireExceptions marks exceptions past their expiry.
func (s *Service) expireExceptions(ctx context.Context, now time.Time) (int, error) {
	rows, err := s.db.Query(ctx, "SELECT tenant, "+exceptionCols+" FROM case_exceptions WHERE status = 'active' AND expires_at IS NOT NULL AND expires_at <= ? LIMIT 1000", store.TimeOf(now))
	if err != nil {
		return 0, fmt.Errorf("find expired exceptions: %w", err)
	}
	type item struct {
		tenant string
		x      Exception
	}
	var items []item
	for rows.Next() {
		var it item
		x, err := scanException(scanPrefix{rows, &it.tenant})
		if err != nil {
			rows.Close()
			return 0, fmt.Errorf("find expired exceptions: %w", err)
		}
		it.x = x
		items = append(items, it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, it := range items {
		x := it.x
		err := s.db.Tx(ctx, func(tx *store.Tx) error {
			v, err := store.UpdateVersioned(ctx, tx, "case_exceptions", it.tenant, x.ID, x.Version, "status = ?, updated_at = ?", string(ExceptionExpired), store.TimeOf(now))
			if err != nil {
				return err
			}
			x.Version, x.Status, x.UpdatedAt = v, ExceptionExpired, now
			return addExceptionVersion(ctx, tx, it.tenant, &x, SystemActor, "expired", now)
		})
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return n, err
		}
		n++
		s.publish(ctx, []bus.Event{{Type: EventExceptionChanged, Tenant: it.tenant, Subject: x.ID, Actor: SystemActor, Data: x}})
	}
	return n, nil
}

// suppressor checks alerts against a tenant's active exceptions during
// one RaiseAlerts call.
type suppressor struct {
	byRule map[string][]Exception
	byLS   []Exception
}

func (s *Service) loadSuppressor(ctx context.Context, q store.Querier, tenant string, now time.Time) (*suppressor, error) {
	rows, err := q.Query(ctx, "SELECT "+exceptionCols+" FROM case_exceptions WHERE tenant = ? AND status = 'active' AND (expires_at IS NULL OR expires_at > ?)", tenant, store.TimeOf(now))
	if err != nil {
		return nil, fmt.Errorf("load exceptions: %w", err)
	}
	defer rows.Close()
	var sp *suppressor
	for rows.Next() {
		x, err := scanException(rows)
		if err != nil {
			return nil, fmt.Errorf("load exceptions: %w", err)
		}
		if sp == nil {
			sp = &suppressor{byRule: map[string][]Exception{}}
		}
		switch x.Scope {
		case ScopeRule:
			sp.byRule[x.RuleID] = append(sp.byRule[x.RuleID], x)
		case ScopeLogsource:
			sp.byLS = append(sp.byLS, x)
		}
	}
	return sp, rows.Err()
}

func (sp *suppressor) match(a Alert) string {
	if sp == nil {
		return ""
	}
	for _, x := range sp.byRule[a.RuleID] {
		if x.matches(a) {
			return x.ID
		}
	}
	for _, x := range sp.byLS {
		if x.matches(a) {
			return x.ID
		}
	}
	return ""
}
