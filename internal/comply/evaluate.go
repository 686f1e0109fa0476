package comply

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/store"
)

// Run is one evaluation of every check for a tenant at a time.
type Run struct {
	ID     string    `json:"id"`
	Tenant string    `json:"tenant"`
	At     time.Time `json:"at"`
	// PolicyHash and FactsHash are the SHA-256 of the policy bundle and
	// of the facts snapshot: the same pair always gives the same results.
	PolicyHash string    `json:"policy_hash"`
	FactsHash  string    `json:"facts_hash"`
	Cause      string    `json:"cause"`
	Actor      string    `json:"actor"`
	CreatedAt  time.Time `json:"created_at"`
	Results    int64     `json:"results"`
	Failing    int64     `json:"failing"`
	// Existing: the run had been recorded before (same tenant, time,
	// policies and facts), nothing was appended.
	Existing bool `json:"existing,omitempty"`
}

// Result is one check's judgement of one subject.
type Result struct {
	RunID    string          `json:"run_id"`
	Check    string          `json:"check"`
	Subject  string          `json:"subject"`
	Status   Status          `json:"status"`
	Observed json.RawMessage `json:"observed"`
	Reason   string          `json:"reason"`
	// WaiverID is set when an approved waiver covered the subject.
	WaiverID   string    `json:"waiver_id,omitempty"`
	At         time.Time `json:"at"`
	PolicyHash string    `json:"policy_hash"`
	FactsHash  string    `json:"facts_hash"`
}

// Cause of a run.
const (
	CauseSchedule = "schedule"
	CauseDemand   = "on-demand"
)

// Evaluate computes the facts for tenant at time at, runs every check,
// applies the waivers in force at that time and appends the results and
// the requirement statuses. A past at re-evaluates history with the
// current policies and the facts the sources can rebuild for that time.
// Evaluating again with identical policies and facts appends nothing and
// returns the recorded run.
func (s *Service) Evaluate(ctx context.Context, tenant string, at time.Time, cause, actor string) (Run, []Result, error) {
	if s.engine == nil {
		return Run{}, nil, errors.New("evaluate: no policy engine")
	}
	at = at.UTC().Truncate(time.Second)
	b, err := s.Bundle(ctx, tenant)
	if err != nil {
		return Run{}, nil, err
	}
	phash := b.Hash()
	compiled, err := s.compile(ctx, b, phash)
	if err != nil {
		return Run{}, nil, fmt.Errorf("evaluate: %w", err)
	}
	facts, err := collect(ctx, s.sources, tenant, at)
	if err != nil {
		return Run{}, nil, fmt.Errorf("evaluate: collect facts: %w", err)
	}
	fhash, err := facts.Hash()
	if err != nil {
		return Run{}, nil, err
	}
	runID := runIDOf(tenant, at, phash, fhash)
	if run, err := s.GetRun(ctx, tenant, runID); err == nil {
		run.Existing = true
		res, err := s.Results(ctx, tenant, ResultFilter{RunID: runID})
		return run, res, err
	} else if !errors.Is(err, store.ErrNotFound) {
		return Run{}, nil, err
	}
	results, err := s.judge(ctx, compiled, b, facts, tenant, at)
	if err != nil {
		return Run{}, nil, err
	}
	waivers, err := s.waiversInForce(ctx, tenant, at)
	if err != nil {
		return Run{}, nil, err
	}
	run := Run{ID: runID, Tenant: tenant, At: at, PolicyHash: phash, FactsHash: fhash, Cause: cause, Actor: actor,
		CreatedAt: s.Now().Truncate(time.Microsecond)}
	for i := range results {
		r := &results[i]
		r.RunID, r.At, r.PolicyHash, r.FactsHash = runID, at, phash, fhash
		if r.Status != StatusNotApplicable {
			if w := matchWaiver(waivers, r.Check, r.Subject); w != nil {
				r.Status, r.WaiverID = StatusWaived, w.ID
			}
		}
		if r.Status == StatusFail || r.Status == StatusError {
			run.Failing++
		}
	}
	run.Results = int64(len(results))
	cats, err := s.Catalogs(ctx, tenant)
	if err != nil {
		return Run{}, nil, err
	}
	statuses := requirementStatuses(cats, b, results)
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO comply_runs (id, tenant, at, policy_hash, facts_hash, cause, actor, created_at, results, failing)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, run.ID, tenant, store.TimeOf(at), phash, fhash, cause, actor,
			store.TimeOf(run.CreatedAt), run.Results, run.Failing); err != nil {
			return err
		}
		rows := make([][]any, 0, len(results))
		for _, r := range results {
			rows = append(rows, []any{tenant, runID, r.Check, r.Subject, string(r.Status), string(r.Observed), r.Reason,
				r.WaiverID, store.TimeOf(at), phash, fhash})
		}
		if err := insertMany(ctx, tx, "comply_results (tenant, run_id, check_id, subject, status, observed, reason, waiver_id, at, policy_hash, facts_hash)", rows); err != nil {
			return err
		}
		rows = rows[:0]
		for _, st := range statuses {
			rows = append(rows, []any{tenant, runID, st.Framework, st.Requirement, string(st.Status), st.Passing, st.Failing,
				st.Waived, st.Errors, store.TimeOf(at)})
		}
		return insertMany(ctx, tx, "comply_status (tenant, run_id, framework, requirement, status, passing, failing, waived, errors, at)", rows)
	})
	if err != nil {
		if store.IsUniqueViolation(err) {
			// A concurrent evaluation recorded the same run.
			run, gerr := s.GetRun(ctx, tenant, runID)
			if gerr == nil {
				run.Existing = true
				res, rerr := s.Results(ctx, tenant, ResultFilter{RunID: runID})
				return run, res, rerr
			}
		}
		return Run{}, nil, fmt.Errorf("record evaluation %s: %w", runID, err)
	}
	s.publish(ctx, "compliance.evaluated", tenant, runID, actor, run)
	s.log.Info("compliance_evaluated", "tenant", tenant, "run", runID, "at", at, "results", run.Results, "failing", run.Failing)
	return run, results, nil
}

