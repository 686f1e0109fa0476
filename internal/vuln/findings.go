package vuln

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/assets"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/vuln/report"
)

var findingCols = []string{"id", "tenant", "asset_id", "vuln_id", "component", "source", "aliases", "title", "description",
	"package", "pkg_version", "fixed_version", "location", "severity", "cvss3_vector", "cvss3_score", "cvss4_vector", "cvss4_score",
	"epss", "epss_percentile", "kev", "exploit_available", "priority", "priority_rank", "timeline", "reasons", "due_at", "sla_breached",
	"state", "state_reason", "approver", "accepted_until", "first_seen", "last_seen", "fixed_at", "last_scan", "updated_at", "version"}

var selectFindings = "SELECT " + strings.Join(findingCols, ", ") + " FROM vuln_findings"

func insertFindings(rows int) string {
	one := "(" + store.Placeholders(len(findingCols)) + ")"
	return "INSERT INTO vuln_findings (" + strings.Join(findingCols, ", ") + ") VALUES " + strings.TrimSuffix(strings.Repeat(one+", ", rows), ", ")
}

func findingArgs(f *Finding) []any {
	return []any{f.ID, f.Tenant, f.AssetID, f.VulnID, f.Component, f.Source, strings.Join(f.Aliases, " "), f.Title, f.Description,
		f.Package, f.PkgVersion, f.FixedVersion, f.Location, int(f.Severity), f.CVSS3Vector, f.CVSS3Score, f.CVSS4Vector, f.CVSS4Score,
		f.EPSS, f.EPSSPercentile, boolInt(f.KEV), boolInt(f.ExploitAvailable), string(f.Priority), f.Priority.Rank(), string(f.Timeline),
		strings.Join(f.Reasons, "\n"), store.TimeOf(f.DueAt), boolInt(f.SLABreached), string(f.State), f.StateReason, f.Approver,
		store.TimeOf(f.AcceptedUntil), store.TimeOf(f.FirstSeen), store.TimeOf(f.LastSeen), store.TimeOf(f.FixedAt), f.LastScan,
		store.TimeOf(f.UpdatedAt), f.Version}
}

func scanFinding(sc interface{ Scan(...any) error }) (Finding, error) {
	var f Finding
	var aliases, reasons, prio, timeline, state string
	var sev, rank, kev, expl, breached int
	var due, acc, first, last, fixed, upd store.Timestamp
	err := sc.Scan(&f.ID, &f.Tenant, &f.AssetID, &f.VulnID, &f.Component, &f.Source, &aliases, &f.Title, &f.Description,
		&f.Package, &f.PkgVersion, &f.FixedVersion, &f.Location, &sev, &f.CVSS3Vector, &f.CVSS3Score, &f.CVSS4Vector, &f.CVSS4Score,
		&f.EPSS, &f.EPSSPercentile, &kev, &expl, &prio, &rank, &timeline, &reasons, &due, &breached,
		&state, &f.StateReason, &f.Approver, &acc, &first, &last, &fixed, &f.LastScan, &upd, &f.Version)
	if err != nil {
		return f, err
	}
	f.Severity, f.KEV, f.ExploitAvailable, f.SLABreached = report.Severity(sev), kev == 1, expl == 1, breached == 1
	f.Priority, f.Timeline, f.State = Decision(prio), Timeline(timeline), State(state)
	if aliases != "" {
		f.Aliases = strings.Split(aliases, " ")
	}
	if reasons != "" {
		f.Reasons = strings.Split(reasons, "\n")
	}
	f.DueAt, f.AcceptedUntil, f.FirstSeen, f.LastSeen, f.FixedAt, f.UpdatedAt = due.Time, acc.Time, first.Time, last.Time, fixed.Time, upd.Time
	return f, nil
}

type existing struct {
	state State
	first time.Time
}

