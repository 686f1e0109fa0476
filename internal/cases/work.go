package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/store"
)

// TimelineEntry is one line of an incident's timeline: an alert, a change,
// or an entry an analyst wrote.
type TimelineEntry struct {
	At    time.Time `json:"at"`
	Kind  string    `json:"kind"` // alert, created, change, note, task, evidence, sla, regulatory, merge, split
	Actor string    `json:"actor"`
	Text  string    `json:"text"`
	Ref   string    `json:"ref,omitempty"`
}

func addTimeline(ctx context.Context, q store.Querier, tenant, incID string, at time.Time, kind, actor, text, ref string) error {
	if _, err := q.Exec(ctx, "INSERT INTO case_timeline (tenant, id, incident_id, at, kind, actor, text, ref) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		tenant, newID("tl_"), incID, store.TimeOf(at), kind, actor, text, ref); err != nil {
		return fmt.Errorf("add timeline entry to %s: %w", incID, err)
	}
	return nil
}

// Timeline merges the incident's alerts with its recorded entries, oldest
// first.
func (s *Service) Timeline(ctx context.Context, tenant, incID string) ([]TimelineEntry, error) {
	if _, err := s.loadIncident(ctx, s.db, tenant, incID); err != nil {
		return nil, err
	}
	var out []TimelineEntry
	rows, err := s.db.Query(ctx, "SELECT at, kind, actor, text, ref FROM case_timeline WHERE tenant = ? AND incident_id = ? ORDER BY at, id", tenant, incID)
	if err != nil {
		return nil, fmt.Errorf("timeline of %s: %w", incID, err)
	}
	for rows.Next() {
		var e TimelineEntry
		var at store.Timestamp
		if err := rows.Scan(&at, &e.Kind, &e.Actor, &e.Text, &e.Ref); err != nil {
			rows.Close()
			return nil, fmt.Errorf("timeline of %s: %w", incID, err)
		}
		e.At = at.Time
		out = append(out, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("timeline of %s: %w", incID, err)
	}
	alerts, err := s.ListAlerts(ctx, tenant, AlertFilter{IncidentID: incID, Limit: 1000})
	if err != nil {
		return nil, err
	}
	for _, a := range alerts {
		txt := fmt.Sprintf("%s alert: %s", a.Severity, a.RuleTitle)
		if a.Count > 1 {
			txt += fmt.Sprintf(" (×%d)", a.Count)
		}
		out = append(out, TimelineEntry{At: a.CreatedAt, Kind: "alert", Actor: a.Source, Text: txt, Ref: a.ID})
	}
	slices.SortStableFunc(out, func(a, b TimelineEntry) int { return a.At.Compare(b.At) })
	return out, nil
}

// AddTimelineEntry records a manual entry (what an analyst observed, at
// the time it happened).
func (s *Service) AddTimelineEntry(ctx context.Context, tenant, incID string, at time.Time, text, actor string) error {
	if strings.TrimSpace(text) == "" || len(text) > 10000 {
		return userErrorf("text: required, at most 10000 characters")
	}
	if at.IsZero() {
		at = s.clock()
	}
	return s.touch(ctx, tenant, incID, actor, "timeline entry", func(tx *store.Tx, inc *Incident) error {
		return addTimeline(ctx, tx, tenant, incID, at, "note", actor, text, "")
	})
}

// touch runs fn on an existing incident in a transaction, bumps its
// version and publishes incident.updated.
func (s *Service) touch(ctx context.Context, tenant, incID, actor, change string, fn func(tx *store.Tx, inc *Incident) error) error {
	var evs []bus.Event
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		evs = nil
		inc, err := s.loadIncident(ctx, tx, tenant, incID)
		if err != nil {
			return err
		}
		if err := fn(tx, &inc); err != nil {
			return err
		}
		inc.UpdatedAt = s.clock()
		if err := s.saveIncident(ctx, tx, &inc); err != nil {
			return err
		}
		evs = append(evs, bus.Event{Type: EventIncidentUpdated, Tenant: tenant, Subject: incID, Actor: actor,
			Data: IncidentChange{Incident: inc, Changes: []string{change}}})
		return nil
	})
	if err != nil {
		return err
	}
	s.publish(ctx, evs)
	return nil
}

