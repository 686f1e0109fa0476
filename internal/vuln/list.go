package vuln

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/vuln/report"
)

// Filter selects findings for List.
type Filter struct {
	States      []State
	MinSeverity report.Severity
	Priority    Decision
	AssetID     string
	VulnID      string
	Source      string
	KEV         bool
	Overdue     bool
	// Limit is at most 1000 (default 100).
	Limit int
	// After is the cursor returned with the previous page.
	After string
}

// Page is one page of findings, most urgent first.
type Page struct {
	Findings []Finding `json:"findings"`
	// Next is the cursor of the following page ("" at the end).
	Next string `json:"next,omitempty"`
}

// Valid reports whether d is a known decision ("" included).
func (d Decision) Valid() bool {
	switch d {
	case DecisionNone, DecisionTrack, DecisionTrackStar, DecisionAttend, DecisionAct:
		return true
	}
	return false
}

// cond is one SQL condition with its arguments; a lane may name the
// partial index it reads (SQLite is told, PostgreSQL's planner finds it).
type cond struct {
	sql   string
	args  []any
	index string
}

// allStates are the lanes of a listing without a state filter.
var allStates = []State{StateOpen, StateInTriage, StateReopened, StateAccepted, StateFalsePositive, StateNotAffected, StateFixed}

// lanes picks the index ranges a listing reads. Each lane is an equality
// that leads an index ending in (priority_rank, severity, id): the asset,
// the vulnerability, KEV or breached (partial indexes), or one state (all
// seven without a state filter). The remaining filters are checked on the
// rows the lane yields.
func (f Filter) lanes() (lanes []cond, residual []cond) {
	states := func() {
		if len(f.States) > 0 {
			residual = append(residual, cond{sql: `state IN (` + store.Placeholders(len(f.States)) + `)`, args: stateArgs(f.States)})
		}
	}
	switch {
	case f.AssetID != "":
		lanes = []cond{{sql: `asset_id = ?`, args: []any{f.AssetID}}}
		if f.VulnID != "" {
			residual = append(residual, cond{sql: `vuln_id = ?`, args: []any{f.VulnID}})
		}
		states()
	case f.VulnID != "":
		lanes = []cond{{sql: `vuln_id = ?`, args: []any{f.VulnID}}}
		states()
	case f.KEV:
		lanes = []cond{{`kev = 1`, nil, "vuln_findings_kev_list"}}
		states()
	case f.Overdue:
		lanes = []cond{{`sla_breached = 1`, nil, "vuln_findings_breached_list"}}
		states()
	default:
		all := f.States
		if len(all) == 0 {
			all = allStates
		}
		seen := map[State]bool{}
		for _, st := range all {
			if !seen[st] {
				seen[st] = true
				lanes = append(lanes, cond{sql: `state = ?`, args: []any{string(st)}})
			}
		}
	}
	if f.KEV && (f.AssetID != "" || f.VulnID != "") {
		residual = append(residual, cond{sql: `kev = 1`})
	}
	if f.Overdue && (f.AssetID != "" || f.VulnID != "" || f.KEV) {
		residual = append(residual, cond{sql: `sla_breached = 1`})
	}
	if f.Source != "" {
		residual = append(residual, cond{sql: `source = ?`, args: []any{f.Source}})
	}
	return lanes, residual
}

func stateArgs(states []State) []any {
	out := make([]any, len(states))
	for i, st := range states {
		out[i] = string(st)
	}
	return out
}

