package soar

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/wacht-soc/wacht/internal/store"
)

// Schedule is a parsed `on.schedule.cron`.
type Schedule interface {
	// Next is the first fire time after t (zero: never).
	Next(t time.Time) time.Time
}

// minScheduleInterval bounds how often an @every schedule fires.
const minScheduleInterval = time.Minute

// ParseCron reads a standard five-field cron expression (minute hour
// day-of-month month day-of-week), a descriptor (@hourly, @daily,
// @weekly, @monthly, @yearly, @every 15m), optionally prefixed by
// CRON_TZ=Area/City. Times are UTC unless a zone is named.
func ParseCron(spec string) (_ Schedule, err error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("empty schedule")
	}
	if len(spec) > 200 {
		return nil, errors.New("schedule longer than 200 characters")
	}
	if (strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=")) && !strings.Contains(spec, " ") {
		return nil, fmt.Errorf("schedule %q: a time zone must be followed by the fields", spec)
	}
	defer func() {
		// The parser must not take the process down on odd input.
		if r := recover(); r != nil {
			err = fmt.Errorf("schedule %q: not a cron expression", spec)
		}
	}()
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %v (want five fields: minute hour day-of-month month day-of-week)", spec, err)
	}
	if cd, ok := sched.(cron.ConstantDelaySchedule); ok && cd.Delay < minScheduleInterval {
		return nil, fmt.Errorf("schedule %q: fires more often than every %s", spec, minScheduleInterval)
	}
	if sched.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, fmt.Errorf("schedule %q never fires", spec)
	}
	return sched, nil
}

// ScheduleState is the durable state of a scheduled playbook.
type ScheduleState struct {
	Playbook string    `json:"playbook"`
	Cron     string    `json:"cron"`
	NextAt   time.Time `json:"next_at"`
	LastAt   time.Time `json:"last_at,omitzero"`
}

