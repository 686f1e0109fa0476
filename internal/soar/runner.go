package soar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/store"
)

// loop claims due steps and executes them on up to Workers goroutines.
// Runs started on this node hand their first step over directly (already
// leased, see startRun), so most runs need no claim.
func (s *Service) loop(ctx context.Context) {
	sem := make(chan struct{}, s.opts.Workers)
	freed := make(chan struct{}, s.opts.Workers)
	poll := time.NewTicker(s.opts.Poll)
	defer poll.Stop()
	start := func(ref stepRef) {
		sem <- struct{}{}
		s.active.Add(1)
		go func() {
			defer func() { <-sem; s.active.Done(); freed <- struct{}{} }()
			s.execute(ctx, ref)
		}()
	}
	batch := max(1, s.opts.Workers/4)
	claimNow, backlog := true, false
	for {
		if claimNow {
			free := cap(sem) - len(sem)
			backlog = free == 0
			if free > 0 {
				ids, err := s.claim(ctx, free)
				if err != nil && ctx.Err() == nil {
					s.log.Error("playbook_claim_failed", "err", err)
				}
				backlog = len(ids) == free // maybe more is due
				for _, id := range ids {
					start(stepRef{id: id})
				}
			}
		}
		claimNow = true
		select {
		case <-ctx.Done():
			return
		case ref := <-s.handoff:
			<-s.slots
			start(ref)
			claimNow = false
		case <-freed:
			// A worker is free: claim only if due work may be waiting,
			// and then for a few workers at once (one claim transaction
			// per step would cost as much as the step).
			claimNow = backlog && (cap(sem)-len(sem) >= batch || len(sem) == 0)
		case <-s.wake:
		case <-poll.C:
			if err := s.sweepRuns(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("playbook_sweep_failed", "err", err)
			}
			if _, err := s.fireSchedules(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("playbook_schedules_failed", "err", err)
			}
		}
	}
}

// RunDue executes due steps on the calling goroutine until none is left
// (tests and tools drive the engine with it and a fake clock).
func (s *Service) RunDue(ctx context.Context) (int, error) {
	n := 0
	for {
		if err := s.sweepRuns(ctx); err != nil {
			return n, err
		}
		if _, err := s.fireSchedules(ctx); err != nil {
			return n, err
		}
		ids, err := s.claim(ctx, 16)
		if err != nil || len(ids) == 0 {
			return n, err
		}
		for _, id := range ids {
			s.execute(ctx, stepRef{id: id})
			n++
		}
	}
}

// claim leases up to n due steps: ready ones, waiting ones whose deadline
// passed, and running ones whose runner's lease expired.
func (s *Service) claim(ctx context.Context, n int) ([]string, error) {
	now := s.clock()
	return s.db.Claim(ctx, store.ClaimSpec{
		Table: "soar_steps", Tenant: store.AnyTenant,
		Where:   "status IN (?, ?, ?) AND run_at <= ? AND (lease_until IS NULL OR lease_until <= ?)",
		Args:    []any{string(StepReady), string(StepRunning), string(StepWaiting), store.TimeOf(now), store.TimeOf(now)},
		OrderBy: "run_at, id", Limit: n,
		Set: claimSet, SetArgs: s.claimArgs(now),
	})
}

// claimSet leases a step to this node; a ready step becomes running.
const claimSet = "lease_owner = ?, lease_until = ?, status = CASE WHEN status = 'ready' THEN 'running' ELSE status END, " +
	"started_at = COALESCE(started_at, ?), version = version + 1"

func (s *Service) claimArgs(now time.Time) []any {
	return []any{s.node, store.TimeOf(now.Add(s.opts.Lease)), store.TimeOf(now)}
}

