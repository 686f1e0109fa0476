package comply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/store"
)

// Assessment is a person's judgement of one requirement: applicability
// (an exclusion needs a justification), a manual result for what no check
// covers, and TISAX's maturity level 0–5.
type Assessment struct {
	Framework     string    `json:"framework"`
	Requirement   string    `json:"requirement"`
	Applicable    bool      `json:"applicable"`
	Justification string    `json:"justification"`
	Result        Status    `json:"result,omitempty"`
	Maturity      int       `json:"maturity"`
	Note          string    `json:"note,omitempty"`
	Assessor      string    `json:"assessor"`
	AssessedAt    time.Time `json:"assessed_at"`
	Version       int64     `json:"version"`
}

// SetAssessment creates or updates (with optimistic concurrency on
// Version; 0 creates) a requirement's assessment.
func (s *Service) SetAssessment(ctx context.Context, tenant string, a Assessment, actor string) (Assessment, error) {
	cat, err := s.Catalog(ctx, tenant, a.Framework)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Assessment{}, invalidf("unknown framework %s", a.Framework)
		}
		return Assessment{}, err
	}
	if _, ok := cat.Find(a.Requirement); !ok {
		return Assessment{}, invalidf("unknown requirement %s in %s", a.Requirement, a.Framework)
	}
	if !a.Applicable && len(strings.TrimSpace(a.Justification)) < 10 {
		return Assessment{}, invalidf("an exclusion needs a justification (at least 10 characters)")
	}
	switch a.Result {
	case "", StatusPass, StatusFail, StatusNotApplicable:
	case StatusError, StatusWaived, StatusUnknown:
		return Assessment{}, invalidf("manual result %q: want pass, fail or not_applicable", a.Result)
	default:
		return Assessment{}, invalidf("manual result %q: want pass, fail or not_applicable", a.Result)
	}
	if a.Maturity < 0 || a.Maturity > 5 {
		return Assessment{}, invalidf("maturity must be 0–5")
	}
	a.Assessor, a.AssessedAt = actor, s.Now().Truncate(time.Microsecond)
	applicable := 0
	if a.Applicable {
		applicable = 1
	}
	if a.Version == 0 {
		_, err = s.db.Exec(ctx, `INSERT INTO comply_assessments (tenant, framework, requirement, applicable, justification, result,
			maturity, note, assessor, assessed_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`,
			tenant, a.Framework, a.Requirement, applicable, a.Justification, string(a.Result), a.Maturity, a.Note, actor, store.TimeOf(a.AssessedAt))
		if store.IsUniqueViolation(err) {
			return Assessment{}, fmt.Errorf("assess %s %s: %w", a.Framework, a.Requirement, store.ErrConflict)
		}
		a.Version = 1
	} else {
		var res interface {
			RowsAffected() (int64, error)
		}
		res, err = s.db.Exec(ctx, `UPDATE comply_assessments SET applicable = ?, justification = ?, result = ?, maturity = ?, note = ?,
			assessor = ?, assessed_at = ?, version = version + 1 WHERE tenant = ? AND framework = ? AND requirement = ? AND version = ?`,
			applicable, a.Justification, string(a.Result), a.Maturity, a.Note, actor, store.TimeOf(a.AssessedAt),
			tenant, a.Framework, a.Requirement, a.Version)
		if err == nil {
			if n, _ := res.RowsAffected(); n == 0 {
				err = store.ErrConflict
			}
		}
		a.Version++
	}
	if err != nil {
		return Assessment{}, fmt.Errorf("assess %s %s: %w", a.Framework, a.Requirement, err)
	}
	s.publish(ctx, "compliance.assessed", tenant, a.Framework+"/"+a.Requirement, actor, a)
	return a, nil
}

// Assessments returns the framework's assessments by requirement.
func (s *Service) Assessments(ctx context.Context, tenant, framework string) (map[string]Assessment, error) {
	rows, err := s.db.Query(ctx, `SELECT framework, requirement, applicable, justification, result, maturity, note, assessor, assessed_at, version
		FROM comply_assessments WHERE tenant = ? AND framework = ?`, tenant, framework)
	if err != nil {
		return nil, fmt.Errorf("read assessments: %w", err)
	}
	defer rows.Close()
	out := map[string]Assessment{}
	for rows.Next() {
		var a Assessment
		var applicable int
		var res string
		var at store.Timestamp
		if err := rows.Scan(&a.Framework, &a.Requirement, &applicable, &a.Justification, &res, &a.Maturity, &a.Note, &a.Assessor, &at, &a.Version); err != nil {
			return nil, fmt.Errorf("read assessments: %w", err)
		}
		a.Applicable, a.Result, a.AssessedAt = applicable != 0, Status(res), at.Time
		out[a.Requirement] = a
	}
	return out, rows.Err()
}