func runIDOf(tenant string, at time.Time, phash, fhash string) string {
	h := sha256.Sum256([]byte(tenant + "\x00" + store.FormatTime(at) + "\x00" + phash + "\x00" + fhash))
	return "run_" + hex.EncodeToString(h[:12])
}

// judge runs every check and turns the policy output into results, sorted
// by check and subject. A policy that fails to evaluate or returns
// malformed results yields one "error" result naming the problem.
func (s *Service) judge(ctx context.Context, c Compiled, b *Bundle, facts *Facts, tenant string, at time.Time) ([]Result, error) {
	doc, err := facts.Document()
	if err != nil {
		return nil, err
	}
	var out []Result
	for _, chk := range b.Checks {
		input := map[string]any{"tenant": tenant, "at": rfc3339(at), "facts": doc, "params": chk.Params, "check": chk.ID}
		if chk.Params == nil {
			input["params"] = map[string]any{}
		}
		raw, err := c.Results(ctx, chk.Package, input)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			out = append(out, Result{Check: chk.ID, Subject: "*", Status: StatusError, Observed: json.RawMessage("{}"), Reason: err.Error()})
			continue
		}
		rs, err := decodeResults(chk.ID, raw)
		if err != nil {
			out = append(out, Result{Check: chk.ID, Subject: "*", Status: StatusError, Observed: json.RawMessage("{}"), Reason: err.Error()})
			continue
		}
		if len(rs) == 0 {
			rs = []Result{{Check: chk.ID, Subject: "*", Status: StatusError, Observed: json.RawMessage("{}"), Reason: "policy returned no result"}}
		}
		out = append(out, rs...)
	}
	return out, nil
}

func decodeResults(check string, raw []any) ([]Result, error) {
	out := make([]Result, 0, len(raw))
	seen := make(map[string]bool, len(raw))
	for _, v := range raw {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("policy result is %T, want an object", v)
		}
		subj, _ := m["subject"].(string)
		st, _ := m["status"].(string)
		reason, _ := m["reason"].(string)
		if subj == "" {
			return nil, errors.New("policy result without subject")
		}
		status := Status(st)
		switch status {
		case StatusPass, StatusFail, StatusNotApplicable, StatusError:
		case StatusWaived, StatusUnknown:
			return nil, fmt.Errorf("policy result for %s: status %q is not a policy's to give", subj, st)
		default:
			return nil, fmt.Errorf("policy result for %s: unknown status %q", subj, st)
		}
		if seen[subj] {
			return nil, fmt.Errorf("policy returned subject %s twice", subj)
		}
		seen[subj] = true
		obs := m["observed"]
		if obs == nil {
			obs = map[string]any{}
		}
		ob, err := json.Marshal(obs)
		if err != nil {
			return nil, fmt.Errorf("policy result for %s: observed: %w", subj, err)
		}
		out = append(out, Result{Check: check, Subject: subj, Status: status, Observed: ob, Reason: reason})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Subject < out[j].Subject })
	return out, nil
}