// recover releases the leases this node held when it stopped, so its
// interrupted steps run again at once (same attempt, same idempotency key).
func (s *Service) recover(ctx context.Context) error {
	res, err := s.db.Exec(ctx, "UPDATE soar_steps SET lease_until = NULL, version = version + 1 WHERE lease_owner = ? AND lease_until IS NOT NULL AND status IN (?, ?)",
		s.node, string(StepReady), string(StepRunning))
	if err != nil {
		return fmt.Errorf("recover steps of %s: %w", s.node, err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		s.log.Info("playbook_steps_recovered", "node", s.node, "steps", n)
	}
	return nil
}

// execute runs one claimed step, then the steps of its run that its end
// made ready and leased to this worker.
func (s *Service) execute(ctx context.Context, ref stepRef) {
	for ref.id != "" {
		next, err := s.executeStep(ctx, ref)
		if err != nil && ctx.Err() == nil && !errors.Is(err, store.ErrConflict) {
			s.log.Error("playbook_step_failed_internally", "step", ref.id, "err", err)
		}
		ref = next
	}
}

func (s *Service) executeStep(ctx context.Context, ref stepRef) (next stepRef, err error) {
	if ref.tenant == "" { // claimed: the row says whose it is
		st, err := getStep(ctx, s.db, ref.id)
		if err != nil {
			return stepRef{}, err
		}
		if st.leaseOwner != s.node {
			return stepRef{}, nil
		}
		ref.tenant = st.tenant
	}
	runID, _, _ := strings.Cut(ref.id, ":")
	run, steps, err := loadRun(ctx, s.db, ref.tenant, runID)
	if err != nil {
		return stepRef{}, err
	}
	var st StepState
	for i := range steps {
		if steps[i].id == ref.id {
			st = steps[i]
		}
	}
	if st.id == "" {
		return stepRef{}, fmt.Errorf("step %s: %w", ref.id, store.ErrNotFound)
	}
	if st.leaseOwner != s.node {
		return stepRef{}, nil
	}
	id, err := s.executeLoaded(ctx, run, steps, st)
	return stepRef{tenant: run.Tenant, id: id}, err
}

// stepRef names a step row; the tenant is empty when only the id is known.
type stepRef struct{ tenant, id string }

func (s *Service) executeLoaded(ctx context.Context, run Run, steps []StepState, st StepState) (next string, err error) {
	if run.Status.Terminal() {
		// The run failed elsewhere: park the step (a retry revives it).
		_, err := store.UpdateVersioned(ctx, s.db, "soar_steps", st.tenant, st.id, st.Version,
			"status = ?, lease_owner = '', lease_until = NULL", string(StepPending))
		return "", err
	}
	pb, _, err := s.playbook(ctx, s.db, run.Tenant, run.Playbook, run.PlaybookVersion)
	if err != nil {
		return "", err
	}
	idx := pb.StepIndex(st.StepID)
	if idx < 0 {
		return "", fmt.Errorf("step %s not in playbook %s v%d", st.StepID, run.Playbook, run.PlaybookVersion)
	}
	step := &pb.Steps[idx]
	info, ok := LookupAction(step.Uses)
	if !ok {
		return s.finish(ctx, run, pb, st, StepFailed, nil, fmt.Sprintf("action %s is not available on this node", step.Uses), "")
	}
	if st.Status == StepWaiting {
		return s.timeout(ctx, run, pb, st)
	}

	vars, err := runVars(run, steps)
	if err != nil {
		return "", err
	}
	// Secrets are opened only for what runs: the condition's first, the
	// configuration's once the condition holds.
	mask, err := s.addSecrets(ctx, run.Tenant, vars, nil, secretNames(nil, step.If))
	if err != nil {
		return s.finish(ctx, run, pb, st, StepFailed, nil, err.Error(), "")
	}
	if step.If != "" {
		ok, err := s.progs.cond(step.If, vars)
		if err != nil {
			return s.finish(ctx, run, pb, st, StepFailed, nil, mask.text(err.Error()), "")
		}
		if !ok {
			return s.finish(ctx, run, pb, st, StepSkipped, nil, "", "")
		}
	}
	if mask, err = s.addSecrets(ctx, run.Tenant, vars, mask, secretNames(step.With)); err != nil {
		return s.finish(ctx, run, pb, st, StepFailed, nil, err.Error(), "")
	}
	if step.ForEach != "" {
		return s.forEach(ctx, run, pb, step, st, info, vars, mask)
	}
	rendered, err := s.progs.render(step.With, vars)
	if err != nil {
		return s.finish(ctx, run, pb, st, StepFailed, nil, mask.text(err.Error()), "")
	}
	with, _ := rendered.(map[string]any)
	input := mask.json(with)
	act, err := DecodeAction(info, with)
	if err != nil {
		return s.finish(ctx, run, pb, st, StepFailed, nil, mask.text(err.Error()), input)
	}
	now := s.clock()
	if p, ok := act.(Pauser); ok {
		pause := p.Pause()
		if run.DryRun {
			return s.finish(ctx, run, pb, st, StepSucceeded, map[string]any{"dry_run": true, "approved": pause.Role != ""}, "", input)
		}
		return s.pause(ctx, run, st, pause, mask, input, now)
	}
	if run.DryRun && info.SideEffects {
		return s.finish(ctx, run, pb, st, StepSucceeded, map[string]any{"dry_run": true, "would": json.RawMessage(input)}, "", input)
	}
	timeout := stepTimeout(step)
	actx, cancel := context.WithTimeout(ctx, timeout)
	s.inflight.Store(st.id, cancel)
	defer s.inflight.Delete(st.id)
	hbDone := make(chan struct{})
	go func() { defer close(hbDone); s.heartbeat(actx, st) }()
	call := &Call{Tenant: run.Tenant, RunID: run.ID, StepID: st.StepID, Attempt: st.Attempt, Playbook: run.Playbook,
		IncidentID: run.IncidentID, AlertID: run.AlertID, DryRun: run.DryRun, Deps: &s.deps, Now: now,
		IdempotencyKey: fmt.Sprintf("%s/%s/%d", run.ID, st.StepID, st.Attempt)}
	out, runErr := act.Run(actx, call)
	cancel()
	<-hbDone
	if ctx.Err() != nil {
		// Stopping: leave the lease; this node takes the step back at its
		// next start, another node when the lease expires.
		return "", ctx.Err()
	}
	if runErr == nil {
		return s.finish(ctx, run, pb, st, StepSucceeded, mask.json(out), "", input)
	}
	msg := mask.text(runErr.Error())
	if errors.Is(runErr, context.DeadlineExceeded) {
		msg = fmt.Sprintf("timed out after %s", timeout)
	}
	return s.failAttempt(ctx, run, pb, step, st, runErr, msg, input, nil)
}

// failAttempt retries a failed attempt after its back-off, or fails the
// step when attempts are exhausted or the error is permanent.
func (s *Service) failAttempt(ctx context.Context, run Run, pb *Playbook, step *Step, st StepState, runErr error, msg, input string, output any) (string, error) {
	attempts := 1
	if step.Retry != nil {
		attempts = step.Retry.Attempts
	}
	var perm *PermanentError
	if st.Attempt < attempts && !errors.As(runErr, &perm) {
		wait := step.Retry.Wait(st.Attempt)
		_, err := store.UpdateVersioned(ctx, s.db, "soar_steps", st.tenant, st.id, st.Version,
			"status = ?, attempt = attempt + 1, run_at = ?, lease_owner = '', lease_until = NULL, error = ?, input = ?",
			string(StepReady), store.TimeOf(s.clock().Add(wait)), msg, input)
		s.log.Info("playbook_step_retry", "run", run.ID, "step", st.StepID, "attempt", st.Attempt, "wait", wait)
		return "", err
	}
	return s.finish(ctx, run, pb, st, StepFailed, output, msg, input)
}

// stepTimeout is the bound of one attempt (or one for_each item).
func stepTimeout(step *Step) time.Duration {
	if t := step.Timeout.D(); t > 0 {
		return t
	}
	return DefaultStepTimeout
}

// heartbeat extends the step's lease while it runs.
func (s *Service) heartbeat(ctx context.Context, st StepState) {
	t := time.NewTicker(s.opts.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, err := s.db.Exec(ctx, "UPDATE soar_steps SET lease_until = ? WHERE tenant = ? AND id = ? AND lease_owner = ? AND version = ?",
				store.TimeOf(s.clock().Add(s.opts.Lease)), st.tenant, st.id, s.node, st.Version)
			if err != nil && ctx.Err() == nil {
				s.log.Warn("playbook_lease_renew_failed", "step", st.id, "err", err)
			}
		}
	}
}

