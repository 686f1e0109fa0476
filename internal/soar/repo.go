package soar

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

// PlaybookVersion is one saved version of a playbook.
type PlaybookVersion struct {
	Name        string    `json:"name"`
	Version     int64     `json:"version"`
	Description string    `json:"description,omitempty"`
	Triggers    []string  `json:"triggers"`
	Source      string    `json:"source,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
}

// Run is one execution of a playbook version.
type Run struct {
	ID              string      `json:"id"`
	Tenant          string      `json:"tenant"`
	Playbook        string      `json:"playbook"`
	PlaybookVersion int64       `json:"playbook_version"`
	Status          RunStatus   `json:"status"`
	Trigger         string      `json:"trigger"`
	Subject         string      `json:"subject,omitempty"`
	StartedBy       string      `json:"started_by"`
	IncidentID      string      `json:"incident_id,omitempty"`
	AlertID         string      `json:"alert_id,omitempty"`
	Error           string      `json:"error,omitempty"`
	DryRun          bool        `json:"dry_run,omitempty"`
	ReplayOf        string      `json:"replay_of,omitempty"`
	CreatedAt       time.Time   `json:"created_at"`
	FinishedAt      time.Time   `json:"finished_at,omitzero"`
	Deadline        time.Time   `json:"deadline"`
	Version         int64       `json:"version"`
	Steps           []StepState `json:"steps,omitempty"`

	context string
}

// RunSummary is the payload of playbook.run.finished.
type RunSummary struct {
	ID              string    `json:"id"`
	Playbook        string    `json:"playbook"`
	PlaybookVersion int64     `json:"playbook_version"`
	Status          RunStatus `json:"status"`
	IncidentID      string    `json:"incident_id,omitempty"`
	AlertID         string    `json:"alert_id,omitempty"`
	Error           string    `json:"error,omitempty"`
	Duration        float64   `json:"duration_seconds"`
}

// StepState is the durable progress of one step.
type StepState struct {
	StepID     string          `json:"step"`
	Index      int             `json:"index"`
	Status     StepStatus      `json:"status"`
	Attempt    int             `json:"attempt"`
	RunAt      time.Time       `json:"run_at,omitzero"`
	Input      json.RawMessage `json:"input,omitempty"`
	Output     json.RawMessage `json:"output,omitempty"`
	Error      string          `json:"error,omitempty"`
	StartedAt  time.Time       `json:"started_at,omitzero"`
	FinishedAt time.Time       `json:"finished_at,omitzero"`
	Duration   float64         `json:"duration_seconds,omitempty"`
	Role       string          `json:"approval_role,omitempty"`
	Message    string          `json:"message,omitempty"`
	DecidedBy  string          `json:"decided_by,omitempty"`
	Version    int64           `json:"version"`

	id         string
	runID      string
	tenant     string
	leaseOwner string
	leaseUntil time.Time
}

const runCols = "tenant, id, playbook, pb_version, status, trigger_type, subject, started_by, incident_id, alert_id, context, error, dry_run, replay_of, created_at, finished_at, deadline, version"

type rowScanner interface{ Scan(dest ...any) error }

func scanRun(r rowScanner) (Run, error) {
	var run Run
	var dry int64
	var created, finished, deadline store.Timestamp
	err := r.Scan(&run.Tenant, &run.ID, &run.Playbook, &run.PlaybookVersion, &run.Status, &run.Trigger, &run.Subject, &run.StartedBy,
		&run.IncidentID, &run.AlertID, &run.context, &run.Error, &dry, &run.ReplayOf, &created, &finished, &deadline, &run.Version)
	run.DryRun, run.CreatedAt, run.FinishedAt, run.Deadline = dry != 0, created.Time, finished.Time, deadline.Time
	return run, err
}

// loadRun reads a run and its steps (with inputs and outputs). Two
// statements: on SQLite they cost less than the join of both.
func loadRun(ctx context.Context, q store.Querier, tenant, runID string) (Run, []StepState, error) {
	run, err := getRun(ctx, q, tenant, runID)
	if err != nil {
		return Run{}, nil, err
	}
	steps, err := runSteps(ctx, q, tenant, runID)
	return run, steps, err
}

// loadStates reads a run and what scheduling needs of its steps.
func loadStates(ctx context.Context, q store.Querier, tenant, runID string) (Run, []StepState, error) {
	run, err := getRun(ctx, q, tenant, runID)
	if err != nil {
		return Run{}, nil, err
	}
	steps, err := stepStates(ctx, q, tenant, runID)
	return run, steps, err
}

const stepCols = "tenant, id, run_id, step_id, idx, status, attempt, run_at, lease_owner, lease_until, input, output, error, started_at, finished_at, approval_role, message, decided_by, version"

func scanStep(r rowScanner) (StepState, error) {
	var st StepState
	var runAt, lease, started, finished store.Timestamp
	var in, out string
	err := r.Scan(&st.tenant, &st.id, &st.runID, &st.StepID, &st.Index, &st.Status, &st.Attempt, &runAt, &st.leaseOwner, &lease,
		&in, &out, &st.Error, &started, &finished, &st.Role, &st.Message, &st.DecidedBy, &st.Version)
	st.RunAt, st.leaseUntil, st.StartedAt, st.FinishedAt = runAt.Time, lease.Time, started.Time, finished.Time
	if in != "" {
		st.Input = json.RawMessage(in)
	}
	if out != "" {
		st.Output = json.RawMessage(out)
	}
	if !st.StartedAt.IsZero() && !st.FinishedAt.IsZero() {
		st.Duration = st.FinishedAt.Sub(st.StartedAt).Seconds()
	}
	return st, err
}

func getRun(ctx context.Context, q store.Querier, tenant, id string) (Run, error) {
	run, err := scanRun(q.QueryRow(ctx, "SELECT "+runCols+" FROM soar_runs WHERE tenant = ? AND id = ?", tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return run, fmt.Errorf("run %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return run, fmt.Errorf("load run %s: %w", id, err)
	}
	return run, nil
}

func runSteps(ctx context.Context, q store.Querier, tenant, runID string) ([]StepState, error) {
	rows, err := q.Query(ctx, "SELECT "+stepCols+" FROM soar_steps WHERE tenant = ? AND run_id = ? ORDER BY idx", tenant, runID)
	if err != nil {
		return nil, fmt.Errorf("load steps of run %s: %w", runID, err)
	}
	defer rows.Close()
	var out []StepState
	for rows.Next() {
		st, err := scanStep(rows)
		if err != nil {
			return nil, fmt.Errorf("load steps of run %s: %w", runID, err)
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// stepStates loads only what scheduling needs of a run's steps (not their
// inputs and outputs).
func stepStates(ctx context.Context, q store.Querier, tenant, runID string) ([]StepState, error) {
	rows, err := q.Query(ctx, "SELECT id, step_id, status, error FROM soar_steps WHERE tenant = ? AND run_id = ? ORDER BY idx", tenant, runID)
	if err != nil {
		return nil, fmt.Errorf("load step states of run %s: %w", runID, err)
	}
	defer rows.Close()
	var out []StepState
	for rows.Next() {
		st := StepState{tenant: tenant, runID: runID}
		if err := rows.Scan(&st.id, &st.StepID, &st.Status, &st.Error); err != nil {
			return nil, fmt.Errorf("load step states of run %s: %w", runID, err)
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

func getStep(ctx context.Context, q store.Querier, id string) (StepState, error) {
	st, err := scanStep(q.QueryRow(ctx, "SELECT "+stepCols+" FROM soar_steps WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return st, fmt.Errorf("step %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return st, fmt.Errorf("load step %s: %w", id, err)
	}
	return st, nil
}

func stepRowID(runID, stepID string) string { return runID + ":" + stepID }

// Apply validates src and saves it as the next version of its playbook.
// Saving an identical source again returns the current version.
func (s *Service) Apply(ctx context.Context, tenant string, src []byte, actor string) (PlaybookVersion, error) {
	pb, err := Parse(src)
	if err != nil {
		return PlaybookVersion{}, err
	}
	triggers := make([]string, 0, len(pb.On))
	for t := range pb.On {
		triggers = append(triggers, t)
	}
	slices.Sort(triggers)
	var out PlaybookVersion
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		var last sql.NullInt64
		var lastSrc sql.NullString
		err := tx.QueryRow(ctx, "SELECT version, source FROM soar_playbooks WHERE tenant = ? AND name = ? ORDER BY version DESC LIMIT 1",
			tenant, pb.Name).Scan(&last, &lastSrc)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if lastSrc.Valid && lastSrc.String == string(src) {
			out, err = s.getVersion(ctx, tx, tenant, pb.Name, last.Int64)
			return err
		}
		out = PlaybookVersion{Name: pb.Name, Version: last.Int64 + 1, Description: pb.Description, Triggers: triggers,
			Source: string(src), CreatedAt: s.clock(), CreatedBy: actor}
		_, err = tx.Exec(ctx, "INSERT INTO soar_playbooks (tenant, name, version, source, description, triggers, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			tenant, out.Name, out.Version, out.Source, out.Description, "|"+strings.Join(triggers, "|")+"|", store.TimeOf(out.CreatedAt), actor)
		if err != nil {
			return err
		}
		return s.syncSchedule(ctx, tx, tenant, pb, out.CreatedAt)
	})
	if err != nil {
		return out, fmt.Errorf("save playbook %s: %w", pb.Name, err)
	}
	s.pbMu.Lock()
	delete(s.trigTables, tenant)
	s.pbMu.Unlock()
	return out, nil
}

const pbCols = "name, version, description, triggers, source, created_at, created_by"

func scanVersion(r rowScanner) (PlaybookVersion, error) {
	var v PlaybookVersion
	var trig string
	var at store.Timestamp
	err := r.Scan(&v.Name, &v.Version, &v.Description, &trig, &v.Source, &at, &v.CreatedBy)
	v.CreatedAt = at.Time
	v.Triggers = []string{}
	for _, t := range strings.Split(trig, "|") {
		if t != "" {
			v.Triggers = append(v.Triggers, t)
		}
	}
	return v, err
}

func (s *Service) getVersion(ctx context.Context, q store.Querier, tenant, name string, version int64) (PlaybookVersion, error) {
	var r *sql.Row
	if version > 0 {
		r = q.QueryRow(ctx, "SELECT "+pbCols+" FROM soar_playbooks WHERE tenant = ? AND name = ? AND version = ?", tenant, name, version)
	} else {
		r = q.QueryRow(ctx, "SELECT "+pbCols+" FROM soar_playbooks WHERE tenant = ? AND name = ? ORDER BY version DESC LIMIT 1", tenant, name)
	}
	v, err := scanVersion(r)
	if errors.Is(err, sql.ErrNoRows) {
		return v, fmt.Errorf("playbook %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return v, fmt.Errorf("load playbook %s: %w", name, err)
	}
	return v, nil
}

// Get returns a playbook version (version 0: the latest).
func (s *Service) Get(ctx context.Context, tenant, name string, version int64) (PlaybookVersion, error) {
	return s.getVersion(ctx, s.db, tenant, name, version)
}

// List returns the latest version of every playbook (without sources).
func (s *Service) List(ctx context.Context, tenant string) ([]PlaybookVersion, error) {
	rows, err := s.db.Query(ctx, `SELECT `+pbCols+` FROM soar_playbooks p WHERE tenant = ? AND version =
		(SELECT MAX(version) FROM soar_playbooks q WHERE q.tenant = p.tenant AND q.name = p.name) ORDER BY name`, tenant)
	if err != nil {
		return nil, fmt.Errorf("list playbooks: %w", err)
	}
	defer rows.Close()
	out := []PlaybookVersion{}
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, fmt.Errorf("list playbooks: %w", err)
		}
		v.Source = ""
		out = append(out, v)
	}
	return out, rows.Err()
}

// Versions lists the saved versions of a playbook, newest first.
func (s *Service) Versions(ctx context.Context, tenant, name string) ([]PlaybookVersion, error) {
	rows, err := s.db.Query(ctx, "SELECT "+pbCols+" FROM soar_playbooks WHERE tenant = ? AND name = ? ORDER BY version DESC", tenant, name)
	if err != nil {
		return nil, fmt.Errorf("list versions of %s: %w", name, err)
	}
	defer rows.Close()
	out := []PlaybookVersion{}
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, fmt.Errorf("list versions of %s: %w", name, err)
		}
		v.Source = ""
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("playbook %s: %w", name, store.ErrNotFound)
	}
	return out, nil
}

// playbook returns the parsed version (cached: versions never change).
func (s *Service) playbook(ctx context.Context, q store.Querier, tenant, name string, version int64) (*Playbook, int64, error) {
	if version > 0 {
		s.pbMu.RLock()
		pb := s.pbCache[pbKey{tenant, name, version}]
		s.pbMu.RUnlock()
		if pb != nil {
			return pb, version, nil
		}
	}
	if version == 0 {
		// The latest version: its number is cheap, its parse is not.
		err := q.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM soar_playbooks WHERE tenant = ? AND name = ?", tenant, name).Scan(&version)
		if err != nil {
			return nil, 0, fmt.Errorf("load playbook %s: %w", name, err)
		}
		if version == 0 {
			return nil, 0, fmt.Errorf("playbook %s: %w", name, store.ErrNotFound)
		}
		return s.playbook(ctx, q, tenant, name, version)
	}
	v, err := s.getVersion(ctx, q, tenant, name, version)
	if err != nil {
		return nil, 0, err
	}
	pb, err := Parse([]byte(v.Source))
	if err != nil {
		return nil, 0, fmt.Errorf("parse stored playbook %s v%d: %w", name, v.Version, err)
	}
	s.pbMu.Lock()
	s.pbCache[pbKey{tenant, name, v.Version}] = pb
	s.pbMu.Unlock()
	return pb, v.Version, nil
}

// triggerTTL is how long a tenant's trigger table is reused: playbooks
// saved on another node start triggering here at most this late (saves on
// this node apply at once).
const triggerTTL = 5 * time.Second

// triggerTable is a tenant's latest playbook versions by trigger type.
type triggerTable struct {
	loaded time.Time
	byType map[string][]PlaybookVersion
}

// triggered lists the latest versions of the tenant's playbooks that have
// an `on:` entry for typ. Every domain event asks, so the answer is cached.
func (s *Service) triggered(ctx context.Context, tenant, typ string) ([]PlaybookVersion, error) {
	now := s.now()
	s.pbMu.RLock()
	tt := s.trigTables[tenant]
	s.pbMu.RUnlock()
	if tt != nil && now.Sub(tt.loaded) < triggerTTL && now.Sub(tt.loaded) >= 0 {
		return tt.byType[typ], nil
	}
	rows, err := s.db.Query(ctx, `SELECT `+pbCols+` FROM soar_playbooks p WHERE tenant = ? AND version =
		(SELECT MAX(version) FROM soar_playbooks q WHERE q.tenant = p.tenant AND q.name = p.name)`, tenant)
	if err != nil {
		return nil, fmt.Errorf("load triggers of %s: %w", tenant, err)
	}
	defer rows.Close()
	tt = &triggerTable{loaded: now, byType: map[string][]PlaybookVersion{}}
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, err
		}
		v.Source = ""
		for _, t := range v.Triggers {
			tt.byType[t] = append(tt.byType[t], v)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	s.pbMu.Lock()
	s.trigTables[tenant] = tt
	s.pbMu.Unlock()
	return tt.byType[typ], nil
}

// RunFilter selects runs.
type RunFilter struct {
	Playbook string
	Status   RunStatus
	Incident string
	Limit    int
}

// Runs lists runs, newest first.
func (s *Service) Runs(ctx context.Context, tenant string, f RunFilter) ([]Run, error) {
	q := "SELECT " + runCols + " FROM soar_runs WHERE tenant = ?"
	args := []any{tenant}
	if f.Playbook != "" {
		q += " AND playbook = ?"
		args = append(args, f.Playbook)
	}
	if f.Status != "" {
		q += " AND status = ?"
		args = append(args, string(f.Status))
	}
	if f.Incident != "" {
		q += " AND incident_id = ?"
		args = append(args, f.Incident)
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	q += fmt.Sprintf(" ORDER BY created_at DESC, id DESC LIMIT %d", f.Limit)
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	out := []Run{}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// GetRun returns a run with its steps' history (inputs and outputs masked).
func (s *Service) GetRun(ctx context.Context, tenant, id string) (Run, error) {
	run, err := getRun(ctx, s.db, tenant, id)
	if err != nil {
		return run, err
	}
	run.Steps, err = runSteps(ctx, s.db, tenant, id)
	return run, err
}

// Approval is a step waiting for a person.
type Approval struct {
	RunID    string    `json:"run_id"`
	Playbook string    `json:"playbook"`
	Step     string    `json:"step"`
	Role     string    `json:"role"`
	Message  string    `json:"message"`
	Deadline time.Time `json:"deadline"`
	Incident string    `json:"incident_id,omitempty"`
}

// Approvals lists the tenant's pending approvals.
func (s *Service) Approvals(ctx context.Context, tenant string) ([]Approval, error) {
	rows, err := s.db.Query(ctx, `SELECT s.run_id, r.playbook, s.step_id, s.approval_role, s.message, s.run_at, r.incident_id
		FROM soar_steps s JOIN soar_runs r ON r.tenant = s.tenant AND r.id = s.run_id
		WHERE s.tenant = ? AND s.status = ? AND s.approval_role <> '' AND r.status = ? ORDER BY s.run_at`, tenant, string(StepWaiting), string(RunRunning))
	if err != nil {
		return nil, fmt.Errorf("list approvals: %w", err)
	}
	defer rows.Close()
	out := []Approval{}
	for rows.Next() {
		var a Approval
		var at store.Timestamp
		if err := rows.Scan(&a.RunID, &a.Playbook, &a.Step, &a.Role, &a.Message, &at, &a.Incident); err != nil {
			return nil, fmt.Errorf("list approvals: %w", err)
		}
		a.Deadline = at.Time
		out = append(out, a)
	}
	return out, rows.Err()
}