// RequirementStatus is a requirement's status from one run.
type RequirementStatus struct {
	Framework   string    `json:"framework"`
	Requirement string    `json:"requirement"`
	Status      Status    `json:"status"`
	Passing     int64     `json:"passing"`
	Failing     int64     `json:"failing"`
	Waived      int64     `json:"waived"`
	Errors      int64     `json:"errors"`
	At          time.Time `json:"at"`
}

// requirementStatuses aggregates results per mapped requirement: the worst
// status of its checks' subjects (fail > error > waived > pass > n/a).
func requirementStatuses(cats []*Catalog, b *Bundle, results []Result) []RequirementStatus {
	byCheck := map[string][]Result{}
	for _, r := range results {
		byCheck[r.Check] = append(byCheck[r.Check], r)
	}
	known := map[string]bool{}
	for _, c := range cats {
		known[frameworkKey(c)] = true
	}
	agg := map[Mapping]*RequirementStatus{}
	for _, chk := range b.Checks {
		for _, m := range chk.Maps {
			if !known[m.Framework] {
				continue
			}
			st := agg[m]
			if st == nil {
				st = &RequirementStatus{Framework: m.Framework, Requirement: m.Requirement, Status: StatusNotApplicable}
				agg[m] = st
			}
			for _, r := range byCheck[chk.ID] {
				switch r.Status {
				case StatusPass:
					st.Passing++
				case StatusFail:
					st.Failing++
				case StatusWaived:
					st.Waived++
				case StatusError:
					st.Errors++
				case StatusNotApplicable, StatusUnknown:
				}
				if r.Status.rank() > st.Status.rank() {
					st.Status = r.Status
				}
			}
		}
	}
	out := make([]RequirementStatus, 0, len(agg))
	for _, st := range agg {
		out = append(out, *st)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Framework != out[j].Framework {
			return out[i].Framework < out[j].Framework
		}
		return out[i].Requirement < out[j].Requirement
	})
	return out
}