func (s *Service) upsertChunk(ctx context.Context, tx *store.Tx, tenant, scan string, now time.Time, byKey map[string]*pending, ids []string, byID map[string]*assets.Asset) (created, updated, reopened int, err error) {
	var inserts []*Finding
	var dets []any
	old := map[string]existing{}
	args := []any{tenant}
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := tx.Query(ctx, `SELECT id, state, first_seen FROM vuln_findings WHERE tenant = ? AND id IN (`+store.Placeholders(len(ids))+`)`, args...)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("read findings: %w", err)
	}
	for rows.Next() {
		var id, st string
		var first store.Timestamp
		if err := rows.Scan(&id, &st, &first); err != nil {
			rows.Close()
			return 0, 0, 0, err
		}
		old[id] = existing{State(st), first.Time}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, 0, err
	}
	for _, id := range ids {
		p := byKey[id]
		f := &p.f
		f.LastScan, f.UpdatedAt = scan, now
		ex, found := old[id]
		if found {
			f.FirstSeen = ex.first
		}
		pr := s.profile.Prioritize(f, byID[f.AssetID])
		f.Priority, f.Timeline, f.DueAt, f.Reasons = pr.Decision, pr.Timeline, pr.Due, pr.Reasons
		if !found {
			f.State, f.Version = StateOpen, 1
			switch {
			case p.supp:
				f.State, f.StateReason = StateFalsePositive, "suppressed in the scanner's report"
			case p.vex == report.VEXNotAffected:
				f.State, f.StateReason = StateNotAffected, p.vexWhy
			case p.vex == report.VEXFixed:
				f.State, f.FixedAt = StateFixed, now
			}
			inserts = append(inserts, f)
			created++
		} else {
			st, reason := ex.state, ""
			switch ex.state {
			case StateFixed:
				st = StateReopened
				if p.vex == report.VEXNotAffected {
					st, reason = StateNotAffected, p.vexWhy
				}
			case StateOpen, StateInTriage, StateReopened:
				if p.vex == report.VEXNotAffected {
					st, reason = StateNotAffected, p.vexWhy
				}
			case StateNotAffected:
				if p.vex == report.VEXAffected {
					st = StateReopened
				}
			case StateAccepted, StateFalsePositive:
			}
			if st == StateReopened && ex.state != StateReopened {
				reopened++
			}
			setReason := ""
			if st != ex.state {
				setReason = ", state_reason = ?, fixed_at = NULL"
			}
			q := `UPDATE vuln_findings SET last_seen = ?, last_scan = ?, updated_at = ?, severity = ?, title = ?, description = ?,
				fixed_version = ?, cvss3_vector = ?, cvss3_score = ?, cvss4_vector = ?, cvss4_score = ?, epss = ?, epss_percentile = ?,
				kev = ?, exploit_available = ?, priority = ?, priority_rank = ?, timeline = ?, reasons = ?, due_at = ?, state = ?` + setReason + `,
				version = version + 1 WHERE tenant = ? AND id = ?`
			a := []any{store.TimeOf(now), scan, store.TimeOf(now), int(f.Severity), f.Title, f.Description, f.FixedVersion,
				f.CVSS3Vector, f.CVSS3Score, f.CVSS4Vector, f.CVSS4Score, f.EPSS, f.EPSSPercentile, boolInt(f.KEV),
				boolInt(f.ExploitAvailable), string(f.Priority), f.Priority.Rank(), string(f.Timeline), strings.Join(f.Reasons, "\n"),
				store.TimeOf(f.DueAt), string(st)}
			if setReason != "" {
				a = append(a, reason)
			}
			a = append(a, tenant, id)
			if _, err := tx.Exec(ctx, q, a...); err != nil {
				return 0, 0, 0, fmt.Errorf("update finding %s: %w", id, err)
			}
			updated++
		}
		for _, h := range p.hashes {
			dets = append(dets, tenant, scan, id, h, int(f.Severity))
		}
	}
	// Multi-row inserts: one round trip per batch instead of per row.
	const rowsPerInsert = 100
	for i := 0; i < len(inserts); i += rowsPerInsert {
		batch := inserts[i:min(i+rowsPerInsert, len(inserts))]
		var args []any
		for _, f := range batch {
			args = append(args, findingArgs(f)...)
		}
		if _, err := tx.Exec(ctx, insertFindings(len(batch)), args...); err != nil {
			return 0, 0, 0, fmt.Errorf("insert findings: %w", err)
		}
	}
	const detCols = 5
	for i := 0; i < len(dets); i += 500 * detCols {
		batch := dets[i:min(i+500*detCols, len(dets))]
		q := "INSERT INTO vuln_detections (tenant, scan_id, finding_id, source_hash, severity) VALUES " +
			strings.TrimSuffix(strings.Repeat("("+store.Placeholders(detCols)+"), ", len(batch)/detCols), ", ") +
			" ON CONFLICT (tenant, scan_id, source_hash) DO NOTHING"
		if _, err := tx.Exec(ctx, q, batch...); err != nil {
			return 0, 0, 0, fmt.Errorf("insert detections: %w", err)
		}
	}
	return created, updated, reopened, nil
}