// ControlRow is one requirement as a framework view shows it: the SoA's
// rows, the NIS2 and TISAX status tables.
type ControlRow struct {
	ID            string `json:"id"`
	Title         string `json:"title"`
	Group         string `json:"group,omitempty"`
	National      string `json:"national,omitempty"`
	Applicable    bool   `json:"applicable"`
	Justification string `json:"justification,omitempty"`
	// Status: from the checks' results when any check covers the
	// requirement, else from the manual assessment, else unknown.
	Status   Status   `json:"status"`
	Source   string   `json:"source"` // "checks", "assessment", "none"
	Maturity int      `json:"maturity,omitempty"`
	Checks   []string `json:"checks,omitempty"`
	Evidence []string `json:"evidence,omitempty"`
	Passing  int64    `json:"passing"`
	Failing  int64    `json:"failing"`
	Waived   int64    `json:"waived"`
}

// View is a framework's requirements with their status at a time.
type View struct {
	Framework string         `json:"framework"`
	Name      string         `json:"name"`
	Licence   string         `json:"licence"`
	At        time.Time      `json:"at"`
	RunID     string         `json:"run_id,omitempty"`
	Rows      []ControlRow   `json:"rows"`
	Summary   map[Status]int `json:"summary"`
}

// FrameworkView builds the status table of a framework at time at from the
// newest run at or before it, the assessments and the evidence. For ISO
// 27001 it is the Statement of Applicability (all 93 controls).
func (s *Service) FrameworkView(ctx context.Context, tenant, framework string, at time.Time) (View, error) {
	return s.FrameworkViewSince(ctx, tenant, framework, time.Time{}, at)
}

// FrameworkViewSince is FrameworkView using only runs evaluated at or
// after since (a report's period, an auditor's window): older results
// never show.
func (s *Service) FrameworkViewSince(ctx context.Context, tenant, framework string, since, at time.Time) (View, error) {
	if at.IsZero() {
		at = s.Now()
	}
	cat, err := s.Catalog(ctx, tenant, framework)
	if err != nil {
		return View{}, err
	}
	key := frameworkKey(cat)
	v := View{Framework: cat.ID, Name: cat.Name, Licence: cat.Licence, At: at.UTC().Truncate(time.Second), Summary: map[Status]int{}}
	statuses := map[string]RequirementStatus{}
	run, sts, err := s.statusOfSince(ctx, tenant, key, since, at)
	switch {
	case err == nil:
		v.RunID = run.ID
		for _, st := range sts {
			statuses[st.Requirement] = st
		}
	case errors.Is(err, store.ErrNotFound):
	default:
		return View{}, err
	}
	assess, err := s.Assessments(ctx, tenant, cat.ID)
	if err != nil {
		return View{}, err
	}
	ev, err := s.ListEvidence(ctx, tenant, EvidenceFilter{Framework: cat.ID})
	if err != nil {
		return View{}, err
	}
	evBy := map[string][]string{}
	for _, e := range ev {
		evBy[e.Requirement] = append(evBy[e.Requirement], e.ID)
	}
	b, err := s.Bundle(ctx, tenant)
	if err != nil {
		return View{}, err
	}
	checks := checksByRequirement(b)
	for _, r := range cat.Requirements {
		row := ControlRow{ID: r.ID, Title: r.Title, Group: r.Group, National: r.National, Applicable: true,
			Status: StatusUnknown, Source: "none", Checks: checks[Mapping{key, r.ID}], Evidence: evBy[r.ID]}
		a, assessed := assess[r.ID]
		if assessed {
			row.Applicable, row.Justification, row.Maturity = a.Applicable, a.Justification, a.Maturity
		}
		switch st, ok := statuses[r.ID]; {
		case !row.Applicable:
			row.Status, row.Source = StatusNotApplicable, "assessment"
		case ok:
			row.Status, row.Source = st.Status, "checks"
			row.Passing, row.Failing, row.Waived = st.Passing, st.Failing, st.Waived
		case assessed && a.Result != "":
			row.Status, row.Source = a.Result, "assessment"
		}
		v.Summary[row.Status]++
		v.Rows = append(v.Rows, row)
	}
	return v, nil
}