// insertMany inserts rows in multi-row statements (at most 500 rows each).
func insertMany(ctx context.Context, tx *store.Tx, into string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	cols := len(rows[0])
	ph := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	for start := 0; start < len(rows); start += 500 {
		end := min(start+500, len(rows))
		var sb strings.Builder
		sb.WriteString("INSERT INTO " + into + " VALUES ")
		args := make([]any, 0, (end-start)*cols)
		for i := start; i < end; i++ {
			if i > start {
				sb.WriteString(", ")
			}
			sb.WriteString(ph)
			args = append(args, rows[i]...)
		}
		if _, err := tx.Exec(ctx, sb.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Reading runs and results

const runCols = `id, tenant, at, policy_hash, facts_hash, cause, actor, created_at, results, failing`

func scanRun(sc interface{ Scan(...any) error }) (Run, error) {
	var r Run
	var at, created store.Timestamp
	err := sc.Scan(&r.ID, &r.Tenant, &at, &r.PolicyHash, &r.FactsHash, &r.Cause, &r.Actor, &created, &r.Results, &r.Failing)
	r.At, r.CreatedAt = at.Time, created.Time
	return r, err
}

// GetRun returns one run.
func (s *Service) GetRun(ctx context.Context, tenant, id string) (Run, error) {
	r, err := scanRun(s.db.QueryRow(ctx, `SELECT `+runCols+` FROM comply_runs WHERE tenant = ? AND id = ?`, tenant, id))
	if errors.Is(err, errNoRows) {
		return Run{}, fmt.Errorf("run %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return Run{}, fmt.Errorf("read run %s: %w", id, err)
	}
	return r, nil
}

// Runs lists runs evaluated for times in [from, to), newest first (zero
// bounds are open), at most limit (default 100).
func (s *Service) Runs(ctx context.Context, tenant string, from, to time.Time, limit int) ([]Run, error) {
	q := `SELECT ` + runCols + ` FROM comply_runs WHERE tenant = ?`
	args := []any{tenant}
	if !from.IsZero() {
		q += ` AND at >= ?`
		args = append(args, store.TimeOf(from))
	}
	if !to.IsZero() {
		q += ` AND at < ?`
		args = append(args, store.TimeOf(to))
	}
	if limit <= 0 {
		limit = 100
	}
	q += fmt.Sprintf(` ORDER BY at DESC, created_at DESC, id LIMIT %d`, limit)
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// LatestRun returns the newest run evaluated at or before at (zero: now).
func (s *Service) LatestRun(ctx context.Context, tenant string, at time.Time) (Run, error) {
	return s.latestRunSince(ctx, tenant, time.Time{}, at)
}

// latestRunSince is LatestRun among runs evaluated at or after since.
func (s *Service) latestRunSince(ctx context.Context, tenant string, since, at time.Time) (Run, error) {
	if at.IsZero() {
		at = s.Now()
	}
	runs, err := s.Runs(ctx, tenant, since, at.Add(time.Second), 1)
	if err != nil {
		return Run{}, err
	}
	if len(runs) == 0 {
		return Run{}, fmt.Errorf("no evaluation yet: %w", store.ErrNotFound)
	}
	return runs[0], nil
}

// ResultFilter selects results.
type ResultFilter struct {
	RunID  string
	Check  string
	Status Status
	// From and To bound the evaluation time when RunID is empty.
	From, To time.Time
	Limit    int
}

// Results lists results ordered by time, check and subject.
func (s *Service) Results(ctx context.Context, tenant string, f ResultFilter) ([]Result, error) {
	var out []Result
	err := s.ScanResults(ctx, tenant, f, func(r Result) error { out = append(out, r); return nil })
	return out, err
}

// ScanResults calls fn for each result (exports stream through it).
func (s *Service) ScanResults(ctx context.Context, tenant string, f ResultFilter, fn func(Result) error) error {
	q := `SELECT run_id, check_id, subject, status, observed, reason, waiver_id, at, policy_hash, facts_hash FROM comply_results WHERE tenant = ?`
	args := []any{tenant}
	if f.RunID != "" {
		q += ` AND run_id = ?`
		args = append(args, f.RunID)
	}
	if f.Check != "" {
		q += ` AND check_id = ?`
		args = append(args, f.Check)
	}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, string(f.Status))
	}
	if !f.From.IsZero() {
		q += ` AND at >= ?`
		args = append(args, store.TimeOf(f.From))
	}
	if !f.To.IsZero() {
		q += ` AND at < ?`
		args = append(args, store.TimeOf(f.To))
	}
	q += ` ORDER BY at, run_id, check_id, subject`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("list results: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r Result
		var st, obs string
		var at store.Timestamp
		if err := rows.Scan(&r.RunID, &r.Check, &r.Subject, &st, &obs, &r.Reason, &r.WaiverID, &at, &r.PolicyHash, &r.FactsHash); err != nil {
			return fmt.Errorf("list results: %w", err)
		}
		r.Status, r.Observed, r.At = Status(st), json.RawMessage(obs), at.Time
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// StatusOf returns each mapped requirement's status from the newest run
// at or before at.
func (s *Service) StatusOf(ctx context.Context, tenant, framework string, at time.Time) (Run, []RequirementStatus, error) {
	return s.statusOfSince(ctx, tenant, framework, time.Time{}, at)
}

func (s *Service) statusOfSince(ctx context.Context, tenant, framework string, since, at time.Time) (Run, []RequirementStatus, error) {
	run, err := s.latestRunSince(ctx, tenant, since, at)
	if err != nil {
		return Run{}, nil, err
	}
	q := `SELECT framework, requirement, status, passing, failing, waived, errors, at FROM comply_status WHERE tenant = ? AND run_id = ?`
	args := []any{tenant, run.ID}
	if framework != "" {
		q += ` AND framework = ?`
		args = append(args, framework)
	}
	out, err := s.queryStatus(ctx, q+` ORDER BY framework, requirement`, args...)
	return run, out, err
}

// History returns a requirement's status over time, oldest first.
func (s *Service) History(ctx context.Context, tenant, framework, requirement string, from, to time.Time) ([]RequirementStatus, error) {
	q := `SELECT framework, requirement, status, passing, failing, waived, errors, at FROM comply_status
		WHERE tenant = ? AND framework = ? AND requirement = ?`
	args := []any{tenant, framework, requirement}
	if !from.IsZero() {
		q += ` AND at >= ?`
		args = append(args, store.TimeOf(from))
	}
	if !to.IsZero() {
		q += ` AND at < ?`
		args = append(args, store.TimeOf(to))
	}
	return s.queryStatus(ctx, q+` ORDER BY at, run_id`, args...)
}

func (s *Service) queryStatus(ctx context.Context, q string, args ...any) ([]RequirementStatus, error) {
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read status: %w", err)
	}
	defer rows.Close()
	var out []RequirementStatus
	for rows.Next() {
		var st RequirementStatus
		var status string
		var at store.Timestamp
		if err := rows.Scan(&st.Framework, &st.Requirement, &status, &st.Passing, &st.Failing, &st.Waived, &st.Errors, &at); err != nil {
			return nil, fmt.Errorf("read status: %w", err)
		}
		st.Status, st.At = Status(status), at.Time
		out = append(out, st)
	}
	return out, rows.Err()
}