// List returns findings ordered by priority, severity and id (all
// descending), a page at a time with keyset pagination. It reads one index
// range per priority rank and lane, each walked in (severity, id) order
// from the cursor, so a page costs about what it returns whatever the
// filters and however deep it is.
func (s *Service) List(ctx context.Context, tenant string, f Filter) (Page, error) {
	for _, st := range f.States {
		if !st.Valid() {
			return Page{}, errorf("state %q", st)
		}
	}
	if !f.Priority.Valid() {
		return Page{}, errorf("priority %q: want act, attend, track* or track", f.Priority)
	}
	curRank, curSev, curID := 5, 0, ""
	if f.After != "" {
		rank, sev, id, ok := parseCursor(f.After)
		if !ok {
			return Page{}, errorf("cursor %q", f.After)
		}
		curRank, curSev, curID = rank, sev, id
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	f.Limit = min(f.Limit, 1000)
	ranks := []int{4, 3, 2, 1, 0}
	if f.Priority != DecisionNone {
		ranks = []int{f.Priority.Rank()}
	}
	lanes, residual := f.lanes()
	// First the keys of the page, from the indexes alone where the
	// filters allow; then the rows of just those keys.
	var keys []listKey
	for _, rank := range ranks {
		need := f.Limit + 1 - len(keys)
		if need <= 0 {
			break
		}
		if rank > curRank {
			continue
		}
		// One statement per rank: a UNION ALL of one ordered range per
		// lane (subqueries, so that each keeps its ORDER BY and LIMIT).
		var parts []string
		var args []any
		for i, lane := range lanes {
			q := `SELECT severity, id FROM vuln_findings`
			if lane.index != "" {
				q += s.hint(lane.index)
			}
			q += ` WHERE tenant = ?`
			args = append(args, tenant)
			for _, c := range append([]cond{lane}, residual...) {
				if c.sql != "" {
					q += ` AND ` + c.sql
					args = append(args, c.args...)
				}
			}
			q += ` AND priority_rank = ?`
			args = append(args, rank)
			if f.MinSeverity > report.SeverityUnknown {
				q += ` AND severity >= ?`
				args = append(args, int(f.MinSeverity))
			}
			if rank == curRank {
				q += ` AND (severity, id) < (?, ?)`
				args = append(args, curSev, curID)
			}
			q += ` ORDER BY severity DESC, id DESC LIMIT ?`
			args = append(args, need)
			if len(lanes) > 1 {
				q = fmt.Sprintf(`SELECT severity, id FROM (%s) AS lane%d`, q, i)
			}
			parts = append(parts, q)
		}
		got, err := s.appendKeys(ctx, nil, rank, strings.Join(parts, ` UNION ALL `), args...)
		if err != nil {
			return Page{}, err
		}
		if len(lanes) > 1 {
			slices.SortFunc(got, func(a, b listKey) int {
				if a.sev != b.sev {
					return b.sev - a.sev
				}
				return strings.Compare(b.id, a.id)
			})
		}
		keys = append(keys, got[:min(len(got), need)]...)
	}
	var p Page
	if len(keys) > f.Limit {
		keys = keys[:f.Limit]
		last := keys[len(keys)-1]
		p.Next = fmt.Sprintf("%d.%d.%s", last.rank, last.sev, last.id)
	}
	if len(keys) == 0 {
		return p, nil
	}
	vals := make([]any, len(keys))
	for i, k := range keys {
		vals[i] = k.id
	}
	in, args := inList([]any{tenant}, vals)
	rows, err := s.queryFindings(ctx, selectFindings+` WHERE tenant = ? AND id IN (`+in+`)`, args...)
	if err != nil {
		return Page{}, err
	}
	byID := make(map[string]Finding, len(rows))
	for _, x := range rows {
		byID[x.ID] = x
	}
	for _, k := range keys {
		// A finding changed between the two reads (re-keyed by an asset
		// merge) is left out of this page rather than shown stale.
		if x, ok := byID[k.id]; ok {
			p.Findings = append(p.Findings, x)
		}
	}
	return p, nil
}

// listKey is a finding's place in the list order.
type listKey struct {
	rank, sev int
	id        string
}

func (s *Service) appendKeys(ctx context.Context, out []listKey, rank int, q string, args ...any) ([]listKey, error) {
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list findings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		k := listKey{rank: rank}
		if err := rows.Scan(&k.sev, &k.id); err != nil {
			return nil, fmt.Errorf("list findings: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list findings: %w", err)
	}
	return out, nil
}

func parseCursor(c string) (rank, sev int, id string, ok bool) {
	if _, err := fmt.Sscanf(c, "%d.%d.%s", &rank, &sev, &id); err != nil || rank < 0 || rank > 4 || id == "" {
		return 0, 0, "", false
	}
	return rank, sev, id, true
}

func (s *Service) queryFindings(ctx context.Context, q string, args ...any) ([]Finding, error) {
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list findings: %w", err)
	}
	defer rows.Close()
	var out []Finding
	for rows.Next() {
		x, err := scanFinding(rows)
		if err != nil {
			return nil, fmt.Errorf("list findings: %w", err)
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list findings: %w", err)
	}
	return out, nil
}