// Comment is a note on an incident or an alert.
type Comment struct {
	ID          string    `json:"id"`
	SubjectKind string    `json:"subject_kind"` // incident or alert
	SubjectID   string    `json:"subject_id"`
	Author      string    `json:"author"`
	Body        string    `json:"body"`
	CreatedAt   time.Time `json:"created_at"`
}

// AddComment adds a comment to an incident.
func (s *Service) AddComment(ctx context.Context, tenant, incID, body, author string) (Comment, error) {
	if strings.TrimSpace(body) == "" || len(body) > 100000 {
		return Comment{}, userErrorf("comment: required, at most 100000 characters")
	}
	c := Comment{ID: newID("cmt_"), SubjectKind: "incident", SubjectID: incID, Author: author, Body: body, CreatedAt: s.clock()}
	err := s.touch(ctx, tenant, incID, author, "comment", func(tx *store.Tx, inc *Incident) error {
		if err := insertComment(ctx, tx, tenant, c); err != nil {
			return err
		}
		return addTimeline(ctx, tx, tenant, incID, c.CreatedAt, "comment", author, firstLine(body), c.ID)
	})
	return c, err
}

// AddAlertNote adds an analyst's note to an alert.
func (s *Service) AddAlertNote(ctx context.Context, tenant, alertID, body, author string) (Comment, error) {
	if strings.TrimSpace(body) == "" || len(body) > 100000 {
		return Comment{}, userErrorf("note: required, at most 100000 characters")
	}
	if _, err := s.GetAlert(ctx, tenant, alertID); err != nil {
		return Comment{}, err
	}
	c := Comment{ID: newID("cmt_"), SubjectKind: "alert", SubjectID: alertID, Author: author, Body: body, CreatedAt: s.clock()}
	if err := insertComment(ctx, s.db, tenant, c); err != nil {
		return Comment{}, err
	}
	s.publish(ctx, []bus.Event{{Type: EventAlertUpdated, Tenant: tenant, Subject: alertID, Actor: author, Data: c}})
	return c, nil
}

func insertComment(ctx context.Context, q store.Querier, tenant string, c Comment) error {
	_, err := q.Exec(ctx, "INSERT INTO case_comments (tenant, id, subject_kind, subject_id, author, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
		tenant, c.ID, c.SubjectKind, c.SubjectID, c.Author, c.Body, store.TimeOf(c.CreatedAt))
	if err != nil {
		return fmt.Errorf("add comment to %s: %w", c.SubjectID, err)
	}
	return nil
}

