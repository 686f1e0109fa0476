package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/store"
)

// FlagInput flags an incident for a regime.
type FlagInput struct {
	Regime Regime `json:"regime"`
	// AwareAt is when the entity became aware (NIS2: of a significant
	// incident; GDPR: of the breach; DORA: detection). Default: now.
	AwareAt time.Time `json:"aware_at,omitzero"`
	// ClassifiedAt is when the incident was classified as major (DORA).
	// Default: now.
	ClassifiedAt time.Time   `json:"classified_at,omitzero"`
	Facts        ReportFacts `json:"facts"`
}

const stageCols = "id, incident_id, regime, stage, position, status, due_at, submitted_at, submitted_by, reference, warned_at, overdue_at, version"

func (s *Service) scanStage(r rowScanner, now time.Time) (RegStage, error) {
	var st RegStage
	var regime, status string
	var due, sub, warned, over store.Timestamp
	if err := r.Scan(&st.ID, &st.IncidentID, &regime, &st.Stage, &st.Position, &status, &due, &sub, &st.SubmittedBy,
		&st.Reference, &warned, &over, &st.Version); err != nil {
		return st, err
	}
	st.Regime, st.Status = Regime(regime), StageStatus(status)
	st.Due, st.SubmittedAt, st.WarnedAt, st.OverdueAt = due.Time, sub.Time, warned.Time, over.Time
	if rd, ok := s.catalog.Regime(st.Regime); ok {
		if def, _, ok := rd.Stage(st.Stage); ok {
			st.Ref = def.Ref
		}
	}
	st.Overdue = st.Status == StagePending && !st.Due.IsZero() && !now.Before(st.Due)
	return st, nil
}

// Flag marks an incident as reportable under a regime and starts its
// clocks.
func (s *Service) Flag(ctx context.Context, tenant, incID string, in FlagInput, actor string) ([]RegStage, error) {
	rd, ok := s.catalog.Regime(in.Regime)
	if !ok {
		return nil, userErrorf("regime %q: want nis2, gdpr or dora", in.Regime)
	}
	now := s.clock()
	if in.AwareAt.IsZero() {
		in.AwareAt = now
	}
	if in.ClassifiedAt.IsZero() && in.Regime == RegimeDORA {
		in.ClassifiedAt = now
	}
	if in.AwareAt.After(now) || in.ClassifiedAt.After(now) {
		return nil, userErrorf("aware_at and classified_at must not be in the future")
	}
	f := RegFlag{Regime: in.Regime, AwareAt: in.AwareAt.UTC(), ClassifiedAt: in.ClassifiedAt.UTC(), FlaggedBy: actor, FlaggedAt: now, Facts: in.Facts}
	err := s.touch(ctx, tenant, incID, actor, "flagged "+string(in.Regime), func(tx *store.Tx, inc *Incident) error {
		_, err := tx.Exec(ctx, `INSERT INTO case_reg_flags (tenant, incident_id, regime, aware_at, classified_at, flagged_by, flagged_at, facts)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, tenant, incID, string(f.Regime), store.TimeOf(f.AwareAt), store.TimeOf(f.ClassifiedAt), actor,
			store.TimeOf(now), mustJSON(f.Facts))
		if store.IsUniqueViolation(err) {
			return userErrorf("incident %s is already flagged %s", incID, in.Regime)
		}
		if err != nil {
			return fmt.Errorf("flag %s %s: %w", incID, in.Regime, err)
		}
		for i := range rd.Stages {
			def := &rd.Stages[i]
			switch def.Anchor {
			case AnchorRequest, AnchorOngoing, AnchorHandled:
				continue // created when their event happens
			case AnchorAware, AnchorClassified, AnchorSubmitted:
			}
			due := dueOf(def, f, time.Time{})
			status := StagePending
			if due.IsZero() {
				status = StageAwaiting
			}
			if _, err := tx.Exec(ctx, `INSERT INTO case_reg_stages (tenant, id, incident_id, regime, stage, position, status, due_at, submitted_by, reference, version)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', '', 1)`, tenant, newID("rst_"), incID, string(f.Regime), def.ID, i+1, string(status), store.TimeOf(due)); err != nil {
				return fmt.Errorf("create stage %s of %s: %w", def.ID, incID, err)
			}
		}
		return addTimeline(ctx, tx, tenant, incID, now, "regulatory", actor, fmt.Sprintf("flagged: %s (%s), aware at %s", rd.Name, rd.LegalBasis, f.AwareAt.Format(time.RFC3339)), string(f.Regime))
	})
	if err != nil {
		return nil, err
	}
	return s.Stages(ctx, tenant, incID)
}