// pause parks a step until a decision or its deadline.
func (s *Service) pause(ctx context.Context, run Run, st StepState, p Pause, mask masker, input string, now time.Time) (string, error) {
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultRunTimeout
	}
	msg := mask.text(p.Message)
	_, err := store.UpdateVersioned(ctx, s.db, "soar_steps", st.tenant, st.id, st.Version,
		"status = ?, run_at = ?, lease_owner = '', lease_until = NULL, approval_role = ?, message = ?, input = ?, started_at = ?",
		string(StepWaiting), store.TimeOf(now.Add(timeout)), p.Role, msg, input, store.TimeOf(now))
	if err != nil {
		return "", err
	}
	if p.Role != "" && s.bus != nil {
		s.bus.Publish(ctx, bus.Event{Type: EventApprovalRequested, Tenant: run.Tenant, Subject: run.ID + "/" + st.StepID, Actor: "playbook:" + run.Playbook,
			Data: Approval{RunID: run.ID, Playbook: run.Playbook, Step: st.StepID, Role: p.Role, Message: msg, Deadline: now.Add(timeout), Incident: run.IncidentID}})
	}
	return "", nil
}

// timeout completes a wait whose deadline passed: a timer succeeds, an
// approval ends as not approved.
func (s *Service) timeout(ctx context.Context, run Run, pb *Playbook, st StepState) (string, error) {
	out := map[string]any{"waited": true}
	if st.Role != "" {
		out = map[string]any{"approved": false, "timed_out": true}
	}
	next, err := s.finish(ctx, run, pb, st, StepSucceeded, (masker)(nil).json(out), "", "")
	if err != nil {
		return "", err
	}
	if st.Role != "" && s.bus != nil {
		s.bus.Publish(ctx, bus.Event{Type: EventApprovalDecided, Tenant: run.Tenant, Subject: run.ID + "/" + st.StepID, Actor: "system",
			Data: map[string]any{"run_id": run.ID, "step": st.StepID, "approved": false, "timed_out": true}})
	}
	return next, nil
}