// Comments lists the comments on an incident or alert, oldest first.
func (s *Service) Comments(ctx context.Context, tenant, subjectKind, subjectID string) ([]Comment, error) {
	rows, err := s.db.Query(ctx, "SELECT id, subject_kind, subject_id, author, body, created_at FROM case_comments WHERE tenant = ? AND subject_kind = ? AND subject_id = ? ORDER BY created_at, id",
		tenant, subjectKind, subjectID)
	if err != nil {
		return nil, fmt.Errorf("list comments of %s: %w", subjectID, err)
	}
	defer rows.Close()
	out := []Comment{}
	for rows.Next() {
		var c Comment
		var at store.Timestamp
		if err := rows.Scan(&c.ID, &c.SubjectKind, &c.SubjectID, &c.Author, &c.Body, &at); err != nil {
			return nil, fmt.Errorf("list comments of %s: %w", subjectID, err)
		}
		c.CreatedAt = at.Time
		out = append(out, c)
	}
	return out, rows.Err()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// Task is a step of working an incident.
type Task struct {
	ID       string    `json:"id"`
	Position int       `json:"position"`
	Title    string    `json:"title"`
	Assignee string    `json:"assignee,omitempty"`
	Done     bool      `json:"done"`
	DoneAt   time.Time `json:"done_at,omitzero"`
	DoneBy   string    `json:"done_by,omitempty"`
}

// taskTemplate is the checklist a new incident of a type starts with.
func taskTemplate(kind string) []string {
	switch kind {
	case "malware", "ransomware":
		return []string{"Isolate affected hosts", "Collect a sample and its hashes", "Identify persistence and spread",
			"Remove the malware and reimage where needed", "Restore from clean backups", "Check regulatory reporting duties (NIS2, GDPR, DORA)", "Write the lessons learned"}
	case "phishing":
		return []string{"Collect the message with headers", "Find every recipient", "Block sender, links and attachments",
			"Reset credentials of users who clicked", "Purge the message from mailboxes", "Write the lessons learned"}
	case "account_compromise":
		return []string{"Disable or reset the account", "Revoke sessions and tokens", "Review the account's activity",
			"Check for persistence (rules, keys, MFA devices)", "Write the lessons learned"}
	case "data_breach":
		return []string{"Establish what data and whose", "Stop the leak", "Assess risk to data subjects",
			"Decide on GDPR notification (72 h) and data-subject communication", "Preserve evidence", "Write the lessons learned"}
	}
	return []string{"Triage: confirm or dismiss the alerts", "Scope: affected hosts, users and data", "Contain",
		"Eradicate and recover", "Check regulatory reporting duties (NIS2, GDPR, DORA)", "Write the lessons learned"}
}

// Tasks lists the incident's tasks in order.
//
// A new incident's checklist is its type's template, stored only when
// someone first works on it (SetTaskDone, AddTask): alerts open incidents
// at a high rate, and most are closed without touching a task. Template
// tasks have the same ids before and after.
func (s *Service) Tasks(ctx context.Context, tenant, incID string) ([]Task, error) {
	inc, err := s.loadIncident(ctx, s.db, tenant, incID)
	if err != nil {
		return nil, err
	}
	out, err := queryTasks(ctx, s.db, tenant, incID)
	if err != nil || len(out) > 0 {
		return out, err
	}
	for i, title := range taskTemplate(inc.Type) {
		out = append(out, Task{ID: templateTaskID(incID, i+1), Position: i + 1, Title: title})
	}
	return out, nil
}

func templateTaskID(incID string, pos int) string {
	return "tsk_" + strings.TrimPrefix(incID, "inc_") + "_" + strconv.Itoa(pos)
}

// materializeTasks stores the template tasks of an incident that has none.
func materializeTasks(ctx context.Context, tx *store.Tx, inc *Incident, now time.Time) error {
	var n int
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM case_tasks WHERE tenant = ? AND incident_id = ?", inc.Tenant, inc.ID).Scan(&n); err != nil {
		return fmt.Errorf("count tasks of %s: %w", inc.ID, err)
	}
	if n > 0 {
		return nil
	}
	var rows [][]any
	for i, title := range taskTemplate(inc.Type) {
		rows = append(rows, []any{inc.Tenant, templateTaskID(inc.ID, i+1), inc.ID, i + 1, title, "", "", store.TimeOf(now), 1})
	}
	if err := insertRows(ctx, tx, "INSERT INTO case_tasks (tenant, id, incident_id, position, title, assignee, done_by, created_at, version)", rows, ""); err != nil {
		return fmt.Errorf("store tasks of %s: %w", inc.ID, err)
	}
	return nil
}

func queryTasks(ctx context.Context, q store.Querier, tenant, incID string) ([]Task, error) {
	rows, err := q.Query(ctx, "SELECT id, position, title, assignee, done_at, done_by FROM case_tasks WHERE tenant = ? AND incident_id = ? ORDER BY position, id", tenant, incID)
	if err != nil {
		return nil, fmt.Errorf("list tasks of %s: %w", incID, err)
	}
	defer rows.Close()
	out := []Task{}
	for rows.Next() {
		var t Task
		var done store.Timestamp
		if err := rows.Scan(&t.ID, &t.Position, &t.Title, &t.Assignee, &done, &t.DoneBy); err != nil {
			return nil, fmt.Errorf("list tasks of %s: %w", incID, err)
		}
		t.DoneAt, t.Done = done.Time, !done.IsZero()
		out = append(out, t)
	}
	return out, rows.Err()
}