// Flags returns an incident's regulatory flags.
func (s *Service) Flags(ctx context.Context, tenant, incID string) ([]RegFlag, error) {
	rows, err := s.db.Query(ctx, "SELECT regime, aware_at, classified_at, flagged_by, flagged_at, facts FROM case_reg_flags WHERE tenant = ? AND incident_id = ? ORDER BY regime", tenant, incID)
	if err != nil {
		return nil, fmt.Errorf("flags of %s: %w", incID, err)
	}
	defer rows.Close()
	out := []RegFlag{}
	for rows.Next() {
		var f RegFlag
		var regime, facts string
		var aware, classified, flagged store.Timestamp
		if err := rows.Scan(&regime, &aware, &classified, &f.FlaggedBy, &flagged, &facts); err != nil {
			return nil, fmt.Errorf("flags of %s: %w", incID, err)
		}
		f.Regime, f.AwareAt, f.ClassifiedAt, f.FlaggedAt = Regime(regime), aware.Time, classified.Time, flagged.Time
		if err := fromJSON(facts, &f.Facts); err != nil {
			return nil, fmt.Errorf("flags of %s: %w", incID, err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// UpdateFacts replaces the report facts of a flag (the drafts follow).
func (s *Service) UpdateFacts(ctx context.Context, tenant, incID string, regime Regime, facts ReportFacts, actor string) error {
	return s.touch(ctx, tenant, incID, actor, "report facts "+string(regime), func(tx *store.Tx, inc *Incident) error {
		res, err := tx.Exec(ctx, "UPDATE case_reg_flags SET facts = ? WHERE tenant = ? AND incident_id = ? AND regime = ?", mustJSON(facts), tenant, incID, string(regime))
		if err != nil {
			return fmt.Errorf("update facts of %s: %w", incID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("flag %s of %s: %w", regime, incID, ErrNotFound)
		}
		return nil
	})
}

// Stages lists an incident's reporting stages.
func (s *Service) Stages(ctx context.Context, tenant, incID string) ([]RegStage, error) {
	return s.stages(ctx, s.db, tenant, incID)
}

func (s *Service) stages(ctx context.Context, q store.Querier, tenant, incID string) ([]RegStage, error) {
	rows, err := q.Query(ctx, "SELECT "+stageCols+" FROM case_reg_stages WHERE tenant = ? AND incident_id = ? ORDER BY regime, position, due_at, id", tenant, incID)
	if err != nil {
		return nil, fmt.Errorf("stages of %s: %w", incID, err)
	}
	defer rows.Close()
	now := s.clock()
	out := []RegStage{}
	for rows.Next() {
		st, err := s.scanStage(rows, now)
		if err != nil {
			return nil, fmt.Errorf("stages of %s: %w", incID, err)
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// SubmitStage records that a stage's report was submitted (when and by
// whom, with the authority's reference) and starts the stages anchored on
// it. A stage that was submitted may be submitted again (an updated
// intermediate report); stages after it then run from the latest
// submission.
func (s *Service) SubmitStage(ctx context.Context, tenant, incID string, regime Regime, stageID, reference, actor string) (RegStage, error) {
	rd, ok := s.catalog.Regime(regime)
	if !ok {
		return RegStage{}, userErrorf("regime %q: want nis2, gdpr or dora", regime)
	}
	if _, _, ok := rd.Stage(stageID); !ok {
		return RegStage{}, userErrorf("%s has no stage %q", regime, stageID)
	}
	now := s.clock()
	var out RegStage
	err := s.touch(ctx, tenant, incID, actor, "submitted "+string(regime)+" "+stageID, func(tx *store.Tx, inc *Incident) error {
		all, err := s.stages(ctx, tx, tenant, incID)
		if err != nil {
			return err
		}
		var target *RegStage
		for i := range all {
			st := &all[i]
			if st.Regime == regime && st.Stage == stageID && st.Status != StageAwaiting && st.Status != StageReplaced &&
				(target == nil || target.Status == StageSubmitted) {
				target = st
			}
		}
		if target == nil {
			return userErrorf("%s %s of %s cannot be submitted now (not flagged, not requested, or waiting for an earlier report)", regime, stageID, incID)
		}
		if _, err := store.UpdateVersioned(ctx, tx, "case_reg_stages", tenant, target.ID, target.Version,
			"status = ?, submitted_at = ?, submitted_by = ?, reference = ?", string(StageSubmitted), store.TimeOf(now), actor, reference); err != nil {
			return err
		}
		target.Status, target.SubmittedAt, target.SubmittedBy, target.Reference, target.Overdue = StageSubmitted, now, actor, reference, false
		target.Version++
		out = *target
		flag, err := s.flag(ctx, tx, tenant, incID, regime)
		if err != nil {
			return err
		}
		for _, st := range all {
			if st.Regime != regime || st.Status == StageSubmitted {
				continue
			}
			def, _, ok := rd.Stage(st.Stage)
			if !ok || def.Anchor != AnchorSubmitted || def.After != stageID {
				continue
			}
			due := dueOf(def, flag, now)
			if _, err := store.UpdateVersioned(ctx, tx, "case_reg_stages", tenant, st.ID, st.Version,
				"status = ?, due_at = ?, warned_at = NULL, overdue_at = NULL", string(StagePending), store.TimeOf(due)); err != nil {
				return err
			}
		}
		return addTimeline(ctx, tx, tenant, incID, now, "regulatory", actor, fmt.Sprintf("%s %s (%s) submitted, reference %q", regime, stageID, target.Ref, reference), target.ID)
	})
	return out, err
}

func (s *Service) flag(ctx context.Context, q store.Querier, tenant, incID string, regime Regime) (RegFlag, error) {
	var f RegFlag
	var facts string
	var aware, classified, flagged store.Timestamp
	err := q.QueryRow(ctx, "SELECT aware_at, classified_at, flagged_by, flagged_at, facts FROM case_reg_flags WHERE tenant = ? AND incident_id = ? AND regime = ?",
		tenant, incID, string(regime)).Scan(&aware, &classified, &f.FlaggedBy, &flagged, &facts)
	if errors.Is(err, sql.ErrNoRows) {
		return f, fmt.Errorf("flag %s of %s: %w", regime, incID, ErrNotFound)
	}
	if err != nil {
		return f, fmt.Errorf("flag %s of %s: %w", regime, incID, err)
	}
	f.Regime, f.AwareAt, f.ClassifiedAt, f.FlaggedAt = regime, aware.Time, classified.Time, flagged.Time
	return f, fromJSON(facts, &f.Facts)
}

// RequestStage records an authority's request for a report that is due on
// request (NIS2 intermediate report) with the due time it set.
func (s *Service) RequestStage(ctx context.Context, tenant, incID string, regime Regime, stageID string, due time.Time, actor string) (RegStage, error) {
	rd, ok := s.catalog.Regime(regime)
	if !ok {
		return RegStage{}, userErrorf("regime %q: want nis2, gdpr or dora", regime)
	}
	def, pos, ok := rd.Stage(stageID)
	if !ok || def.Anchor != AnchorRequest {
		return RegStage{}, userErrorf("%s stage %q is not one an authority requests", regime, stageID)
	}
	now := s.clock()
	if !due.After(now) {
		return RegStage{}, userErrorf("due must be in the future")
	}
	st := RegStage{ID: newID("rst_"), IncidentID: incID, Regime: regime, Stage: stageID, Ref: def.Ref, Position: pos, Status: StagePending, Due: due.UTC(), Version: 1}
	err := s.touch(ctx, tenant, incID, actor, "requested "+string(regime)+" "+stageID, func(tx *store.Tx, inc *Incident) error {
		if _, err := s.flag(ctx, tx, tenant, incID, regime); err != nil {
			return userErrorf("incident %s is not flagged %s", incID, regime)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO case_reg_stages (tenant, id, incident_id, regime, stage, position, status, due_at, submitted_by, reference, version)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', '', 1)`, tenant, st.ID, incID, string(regime), stageID, pos, string(StagePending), store.TimeOf(st.Due)); err != nil {
			return fmt.Errorf("request stage %s of %s: %w", stageID, incID, err)
		}
		return addTimeline(ctx, tx, tenant, incID, now, "regulatory", actor, fmt.Sprintf("%s %s requested, due %s", regime, stageID, st.Due.Format(time.RFC3339)), st.ID)
	})
	return st, err
}

// DeadlinePhase says whether deadline.due warns before or reports after.
type DeadlinePhase string

// Phases.
const (
	PhaseUpcoming DeadlinePhase = "upcoming"
	PhaseOverdue  DeadlinePhase = "overdue"
)

// DeadlineDue is the payload of deadline.due.
type DeadlineDue struct {
	IncidentID string        `json:"incident_id"`
	Regime     Regime        `json:"regime"`
	Stage      string        `json:"stage"`
	Ref        string        `json:"ref"`
	Due        time.Time     `json:"due"`
	Phase      DeadlinePhase `json:"phase"`
}

// tickDeadlines warns of pending stages and reports overdue ones.
func (s *Service) tickDeadlines(ctx context.Context, now time.Time) (int, error) {
	rows, err := s.db.Query(ctx, "SELECT tenant, "+stageCols+` FROM case_reg_stages WHERE status = 'pending' AND due_at IS NOT NULL AND
((warned_at IS NULL AND due_at <= ?) OR (overdue_at IS NULL AND due_at <= ?)) ORDER BY due_at LIMIT 1000`,
		store.TimeOf(now.Add(72*time.Hour)), store.TimeOf(now))
	if err != nil {
		return 0, fmt.Errorf("find due deadlines: %w", err)
	}
	type item struct {
		tenant string
		st     RegStage
	}
	var items []item
	for rows.Next() {
		var it item
		st, err := s.scanStage(scanPrefix{rows, &it.tenant}, now)
		if err != nil {
			rows.Close()
			return 0, fmt.Errorf("find due deadlines: %w", err)
		}
		it.st = st
		items = append(items, it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("find due deadlines: %w", err)
	}
	n := 0
	for _, it := range items {
		st := it.st
		span, err := s.stageSpan(ctx, it.tenant, st)
		if err != nil {
			return n, err
		}
		var phase DeadlinePhase
		switch {
		case !now.Before(st.Due) && st.OverdueAt.IsZero():
			replaced, err := s.replaceIfOngoing(ctx, it.tenant, st, now)
			if err != nil {
				return n, err
			}
			if replaced {
				n++
				continue
			}
			phase = PhaseOverdue
		case st.WarnedAt.IsZero() && !now.Before(st.Due.Add(-warnLead(span))):
			phase = PhaseUpcoming
		default:
			continue
		}
		set, args := "warned_at = ?", []any{store.TimeOf(now)}
		if phase == PhaseOverdue {
			set = "warned_at = COALESCE(warned_at, ?), overdue_at = ?"
			args = append(args, store.TimeOf(now))
		}
		if _, err := store.UpdateVersioned(ctx, s.db, "case_reg_stages", it.tenant, st.ID, st.Version, set, args...); err != nil {
			if errors.Is(err, ErrConflict) {
				continue // another node got it
			}
			return n, err
		}
		n++
		d := DeadlineDue{IncidentID: st.IncidentID, Regime: st.Regime, Stage: st.Stage, Ref: st.Ref, Due: st.Due, Phase: phase}
		s.publish(ctx, []bus.Event{{Type: EventDeadlineDue, Tenant: it.tenant, Subject: st.IncidentID, Actor: SystemActor, Data: d}})
		if phase == PhaseOverdue {
			s.log.Warn("regulatory_deadline_missed", "tenant", it.tenant, "incident", st.IncidentID, "regime", st.Regime, "stage", st.Stage, "due", st.Due)
		}
	}
	return n, nil
}

// stageSpan is the time between a stage's anchor and its due time (for
// the warning lead).
func (s *Service) stageSpan(ctx context.Context, tenant string, st RegStage) (time.Duration, error) {
	rd, ok := s.catalog.Regime(st.Regime)
	if !ok {
		return 24 * time.Hour, nil
	}
	def, _, ok := rd.Stage(st.Stage)
	if !ok || def.Deadline.IsZero() {
		return 24 * time.Hour, nil
	}
	f, err := s.flag(ctx, s.db, tenant, st.IncidentID, st.Regime)
	if err != nil {
		return def.Deadline.Approx(), nil
	}
	var anchor time.Time
	switch def.Anchor {
	case AnchorAware:
		anchor = f.AwareAt
	case AnchorClassified:
		anchor = f.ClassifiedAt
	case AnchorSubmitted, AnchorRequest, AnchorOngoing, AnchorHandled:
		return def.Deadline.Approx(), nil
	}
	if anchor.IsZero() || !st.Due.After(anchor) {
		return def.Deadline.Approx(), nil
	}
	return st.Due.Sub(anchor), nil
}

type scanPrefix struct {
	r     rowScanner
	first any
}

func (p scanPrefix) Scan(dest ...any) error { return p.r.Scan(append([]any{p.first}, dest...)...) }

func yesNo(b *bool, unknown string) string {
	if b == nil {
		return unknown
	}
	if *b {
		return "yes"
	}
	return "no"
}

// replaceIfOngoing handles a stage falling due while its incident is still
// open when the catalog has a stage anchored "ongoing" after it (NIS2: a
// progress report is due at that time, and the final report one month
// after the incident is handled). It reports whether it replaced st.
func (s *Service) replaceIfOngoing(ctx context.Context, tenant string, st RegStage, now time.Time) (bool, error) {
	rd, ok := s.catalog.Regime(st.Regime)
	if !ok {
		return false, nil
	}
	var ongoing []*StageDef
	var positions []int
	for i := range rd.Stages {
		if rd.Stages[i].Anchor == AnchorOngoing && rd.Stages[i].After == st.Stage {
			ongoing = append(ongoing, &rd.Stages[i])
			positions = append(positions, i+1)
		}
	}
	if len(ongoing) == 0 {
		return false, nil
	}
	var evs []bus.Event
	replaced := false
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		evs, replaced = nil, false
		inc, err := s.loadIncident(ctx, tx, tenant, st.IncidentID)
		if err != nil {
			return err
		}
		if inc.Status == StatusClosed {
			return nil
		}
		if _, err := store.UpdateVersioned(ctx, tx, "case_reg_stages", tenant, st.ID, st.Version, "status = ?", string(StageReplaced)); err != nil {
			return err
		}
		for i, def := range ongoing {
			id := newID("rst_")
			if _, err := tx.Exec(ctx, `INSERT INTO case_reg_stages (tenant, id, incident_id, regime, stage, position, status, due_at, submitted_by, reference, warned_at, overdue_at, version)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', '', ?, ?, 1)`, tenant, id, st.IncidentID, string(st.Regime), def.ID, positions[i], string(StagePending),
				store.TimeOf(st.Due), store.TimeOf(now), store.TimeOf(now)); err != nil {
				return fmt.Errorf("create stage %s of %s: %w", def.ID, st.IncidentID, err)
			}
			evs = append(evs, bus.Event{Type: EventDeadlineDue, Tenant: tenant, Subject: st.IncidentID, Actor: SystemActor,
				Data: DeadlineDue{IncidentID: st.IncidentID, Regime: st.Regime, Stage: def.ID, Ref: def.Ref, Due: st.Due, Phase: PhaseOverdue}})
		}
		for i := range rd.Stages {
			def := &rd.Stages[i]
			if def.Anchor != AnchorHandled {
				continue
			}
			if _, err := tx.Exec(ctx, `INSERT INTO case_reg_stages (tenant, id, incident_id, regime, stage, position, status, submitted_by, reference, version)
VALUES (?, ?, ?, ?, ?, ?, ?, '', '', 1)`, tenant, newID("rst_"), st.IncidentID, string(st.Regime), def.ID, i+1, string(StageAwaiting)); err != nil {
				return fmt.Errorf("create stage %s of %s: %w", def.ID, st.IncidentID, err)
			}
		}
		replaced = true
		return addTimeline(ctx, tx, tenant, st.IncidentID, now, "regulatory", SystemActor,
			fmt.Sprintf("%s %s fell due while the incident is ongoing: progress report due now, final report one month after handling", st.Regime, st.Stage), st.ID)
	})
	if errors.Is(err, ErrConflict) {
		return true, nil // another node did it
	}
	if err != nil {
		return false, err
	}
	s.publish(ctx, evs)
	return replaced, nil
}

// startHandledStages starts the stages that run from the incident's
// closing (inside the closing transaction).
func (s *Service) startHandledStages(ctx context.Context, tx *store.Tx, inc *Incident, now time.Time) error {
	sts, err := s.stages(ctx, tx, inc.Tenant, inc.ID)
	if err != nil {
		return err
	}
	for _, st := range sts {
		if st.Status != StageAwaiting {
			continue
		}
		rd, ok := s.catalog.Regime(st.Regime)
		if !ok {
			continue
		}
		def, _, ok := rd.Stage(st.Stage)
		if !ok || def.Anchor != AnchorHandled {
			continue
		}
		if _, err := store.UpdateVersioned(ctx, tx, "case_reg_stages", inc.Tenant, st.ID, st.Version,
			"status = ?, due_at = ?", string(StagePending), store.TimeOf(def.Deadline.AddTo(now))); err != nil {
			return err
		}
	}
	return nil
}