// syncSchedule makes the playbook's schedule row match its latest version:
// a new or changed cron starts from now, an unchanged one keeps its next
// fire time, a removed one is deleted.
func (s *Service) syncSchedule(ctx context.Context, tx *store.Tx, tenant string, pb *Playbook, now time.Time) error {
	tr, ok := pb.On[TriggerSchedule]
	if !ok {
		_, err := tx.Exec(ctx, "DELETE FROM soar_schedules WHERE tenant = ? AND playbook = ?", tenant, pb.Name)
		return err
	}
	var old string
	err := tx.QueryRow(ctx, "SELECT cron FROM soar_schedules WHERE tenant = ? AND playbook = ?", tenant, pb.Name).Scan(&old)
	if err == nil && old == tr.Cron {
		return nil
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	sched, perr := ParseCron(tr.Cron)
	if perr != nil {
		return perr
	}
	next := sched.Next(now).UTC()
	if errors.Is(err, sql.ErrNoRows) {
		_, err = tx.Exec(ctx, "INSERT INTO soar_schedules (tenant, playbook, cron, next_at, last_at, version) VALUES (?, ?, ?, ?, ?, 1)",
			tenant, pb.Name, tr.Cron, store.TimeOf(next), store.Timestamp{})
		return err
	}
	_, err = tx.Exec(ctx, "UPDATE soar_schedules SET cron = ?, next_at = ?, version = version + 1 WHERE tenant = ? AND playbook = ?",
		tr.Cron, store.TimeOf(next), tenant, pb.Name)
	return err
}

// Schedules lists the tenant's scheduled playbooks with their next fire
// time.
func (s *Service) Schedules(ctx context.Context, tenant string) ([]ScheduleState, error) {
	rows, err := s.db.Query(ctx, "SELECT playbook, cron, next_at, last_at FROM soar_schedules WHERE tenant = ? ORDER BY next_at, playbook", tenant)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	defer rows.Close()
	out := []ScheduleState{}
	for rows.Next() {
		var st ScheduleState
		var next, last store.Timestamp
		if err := rows.Scan(&st.Playbook, &st.Cron, &next, &last); err != nil {
			return nil, fmt.Errorf("list schedules: %w", err)
		}
		st.NextAt, st.LastAt = next.Time, last.Time
		out = append(out, st)
	}
	return out, rows.Err()
}

type dueSchedule struct {
	tenant, playbook, cron string
	next                   time.Time
	version                int64
}

// fireSchedules starts the runs of schedules that are due. Each fire
// advances next_at (past now: fires missed while no runner was up are
// coalesced into one) in the transaction that inserts the run, guarded by
// the row's version, so exactly one runner fires it.
func (s *Service) fireSchedules(ctx context.Context) (int, error) {
	now := s.clock()
	rows, err := s.db.Query(ctx, "SELECT tenant, playbook, cron, next_at, version FROM soar_schedules WHERE next_at <= ? ORDER BY next_at LIMIT 100",
		store.TimeOf(now))
	if err != nil {
		return 0, fmt.Errorf("find due schedules: %w", err)
	}
	var due []dueSchedule
	for rows.Next() {
		var d dueSchedule
		var next store.Timestamp
		if err := rows.Scan(&d.tenant, &d.playbook, &d.cron, &next, &d.version); err != nil {
			rows.Close()
			return 0, fmt.Errorf("find due schedules: %w", err)
		}
		d.next = next.Time
		due = append(due, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("find due schedules: %w", err)
	}
	fired := 0
	for _, d := range due {
		ok, err := s.fire(ctx, d, now)
		if err != nil {
			if ctx.Err() != nil {
				return fired, ctx.Err()
			}
			s.log.Error("playbook_schedule_failed", "tenant", d.tenant, "playbook", d.playbook, "err", err)
			continue
		}
		if ok {
			fired++
		}
	}
	if fired > 0 {
		s.poke()
	}
	return fired, nil
}

// fire starts one due schedule's run; false if another runner did.
func (s *Service) fire(ctx context.Context, d dueSchedule, now time.Time) (bool, error) {
	next := time.Time{}
	if sched, err := ParseCron(d.cron); err == nil {
		next = sched.Next(now).UTC()
	}
	if next.IsZero() {
		next = now.Add(100 * 365 * 24 * time.Hour) // never again
	}
	advance := func(ctx context.Context, q store.Querier) (bool, error) {
		res, err := q.Exec(ctx, "UPDATE soar_schedules SET next_at = ?, last_at = ?, version = version + 1 WHERE tenant = ? AND playbook = ? AND version = ?",
			store.TimeOf(next), store.TimeOf(d.next), d.tenant, d.playbook, d.version)
		if err != nil {
			return false, err
		}
		n, err := res.RowsAffected()
		return n == 1, err
	}
	var run Run
	won := false
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if won, err = advance(ctx, tx); err != nil || !won {
			return err
		}
		vars := map[string]any{"schedule": map[string]any{"cron": d.cron, "time": d.next.Format(time.RFC3339), "fired_at": now.Format(time.RFC3339Nano)}}
		run, _, _, err = s.startRunTx(ctx, tx, d.tenant, StartRequest{Playbook: d.playbook, Trigger: TriggerSchedule,
			Subject: d.next.Format(time.RFC3339), Actor: "schedule", Vars: vars}, false)
		return err
	})
	if err != nil {
		// The playbook cannot start (inputs without defaults…): skip this
		// fire rather than retry it every poll.
		if _, aerr := advance(ctx, s.db); aerr != nil {
			return false, errors.Join(err, aerr)
		}
		return false, fmt.Errorf("start scheduled run of %s: %w", d.playbook, err)
	}
	if won {
		s.log.Info("playbook_run_started", "tenant", d.tenant, "run", run.ID, "playbook", d.playbook, "version", run.PlaybookVersion,
			"trigger", TriggerSchedule, "scheduled", d.next)
	}
	return won, nil
}