// AddTask appends a task.
func (s *Service) AddTask(ctx context.Context, tenant, incID, title, assignee, actor string) (Task, error) {
	if strings.TrimSpace(title) == "" || len(title) > 500 {
		return Task{}, userErrorf("task title: required, at most 500 characters")
	}
	t := Task{ID: newID("tsk_"), Title: title, Assignee: assignee}
	err := s.touch(ctx, tenant, incID, actor, "task added", func(tx *store.Tx, inc *Incident) error {
		if err := materializeTasks(ctx, tx, inc, s.clock()); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(position), 0) + 1 FROM case_tasks WHERE tenant = ? AND incident_id = ?", tenant, incID).Scan(&t.Position); err != nil {
			return fmt.Errorf("add task to %s: %w", incID, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO case_tasks (tenant, id, incident_id, position, title, assignee, done_by, created_at, version)
VALUES (?, ?, ?, ?, ?, ?, '', ?, 1)`, tenant, t.ID, incID, t.Position, title, assignee, store.TimeOf(s.clock())); err != nil {
			return fmt.Errorf("add task to %s: %w", incID, err)
		}
		return addTimeline(ctx, tx, tenant, incID, s.clock(), "task", actor, "task added: "+title, t.ID)
	})
	return t, err
}

// SetTaskDone marks a task done or not done.
func (s *Service) SetTaskDone(ctx context.Context, tenant, incID, taskID string, done bool, actor string) error {
	now := s.clock()
	return s.touch(ctx, tenant, incID, actor, "task "+taskID, func(tx *store.Tx, inc *Incident) error {
		if err := materializeTasks(ctx, tx, inc, now); err != nil {
			return err
		}
		var title string
		var version int64
		err := tx.QueryRow(ctx, "SELECT title, version FROM case_tasks WHERE tenant = ? AND id = ? AND incident_id = ?", tenant, taskID, incID).Scan(&title, &version)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("task %s: %w", taskID, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("load task %s: %w", taskID, err)
		}
		at, by, what := store.TimeOf(now), actor, "task done: "
		if !done {
			at, by, what = store.Timestamp{}, "", "task reopened: "
		}
		if _, err := store.UpdateVersioned(ctx, tx, "case_tasks", tenant, taskID, version, "done_at = ?, done_by = ?", at, by); err != nil {
			return err
		}
		return addTimeline(ctx, tx, tenant, incID, now, "task", actor, what+title, taskID)
	})
}

// Observable is an entity or IOC seen in an incident, with its sharing
// markings and pivots to hunting and threat intel.
type Observable struct {
	ID          string    `json:"id"`
	IncidentID  string    `json:"incident_id"`
	Kind        string    `json:"kind"`
	Value       string    `json:"value"`
	TLP         TLP       `json:"tlp"`
	PAP         PAP       `json:"pap"`
	Source      string    `json:"source"`
	FirstSeenAt time.Time `json:"first_seen_at"`
	// HuntQuery is a LogsQL query for the value (wacht hunt).
	HuntQuery string `json:"hunt_query"`
	// IntelLookup is the threat-intel API path for the value.
	IntelLookup string `json:"intel_lookup"`
}

// huntField maps an observable kind to the normalized event field.
func huntField(kind string) string {
	switch kind {
	case "host":
		return "host.name"
	case "user", "account":
		return "user.name"
	case "ip":
		return "*"
	case "hash":
		return "*"
	case "domain":
		return "*"
	case "url":
		return "url.original"
	case "email":
		return "*"
	case "process":
		return "process.executable"
	case "file":
		return "file.path"
	}
	return "*"
}

func (o *Observable) pivots() {
	o.HuntQuery = huntField(o.Kind) + `:"` + strings.ReplaceAll(o.Value, `"`, `\"`) + `"`
	o.IntelLookup = "/api/v1/intel/lookup?" + url.Values{"type": {o.Kind}, "value": {o.Value}}.Encode()
}

// Observables lists an incident's observables.
func (s *Service) Observables(ctx context.Context, tenant, incID string) ([]Observable, error) {
	rows, err := s.db.Query(ctx, "SELECT id, incident_id, kind, value, tlp, pap, source, first_seen_at FROM case_observables WHERE tenant = ? AND incident_id = ? ORDER BY kind, value", tenant, incID)
	if err != nil {
		return nil, fmt.Errorf("list observables of %s: %w", incID, err)
	}
	defer rows.Close()
	out := []Observable{}
	for rows.Next() {
		var o Observable
		var tlp, pap string
		var at store.Timestamp
		if err := rows.Scan(&o.ID, &o.IncidentID, &o.Kind, &o.Value, &tlp, &pap, &o.Source, &at); err != nil {
			return nil, fmt.Errorf("list observables of %s: %w", incID, err)
		}
		o.TLP, o.PAP, o.FirstSeenAt = TLP(tlp), PAP(pap), at.Time
		o.pivots()
		out = append(out, o)
	}
	return out, rows.Err()
}

// AddObservable records an observable by hand (or updates its markings if
// it exists).
func (s *Service) AddObservable(ctx context.Context, tenant, incID string, o Observable, actor string) (Observable, error) {
	o.Kind = strings.ToLower(strings.TrimSpace(o.Kind))
	o.Value = normalizeValue(o.Kind, strings.TrimSpace(o.Value))
	if !entityKinds[o.Kind] || o.Value == "" || len(o.Value) > 2000 {
		return o, userErrorf("observable: kind one of host, user, ip, process, hash, domain, url, email, file, service, account, registry and a value")
	}
	if o.TLP == "" {
		o.TLP = TLPAmber
	}
	if o.PAP == "" {
		o.PAP = PAPAmber
	}
	if !o.TLP.Valid() || !o.PAP.Valid() {
		return o, userErrorf("tlp: clear, green, amber, amber+strict or red; pap: clear, green, amber or red")
	}
	now := s.clock()
	o.ID, o.IncidentID, o.Source, o.FirstSeenAt = newID("obs_"), incID, actor, now
	err := s.touch(ctx, tenant, incID, actor, "observable "+o.Kind+":"+o.Value, func(tx *store.Tx, inc *Incident) error {
		_, err := tx.Exec(ctx, `INSERT INTO case_observables (tenant, id, incident_id, kind, value, tlp, pap, source, first_seen_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, incident_id, kind, value) DO UPDATE SET tlp = excluded.tlp, pap = excluded.pap`,
			tenant, o.ID, incID, o.Kind, o.Value, string(o.TLP), string(o.PAP), o.Source, store.TimeOf(now))
		if err != nil {
			return fmt.Errorf("add observable to %s: %w", incID, err)
		}
		return addTimeline(ctx, tx, tenant, incID, now, "observable", actor, fmt.Sprintf("observable %s:%s (TLP:%s, PAP:%s)", o.Kind, o.Value, o.TLP, o.PAP), "")
	})
	o.pivots()
	return o, err
}

// Similar is an incident that shares observables with another.
type Similar struct {
	IncidentID string   `json:"incident_id"`
	Title      string   `json:"title"`
	Status     Status   `json:"status"`
	Shared     []string `json:"shared"`
}

// SimilarIncidents suggests incidents sharing observables or entities,
// most shared first.
func (s *Service) SimilarIncidents(ctx context.Context, tenant, incID string, limit int) ([]Similar, error) {
	if _, err := s.loadIncident(ctx, s.db, tenant, incID); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT o2.incident_id, i.title, i.status, o2.kind, o2.value
FROM case_observables o1
JOIN case_observables o2 ON o2.tenant = o1.tenant AND o2.kind = o1.kind AND o2.value = o1.value AND o2.incident_id <> o1.incident_id
JOIN case_incidents i ON i.tenant = o2.tenant AND i.id = o2.incident_id
WHERE o1.tenant = ? AND o1.incident_id = ? LIMIT 5000`, tenant, incID)
	if err != nil {
		return nil, fmt.Errorf("similar incidents of %s: %w", incID, err)
	}
	defer rows.Close()
	by := map[string]*Similar{}
	for rows.Next() {
		var id, title, status, kind, value string
		if err := rows.Scan(&id, &title, &status, &kind, &value); err != nil {
			return nil, fmt.Errorf("similar incidents of %s: %w", incID, err)
		}
		sm := by[id]
		if sm == nil {
			sm = &Similar{IncidentID: id, Title: title, Status: Status(status)}
			by[id] = sm
		}
		sm.Shared = append(sm.Shared, kind+":"+value)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]Similar, 0, len(by))
	for _, sm := range by {
		slices.Sort(sm.Shared)
		out = append(out, *sm)
	}
	slices.SortFunc(out, func(a, b Similar) int {
		if len(a.Shared) != len(b.Shared) {
			return len(b.Shared) - len(a.Shared)
		}
		return strings.Compare(a.IncidentID, b.IncidentID)
	})
	if limit <= 0 {
		limit = 10
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