// Get returns one finding.
func (s *Service) Get(ctx context.Context, tenant, id string) (Finding, error) {
	f, err := scanFinding(s.db.QueryRow(ctx, selectFindings+` WHERE tenant = ? AND id = ?`, tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return f, fmt.Errorf("finding %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return f, fmt.Errorf("read finding %s: %w", id, err)
	}
	return f, nil
}

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

// List returns findings ordered by priority, severity and id (all
// descending, so that the cursor is one row-value comparison an index
// answers), a page at a
// time (keyset pagination, so deep pages cost what the first does).
func (s *Service) List(ctx context.Context, tenant string, f Filter) (Page, error) {
	q := selectFindings + ` WHERE tenant = ?`
	args := []any{tenant}
	if len(f.States) > 0 {
		q += ` AND state IN (` + store.Placeholders(len(f.States)) + `)`
		for _, st := range f.States {
			if !st.Valid() {
				return Page{}, errorf("state %q", st)
			}
			args = append(args, string(st))
		}
	}
	if f.MinSeverity > report.SeverityUnknown {
		q += ` AND severity >= ?`
		args = append(args, int(f.MinSeverity))
	}
	if f.Priority != DecisionNone {
		q += ` AND priority = ?`
		args = append(args, string(f.Priority))
	}
	for col, v := range map[string]string{"asset_id": f.AssetID, "vuln_id": f.VulnID, "source": f.Source} {
		if v != "" {
			q += ` AND ` + col + ` = ?`
			args = append(args, v)
		}
	}
	if f.KEV {
		q += ` AND kev = 1`
	}
	if f.Overdue {
		q += ` AND sla_breached = 1`
	}
	if f.After != "" {
		var rank, sev int
		var id string
		if _, err := fmt.Sscanf(f.After, "%d.%d.%s", &rank, &sev, &id); err != nil {
			return Page{}, errorf("cursor %q", f.After)
		}
		q += ` AND (priority_rank, severity, id) < (?, ?, ?)`
		args = append(args, rank, sev, id)
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	f.Limit = min(f.Limit, 1000)
	q += fmt.Sprintf(` ORDER BY priority_rank DESC, severity DESC, id DESC LIMIT %d`, f.Limit+1)
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return Page{}, fmt.Errorf("list findings: %w", err)
	}
	defer rows.Close()
	var p Page
	for rows.Next() {
		x, err := scanFinding(rows)
		if err != nil {
			return Page{}, fmt.Errorf("list findings: %w", err)
		}
		p.Findings = append(p.Findings, x)
	}
	if err := rows.Err(); err != nil {
		return Page{}, fmt.Errorf("list findings: %w", err)
	}
	if len(p.Findings) > f.Limit {
		p.Findings = p.Findings[:f.Limit]
		last := p.Findings[len(p.Findings)-1]
		p.Next = fmt.Sprintf("%d.%d.%s", last.Priority.Rank(), int(last.Severity), last.ID)
	}
	return p, nil
}