// finish records a step's end and advances the run in one transaction.
// output is JSON text (already masked) or a value to encode. It returns the
// next step of the run, already leased to this worker, if one became ready.
func (s *Service) finish(ctx context.Context, run Run, pb *Playbook, st StepState, status StepStatus, output any, errText, input string) (string, error) {
	req := &finishReq{run: run, pb: pb, st: st, status: status, errText: errText, input: input}
	switch o := output.(type) {
	case nil:
	case string:
		req.output = o
	default:
		req.output = (masker)(nil).json(o)
	}
	if s.commits != nil {
		req.done = make(chan struct{})
		select {
		case s.commits <- req:
			<-req.done
		case <-ctx.Done():
			return "", ctx.Err()
		}
	} else {
		req.err = s.db.Tx(ctx, func(tx *store.Tx) error { return s.finishTx(ctx, tx, req) })
	}
	if req.err != nil {
		return "", fmt.Errorf("finish step %s: %w", st.id, req.err)
	}
	s.log.Debug("playbook_step_finished", "run", run.ID, "step", st.StepID, "status", string(status), "attempt", st.Attempt)
	s.finished(ctx, run.Tenant, req.sum)
	if req.more {
		s.poke() // steps this worker does not take became ready
	}
	return req.next, nil
}

// finishReq is one step end waiting for the committer.
type finishReq struct {
	run                    Run
	pb                     *Playbook
	st                     StepState
	status                 StepStatus
	output, errText, input string
	next                   string
	more                   bool // ready steps besides next
	sum                    *RunSummary
	err                    error
	done                   chan struct{}
}

