package comply

import (
	"context"
	"fmt"
	"time"

	"github.com/wacht-soc/wacht/internal/store"
)

// Dashboard is one framework's page in the console: coverage, status,
// trend, failing subjects, expiring waivers, evidence due for renewal and
// the regulatory clock on-time rate, each with ids to drill down to.
type Dashboard struct {
	Framework string `json:"framework"`
	Name      string `json:"name"`
	// Requirements and Covered (by at least one check).
	Requirements int            `json:"requirements"`
	Covered      int            `json:"covered"`
	Summary      map[Status]int `json:"summary"`
	RunID        string         `json:"run_id,omitempty"`
	Trend        []TrendPoint   `json:"trend"`
	// Failing are the newest run's failing and erring results of the
	// framework's checks.
	Failing       []Result   `json:"failing"`
	Expiring      []Waiver   `json:"expiring_waivers"`
	RenewalDue    []Evidence `json:"evidence_due"`
	OnTime        float64    `json:"regulatory_on_time"`
	DeadlinesSeen int        `json:"regulatory_deadlines"`
}

// TrendPoint counts a framework's requirement statuses in one run.
type TrendPoint struct {
	RunID  string         `json:"run_id"`
	At     time.Time      `json:"at"`
	Counts map[Status]int `json:"counts"`
}

// DashboardOf builds a framework's dashboard over the days before now.
func (s *Service) DashboardOf(ctx context.Context, tenant, framework string, days int) (Dashboard, error) {
	if days <= 0 {
		days = 90
	}
	now := s.Now()
	since := now.AddDate(0, 0, -days)
	v, err := s.FrameworkView(ctx, tenant, framework, now)
	if err != nil {
		return Dashboard{}, err
	}
	d := Dashboard{Framework: v.Framework, Name: v.Name, Requirements: len(v.Rows), Summary: v.Summary, RunID: v.RunID,
		Trend: []TrendPoint{}, Failing: []Result{}}
	checks := map[string]bool{}
	for _, r := range v.Rows {
		if len(r.Checks) > 0 {
			d.Covered++
		}
		for _, c := range r.Checks {
			checks[c] = true
		}
	}
	cat, err := s.Catalog(ctx, tenant, framework)
	if err != nil {
		return Dashboard{}, err
	}
	rows, err := s.db.Query(ctx, `SELECT run_id, at, status, COUNT(*) FROM comply_status WHERE tenant = ? AND framework = ? AND at >= ?
		GROUP BY run_id, at, status ORDER BY at, run_id`, tenant, frameworkKey(cat), store.TimeOf(since))
	if err != nil {
		return Dashboard{}, fmt.Errorf("read trend: %w", err)
	}
	for rows.Next() {
		var run, st string
		var at store.Timestamp
		var n int
		if err := rows.Scan(&run, &at, &st, &n); err != nil {
			rows.Close()
			return Dashboard{}, fmt.Errorf("read trend: %w", err)
		}
		if len(d.Trend) == 0 || d.Trend[len(d.Trend)-1].RunID != run {
			d.Trend = append(d.Trend, TrendPoint{RunID: run, At: at.Time, Counts: map[Status]int{}})
		}
		d.Trend[len(d.Trend)-1].Counts[Status(st)] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Dashboard{}, fmt.Errorf("read trend: %w", err)
	}
	if d.RunID != "" {
		res, err := s.Results(ctx, tenant, ResultFilter{RunID: d.RunID})
		if err != nil {
			return Dashboard{}, err
		}
		for _, r := range res {
			if checks[r.Check] && (r.Status == StatusFail || r.Status == StatusError) {
				d.Failing = append(d.Failing, r)
			}
		}
	}
	if d.Expiring, err = s.ExpiringWaivers(ctx, tenant, s.warn); err != nil {
		return Dashboard{}, err
	}
	if d.RenewalDue, err = s.ListEvidence(ctx, tenant, EvidenceFilter{Framework: cat.ID, RenewWithin: 30 * 24 * time.Hour}); err != nil {
		return Dashboard{}, err
	}
	facts, err := collect(ctx, s.sources, tenant, now)
	if err != nil {
		return Dashboard{}, err
	}
	d.OnTime, d.DeadlinesSeen = onTimeRate(facts.Deadlines, since, now)
	return d, nil
}
