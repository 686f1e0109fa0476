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
	var dets, same []any
	old := map[string]existing{}
	vals := make([]any, len(ids))
	for i, id := range ids {
		vals[i] = id
	}
	// By id alone: the primary key answers it, while a tenant term lets
	// SQLite (before ANALYZE has run) walk a tenant-wide index instead.
	// Ids hash the tenant, so another tenant's row cannot match.
	in, args := inList(nil, vals)
	rows, err := tx.Query(ctx, `SELECT id, tenant, state, first_seen FROM vuln_findings WHERE id IN (`+in+`)`, args...)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("read findings: %w", err)
	}
	for rows.Next() {
		var id, ten, st string
		var first store.Timestamp
		if err := rows.Scan(&id, &ten, &st, &first); err != nil {
			rows.Close()
			return 0, 0, 0, err
		}
		if ten == tenant {
			old[id] = existing{State(st), first.Time}
		}
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
			updated++
			if st == ex.state {
				same = append(same, tenant, id, int(f.Severity), f.Title, f.Description, f.FixedVersion, f.CVSS3Vector, f.CVSS3Score,
					f.CVSS4Vector, f.CVSS4Score, f.EPSS, f.EPSSPercentile, boolInt(f.KEV), boolInt(f.ExploitAvailable),
					string(f.Priority), f.Priority.Rank(), string(f.Timeline), strings.Join(f.Reasons, "\n"), store.TimeOf(f.DueAt))
				continue
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
		}
		for _, h := range p.hashes {
			dets = append(dets, tenant, scan, id, h, f.AssetID, int(f.Severity))
		}
	}
	if err := updateSeen(ctx, tx, scan, now, same); err != nil {
		return 0, 0, 0, err
	}
	// Multi-row inserts: one round trip per batch instead of per row.
	rowArgs := make([]any, 0, len(inserts)*len(findingCols))
	for _, f := range inserts {
		rowArgs = append(rowArgs, findingArgs(f)...)
	}
	if err := insertMany(ctx, tx, "vuln_findings", findingCols, rowArgs, ""); err != nil {
		return 0, 0, 0, err
	}
	if err := insertMany(ctx, tx, "vuln_detections", []string{"tenant", "scan_id", "finding_id", "source_hash", "asset_id", "severity"}, dets,
		" ON CONFLICT (tenant, scan_id, finding_id, source_hash) DO NOTHING"); err != nil {
		return 0, 0, 0, err
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

// maxParams bounds the bound parameters of one statement (SQLite allows
// 32,766, PostgreSQL 65,535).
const maxParams = 30000

// insertMany inserts rows (each len(cols) values) with multi-row INSERT
// statements of at most maxParams parameters (and at most 1,000 rows);
// suffix follows the VALUES list (an ON CONFLICT clause or "").
func insertMany(ctx context.Context, tx *store.Tx, table string, cols []string, args []any, suffix string) error {
	per := min(maxParams/len(cols), 1000)
	one := "(" + store.Placeholders(len(cols)) + ")"
	head := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES "
	i := 0
	for _, n := range batchSizes(len(args)/len(cols), per) {
		q := head + strings.TrimSuffix(strings.Repeat(one+", ", n), ", ") + suffix
		if _, err := tx.Exec(ctx, q, args[i:i+n*len(cols)]...); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
		i += n * len(cols)
	}
	return nil
}

// valCol is a column set from a VALUES list, with the SQL type PostgreSQL
// needs to type a VALUES list of parameters.
type valCol struct{ name, typ string }

// seenCols are what a re-import refreshes on findings it sees again.
var seenCols = []valCol{{"severity", "INTEGER"}, {"title", "TEXT"}, {"description", "TEXT"},
	{"fixed_version", "TEXT"}, {"cvss3_vector", "TEXT"}, {"cvss3_score", "DOUBLE PRECISION"}, {"cvss4_vector", "TEXT"},
	{"cvss4_score", "DOUBLE PRECISION"}, {"epss", "DOUBLE PRECISION"}, {"epss_percentile", "DOUBLE PRECISION"}, {"kev", "INTEGER"},
	{"exploit_available", "INTEGER"}, {"priority", "TEXT"}, {"priority_rank", "INTEGER"}, {"timeline", "TEXT"}, {"reasons", "TEXT"},
	{"due_at", "TIMESTAMPTZ"}}

// updateSeen updates findings seen again in their state. args holds, per
// finding, its tenant and id then the seenCols values.
func updateSeen(ctx context.Context, tx *store.Tx, scan string, now time.Time, args []any) error {
	return updateValues(ctx, tx, "last_seen = ?, last_scan = ?, updated_at = ?, version = version + 1",
		[]any{store.TimeOf(now), scan, store.TimeOf(now)}, seenCols, args)
}

// updateValues updates many findings with one UPDATE … FROM (VALUES …)
// per batch instead of a statement per finding: set (with setArgs) applies
// to all, cols come from each row. args holds, per finding, its tenant and
// id then the cols values.
func updateValues(ctx context.Context, tx *store.Tx, set string, setArgs []any, cols []valCol, args []any) error {
	width := 2 + len(cols)
	if len(args) == 0 {
		return nil
	}
	var sets []string
	if set != "" {
		sets = append(sets, set)
	}
	first := []string{"CAST(? AS TEXT)", "CAST(? AS TEXT)"}
	for i, c := range cols {
		sets = append(sets, fmt.Sprintf("%s = v.column%d", c.name, i+3))
		switch {
		case c.typ != "TIMESTAMPTZ":
			first = append(first, "CAST(? AS "+c.typ+")")
		case tx.Dialect() == store.Postgres:
			first = append(first, "CAST(? AS TIMESTAMPTZ)")
		default:
			// SQLite keeps times as text; a cast to an unknown type
			// would make it numeric.
			first = append(first, "?")
		}
	}
	rest := "(" + store.Placeholders(width) + ")"
	i := 0
	for _, n := range batchSizes(len(args)/width, maxParams/width) {
		batch := args[i : i+n*width]
		i += n * width
		values := "(" + strings.Join(first, ", ") + ")" + strings.Repeat(", "+rest, n-1)
		q := `UPDATE vuln_findings SET ` + strings.Join(sets, ", ") + ` FROM (VALUES ` + values +
			`) AS v WHERE vuln_findings.tenant = v.column1 AND vuln_findings.id = v.column2`
		all := make([]any, 0, len(setArgs)+len(batch))
		all = append(append(all, setArgs...), batch...)
		if _, err := tx.Exec(ctx, q, all...); err != nil {
			return fmt.Errorf("update findings: %w", err)
		}
	}
	return nil
}