func (s *Service) finishTx(ctx context.Context, tx *store.Tx, r *finishReq) error {
	r.next, r.sum, r.more = "", nil, false
	now := s.clock()
	set := "status = ?, output = ?, error = ?, finished_at = ?, lease_owner = '', lease_until = NULL"
	args := []any{string(r.status), r.output, r.errText, store.TimeOf(now)}
	if r.input != "" {
		set += ", input = ?"
		args = append(args, r.input)
	}
	if r.st.StartedAt.IsZero() {
		set += ", started_at = ?"
		args = append(args, store.TimeOf(now))
	}
	if _, err := store.UpdateVersioned(ctx, tx, "soar_steps", r.st.tenant, r.st.id, r.st.Version, set, args...); err != nil {
		return err
	}
	// Keep going on this worker with the next step of the run: no claim
	// round trip for a chain of steps.
	claim := r.st.leaseOwner == s.node
	sum, ready, err := s.advance(ctx, tx, r.run.Tenant, r.run.ID, r.pb, claim, &r.run)
	r.sum = sum
	r.more = len(ready) > 1 || (len(ready) == 1 && !claim)
	if err != nil || len(ready) == 0 || !claim {
		return err
	}
	r.next = ready[0]
	return nil
}

// committer records step ends in group commits: the state database takes
// one transaction for whatever finished meanwhile (SQLite has one
// writer; a commit per step would cap the runner's throughput). A batch
// that fails is redone one step at a time, so one bad step fails alone.
func (s *Service) committer(ctx context.Context) {
	const maxBatch = 64
	for {
		var batch []*finishReq
		select {
		case <-ctx.Done():
			return
		case r := <-s.commits:
			batch = append(batch, r)
		}
	more:
		for len(batch) < maxBatch {
			select {
			case r := <-s.commits:
				batch = append(batch, r)
			default:
				break more
			}
		}
		cctx := context.WithoutCancel(ctx)
		err := s.db.Tx(cctx, func(tx *store.Tx) error {
			for _, r := range batch {
				if err := s.finishTx(cctx, tx, r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil && len(batch) > 1 {
			for _, r := range batch {
				r.err = s.db.Tx(cctx, func(tx *store.Tx) error { return s.finishTx(cctx, tx, r) })
				close(r.done)
			}
			continue
		}
		for _, r := range batch {
			r.err = err
			close(r.done)
		}
	}
}

// finished publishes playbook.run.finished.
func (s *Service) finished(ctx context.Context, tenant string, sum *RunSummary) {
	if sum == nil {
		return
	}
	s.log.Info("playbook_run_finished", "tenant", tenant, "run", sum.ID, "playbook", sum.Playbook, "status", string(sum.Status))
	if s.bus != nil {
		s.bus.Publish(ctx, bus.Event{Type: EventRunFinished, Tenant: tenant, Subject: sum.ID, Actor: "playbook:" + sum.Playbook, Data: *sum})
	}
}

// advance makes pending steps whose needs are done ready (or skipped when
// a need was skipped or failed), and ends the run when it is decided.
//
// With claim set, the first step made ready is leased to this node at
// once (the caller runs it next): one statement instead of two.
//
// known is the run as its caller read it (a runner, just before the step
// it executed); nil reads it. Only its fixed fields matter: endRun checks
// the status itself.
func (s *Service) advance(ctx context.Context, tx *store.Tx, tenant, runID string, pb *Playbook, claim bool, known *Run) (_ *RunSummary, ready []string, _ error) {
	var run Run
	var steps []StepState
	var err error
	if known != nil {
		run = *known
		steps, err = stepStates(ctx, tx, tenant, runID)
	} else {
		run, steps, err = loadStates(ctx, tx, tenant, runID)
	}
	if err != nil || run.Status.Terminal() {
		return nil, nil, err
	}
	byID := make(map[string]*StepState, len(steps))
	for i := range steps {
		byID[steps[i].StepID] = &steps[i]
	}
	now := s.clock()
	setStatus := func(st *StepState, next StepStatus) error {
		var err error
		if next == StepReady && claim && len(ready) == 0 {
			_, err = tx.Exec(ctx, "UPDATE soar_steps SET status = ?, run_at = ?, lease_owner = ?, lease_until = ?, started_at = COALESCE(started_at, ?), "+
				"version = version + 1 WHERE tenant = ? AND id = ? AND status = ?",
				append(append([]any{string(StepRunning), store.TimeOf(now)}, s.claimArgs(now)...), tenant, st.id, string(StepPending))...)
		} else {
			_, err = tx.Exec(ctx, "UPDATE soar_steps SET status = ?, run_at = ?, version = version + 1 WHERE tenant = ? AND id = ? AND status = ?",
				string(next), store.TimeOf(now), tenant, st.id, string(StepPending))
		}
		if err != nil {
			return fmt.Errorf("schedule step %s: %w", st.id, err)
		}
		st.Status = next
		if next == StepReady {
			ready = append(ready, st.id)
		}
		return nil
	}
	for changed := true; changed; {
		changed = false
		for i := range steps {
			st := &steps[i]
			if st.Status != StepPending {
				continue
			}
			idx := pb.StepIndex(st.StepID)
			if pb.IsHandler(st.StepID) {
				// A handler runs once a step naming it failed.
				for j := range pb.Steps {
					if string(pb.Steps[j].OnError) == st.StepID && byID[pb.Steps[j].ID] != nil && byID[pb.Steps[j].ID].Status == StepFailed {
						if err := setStatus(st, StepReady); err != nil {
							return nil, nil, err
						}
						changed = true
						break
					}
				}
				continue
			}
			due, skip := true, false
			for _, n := range pb.Needs(idx) {
				d := byID[n]
				if d == nil || !d.Status.Terminal() {
					due = false
					break
				}
				if d.Status == StepSkipped || d.Status == StepCancelled || (d.Status == StepFailed && pb.Steps[pb.StepIndex(n)].OnError != OnErrorContinue) {
					skip = true
				}
			}
			if !due {
				continue
			}
			next := StepReady
			if skip {
				next = StepSkipped
			}
			if err := setStatus(st, next); err != nil {
				return nil, nil, err
			}
			changed = true
		}
	}
	status, errText := RunSucceeded, ""
	var idle []*StepState // handlers no failure called
	for i := range steps {
		st := &steps[i]
		step := &pb.Steps[pb.StepIndex(st.StepID)]
		if st.Status == StepFailed && step.OnError != OnErrorContinue {
			status, errText = RunFailed, fmt.Sprintf("step %s failed: %s", st.StepID, st.Error)
			if h := byID[string(step.OnError)]; h != nil && pb.IsHandler(h.StepID) {
				if !h.Status.Terminal() {
					return nil, ready, nil // the handler runs first
				}
				errText += " (handled by " + h.StepID + ")"
			}
			break
		}
		if st.Status == StepPending && pb.IsHandler(st.StepID) {
			idle = append(idle, st)
			continue
		}
		if !st.Status.Terminal() {
			return nil, ready, nil
		}
	}
	if status == RunSucceeded {
		for _, h := range idle {
			if err := setStatus(h, StepSkipped); err != nil {
				return nil, nil, err
			}
		}
	}
	sum, err := s.endRun(ctx, tx, run, status, errText)
	return sum, ready, err
}

// endRun records a run's end, only if it is still running (a runner, the
// deadline sweep and a cancel may race to end it); nil if it had ended.
func (s *Service) endRun(ctx context.Context, tx *store.Tx, run Run, status RunStatus, errText string) (*RunSummary, error) {
	now := s.clock()
	res, err := tx.Exec(ctx, "UPDATE soar_runs SET status = ?, error = ?, finished_at = ?, version = version + 1 WHERE tenant = ? AND id = ? AND status = ?",
		string(status), errText, store.TimeOf(now), run.Tenant, run.ID, string(RunRunning))
	if err != nil {
		return nil, fmt.Errorf("end run %s: %w", run.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return nil, err
	}
	return &RunSummary{ID: run.ID, Playbook: run.Playbook, PlaybookVersion: run.PlaybookVersion, Status: status,
		IncidentID: run.IncidentID, AlertID: run.AlertID, Error: errText, Duration: now.Sub(run.CreatedAt).Seconds()}, nil
}

// sweepRuns fails runs past their deadline.
func (s *Service) sweepRuns(ctx context.Context) error {
	rows, err := s.db.Query(ctx, "SELECT "+runCols+" FROM soar_runs WHERE status = ? AND deadline <= ? LIMIT 100",
		string(RunRunning), store.TimeOf(s.clock()))
	if err != nil {
		return fmt.Errorf("find overdue runs: %w", err)
	}
	var due []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			rows.Close()
			return err
		}
		due = append(due, r)
	}
	rows.Close()
	for _, r := range due {
		var sum *RunSummary
		err := s.db.Tx(ctx, func(tx *store.Tx) error {
			var err error
			sum, err = s.endRun(ctx, tx, r, RunFailed, "run timed out")
			return err
		})
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		s.finished(ctx, r.Tenant, sum)
	}
	return nil
}

// runVars builds the expression variables of a step: the trigger's, the
// run's and the earlier steps'.
func runVars(run Run, steps []StepState) (map[string]any, error) {
	vars := map[string]any{}
	if run.context != "" {
		if err := json.Unmarshal([]byte(run.context), &vars); err != nil {
			return nil, fmt.Errorf("decode context of run %s: %w", run.ID, err)
		}
	}
	vars["run"] = map[string]any{"id": run.ID, "playbook": run.Playbook, "version": run.PlaybookVersion, "trigger": run.Trigger,
		"tenant": run.Tenant, "incident_id": run.IncidentID, "alert_id": run.AlertID, "dry_run": run.DryRun}
	sv := map[string]any{}
	for _, st := range steps {
		var out any
		if len(st.Output) > 0 {
			_ = json.Unmarshal(st.Output, &out)
		}
		sv[st.StepID] = map[string]any{"status": string(st.Status), "output": out, "error": st.Error, "attempt": int64(st.Attempt)}
	}
	vars["steps"] = sv
	vars["secrets"] = map[string]any{}
	return vars, nil
}

// addSecrets opens the named secrets into vars["secrets"] and returns the
// masker extended with their values.
func (s *Service) addSecrets(ctx context.Context, tenant string, vars map[string]any, mask masker, names []string) (masker, error) {
	secrets := vars["secrets"].(map[string]any)
	for _, n := range names {
		if _, ok := secrets[n]; ok {
			continue
		}
		v, err := s.secret(ctx, tenant, n)
		if err != nil {
			return mask, err
		}
		secrets[n] = v
		mask = append(mask, v)
	}
	return mask, nil
}

// Retry re-runs a failed run from its failed steps (a new attempt each,
// so a new idempotency key); completed steps are not run again.
func (s *Service) Retry(ctx context.Context, tenant, runID, actor string) (Run, error) {
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		run, err := getRun(ctx, tx, tenant, runID)
		if err != nil {
			return err
		}
		if run.Status != RunFailed {
			return userErrorf("run %s is %s; only a failed run can be retried", runID, run.Status)
		}
		now := s.clock()
		pb, _, err := s.playbook(ctx, tx, tenant, run.Playbook, run.PlaybookVersion)
		if err != nil {
			return err
		}
		timeout := pb.Timeout.D()
		if timeout <= 0 {
			timeout = DefaultRunTimeout
		}
		if _, err := store.UpdateVersioned(ctx, tx, "soar_runs", tenant, runID, run.Version,
			"status = ?, error = '', finished_at = NULL, deadline = ?", string(RunRunning), store.TimeOf(now.Add(timeout))); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE soar_steps SET status = ?, attempt = attempt + 1, run_at = ?, error = '', output = '',
			lease_owner = '', lease_until = NULL, finished_at = NULL, version = version + 1 WHERE tenant = ? AND run_id = ? AND status = ?`,
			string(StepReady), store.TimeOf(now), tenant, runID, string(StepFailed)); err != nil {
			return err
		}
		// Steps parked when the run failed wait for their needs again.
		_, _, err = s.advance(ctx, tx, tenant, runID, pb, false, nil)
		return err
	})
	if err != nil {
		return Run{}, err
	}
	s.log.Info("playbook_run_retried", "tenant", tenant, "run", runID, "actor", actor)
	s.poke()
	return s.GetRun(ctx, tenant, runID)
}

// Approver is who decides an approval.
type Approver struct {
	Subject string
	Role    string
	Admin   bool
}

// Decide approves or denies a waiting approval step. Only a holder of the
// step's role (or an admin) may decide, and never the person who started
// the run.
func (s *Service) Decide(ctx context.Context, tenant, runID, stepID string, approve bool, who Approver, comment string) (Run, error) {
	run, err := getRun(ctx, s.db, tenant, runID)
	if err != nil {
		return Run{}, err
	}
	st, err := getStep(ctx, s.db, stepRowID(runID, stepID))
	if err != nil || st.tenant != tenant {
		return Run{}, fmt.Errorf("step %s of run %s: %w", stepID, runID, store.ErrNotFound)
	}
	if run.Status != RunRunning {
		return Run{}, userErrorf("run %s is %s", runID, run.Status)
	}
	if st.Status != StepWaiting || st.Role == "" {
		return Run{}, userErrorf("step %s of run %s is not waiting for approval (it is %s)", stepID, runID, st.Status)
	}
	if !who.Admin && who.Role != st.Role {
		return Run{}, fmt.Errorf("approval needs role %s: %w", st.Role, ErrForbidden)
	}
	if who.Subject == run.StartedBy {
		return Run{}, fmt.Errorf("the person who started a run cannot approve it: %w", ErrForbidden)
	}
	pb, _, err := s.playbook(ctx, s.db, tenant, run.Playbook, run.PlaybookVersion)
	if err != nil {
		return Run{}, err
	}
	out := map[string]any{"approved": approve, "by": who.Subject, "role": who.Role, "comment": comment,
		"decided_at": s.clock().Format(time.RFC3339Nano)}
	var done *RunSummary
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if _, err := store.UpdateVersioned(ctx, tx, "soar_steps", tenant, st.id, st.Version,
			"status = ?, output = ?, decided_by = ?, finished_at = ?, lease_owner = '', lease_until = NULL",
			string(StepSucceeded), (masker)(nil).json(out), who.Subject, store.TimeOf(s.clock())); err != nil {
			return err
		}
		var err error
		done, _, err = s.advance(ctx, tx, tenant, runID, pb, false, nil)
		return err
	})
	if err != nil {
		return Run{}, err
	}
	if s.bus != nil {
		s.bus.Publish(ctx, bus.Event{Type: EventApprovalDecided, Tenant: tenant, Subject: runID + "/" + stepID, Actor: who.Subject,
			Data: map[string]any{"run_id": runID, "step": stepID, "approved": approve, "role": who.Role, "comment": comment}})
	}
	s.log.Info("playbook_approval_decided", "tenant", tenant, "run", runID, "step", stepID, "approved", approve, "by", who.Subject)
	s.finished(ctx, tenant, done)
	s.poke()
	return s.GetRun(ctx, tenant, runID)
}
