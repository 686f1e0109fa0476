package vuln

import (
	"context"
	"fmt"
	"time"

	"github.com/wacht-soc/wacht/internal/store"
)

// decisionOfRank names a stored priority rank.
var decisionOfRank = map[int]Decision{4: DecisionAct, 3: DecisionAttend, 2: DecisionTrackStar, 1: DecisionTrack, 0: DecisionNone}

// Stats computes metrics for a tenant. Each query reads an index that
// covers it (or a small partial one), so the cost grows with the index
// entries counted, not with the rows behind them.
func (s *Service) Stats(ctx context.Context, tenant string) (Stats, error) {
	now := s.now().UTC()
	st := Stats{ByPriority: map[string]int{}, BySeverity: map[string]int{}}
	active := []any{string(StateOpen), string(StateInTriage), string(StateReopened)}
	in := `state IN (?, ?, ?)`
	args := func(extra ...any) []any { return append(append([]any{tenant}, extra...), active...) }
	// Open by priority and severity: the state index alone.
	rows, err := s.db.Query(ctx, `SELECT priority_rank, severity, COUNT(*) FROM vuln_findings WHERE tenant = ? AND `+in+`
		GROUP BY priority_rank, severity`, args()...)
	if err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	for rows.Next() {
		var rank, sev, n int
		if err := rows.Scan(&rank, &sev, &n); err != nil {
			rows.Close()
			return st, fmt.Errorf("stats: %w", err)
		}
		st.Open += n
		st.ByPriority[string(decisionOfRank[rank])] += n
		st.BySeverity[reportSeverity(sev)] += n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	// Overdue, KEV exposure and open findings without a due date: partial
	// indexes over the few rows each. SQLite is told which: it would walk
	// every open finding of the state index instead.
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM vuln_findings`+s.hint("vuln_findings_breached_list")+` WHERE tenant = ? AND sla_breached = 1 AND `+in,
		args()...).Scan(&st.Overdue); err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*), COUNT(DISTINCT asset_id) FROM vuln_findings`+s.hint("vuln_findings_kev_list")+` WHERE tenant = ? AND kev = 1 AND `+in,
		args()...).Scan(&st.KEVOpen, &st.KEVAssets); err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	var noDue int
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM vuln_findings`+s.hint("vuln_findings_nodue")+` WHERE tenant = ? AND due_at IS NULL AND `+in,
		args()...).Scan(&noDue); err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	// The trend: findings first seen per day over the last 30 days.
	since := now.AddDate(0, 0, -29).Truncate(24 * time.Hour)
	days := map[string]*TrendPoint{}
	for i := 29; i >= 0; i-- {
		st.Trend = append(st.Trend, TrendPoint{Day: now.AddDate(0, 0, -i).Format("2006-01-02")})
	}
	for i := range st.Trend {
		days[st.Trend[i].Day] = &st.Trend[i]
	}
	day := `substr(first_seen, 1, 10)`
	if s.db.Dialect() == store.Postgres {
		day = `to_char(first_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD')`
	}
	rows, err = s.db.Query(ctx, `SELECT `+day+`, COUNT(*) FROM vuln_findings WHERE tenant = ? AND first_seen >= ? GROUP BY 1`,
		tenant, store.TimeOf(since))
	if err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	for rows.Next() {
		var d string
		var n int
		if err := rows.Scan(&d, &n); err != nil {
			rows.Close()
			return st, fmt.Errorf("stats: %w", err)
		}
		if p := days[d]; p != nil {
			p.Opened += n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	// Remediation: every fixed finding, from the partial index of fixed
	// ones (it covers the three times).
	rows, err = s.db.Query(ctx, `SELECT first_seen, fixed_at, due_at FROM vuln_findings WHERE tenant = ? AND state = ? AND fixed_at IS NOT NULL`,
		tenant, string(StateFixed))
	if err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	defer rows.Close()
	var total time.Duration
	onTime, withDue := 0, 0
	for rows.Next() {
		var first, fixed, due store.Timestamp
		if err := rows.Scan(&first, &fixed, &due); err != nil {
			return st, fmt.Errorf("stats: %w", err)
		}
		st.Fixed++
		total += fixed.Sub(first.Time)
		if p := days[fixed.Format("2006-01-02")]; p != nil {
			p.Fixed++
		}
		if !due.IsZero() {
			withDue++
			if !fixed.After(due.Time) {
				onTime++
			}
		}
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	if st.Fixed > 0 {
		st.MTTRDays = total.Hours() / 24 / float64(st.Fixed)
	}
	// Compliance: fixed on time plus open and not yet overdue, over all
	// findings with a due date.
	openDue := st.Open - noDue
	if d := withDue + openDue; d > 0 {
		st.SLACompliance = float64(onTime+openDue-st.Overdue) / float64(d)
	} else {
		st.SLACompliance = 1
	}
	return st, nil
}
