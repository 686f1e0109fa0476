package soar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/wacht-soc/wacht/internal/store"
)

// ItemResult is one iteration of a for_each step.
type ItemResult struct {
	Index   int             `json:"index"`
	Item    json.RawMessage `json:"item"`
	Status  StepStatus      `json:"status"`
	Output  json.RawMessage `json:"output,omitempty"`
	Error   string          `json:"error,omitempty"`
	attempt int
}

// forEach runs a step's action once per element of its for_each list, at
// most Concurrency at once. Each finished iteration is recorded at once
// (soar_items): when the step runs again (after a crash, with the same
// attempt, or as a retry, with the next) recorded successes are kept,
// failures recorded by an earlier attempt run again, and an iteration that
// was in flight is sent again with its own unchanged idempotency key.
func (s *Service) forEach(ctx context.Context, run Run, pb *Playbook, step *Step, st StepState, info ActionInfo,
	vars map[string]any, mask masker) (string, error) {
	v, err := s.progs.eval(step.ForEach, vars)
	if err != nil {
		return s.finish(ctx, run, pb, st, StepFailed, nil, mask.text(err.Error()), "")
	}
	items, ok := v.([]any)
	if !ok {
		return s.finish(ctx, run, pb, st, StepFailed, nil, fmt.Sprintf("for_each gave %T, want a list", v), "")
	}
	if len(items) > MaxForEachItems {
		return s.finish(ctx, run, pb, st, StepFailed, nil, fmt.Sprintf("for_each gave %d items, more than %d", len(items), MaxForEachItems), "")
	}
	done, err := loadItems(ctx, s.db, st.tenant, st.id)
	if err != nil {
		return "", err
	}
	conc := max(step.Concurrency, 1)
	sctx, cancel := context.WithCancel(ctx)
	s.inflight.Store(st.id, cancel)
	defer s.inflight.Delete(st.id)
	hbDone := make(chan struct{})
	go func() { defer close(hbDone); s.heartbeat(sctx, st) }()
	results := make([]ItemResult, len(items))
	var recErr error
	var mu sync.Mutex
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for i, item := range items {
		if r, ok := done[i]; ok && (r.Status == StepSucceeded || r.attempt >= st.Attempt) {
			r.Item = json.RawMessage(mask.json(item))
			results[i] = r
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			r := s.runItem(sctx, run, step, st, info, vars, mask, i, item)
			if ctx.Err() != nil {
				return // stopping: the iteration runs again at the next start
			}
			results[i] = r
			if err := s.recordItem(ctx, st, r); err != nil {
				mu.Lock()
				recErr = errors.Join(recErr, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	cancel()
	<-hbDone
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	if recErr != nil {
		return "", recErr
	}
	failed, first := 0, -1
	for i := range results {
		if results[i].Status != StepSucceeded {
			failed++
			if first < 0 {
				first = i
			}
		}
	}
	out := map[string]any{"results": results, "succeeded": len(results) - failed, "failed": failed}
	input := mask.json(map[string]any{"for_each": len(items), "concurrency": conc})
	if failed == 0 {
		return s.finish(ctx, run, pb, st, StepSucceeded, out, "", input)
	}
	msg := fmt.Sprintf("%d of %d items failed; item %d: %s", failed, len(items), first, results[first].Error)
	var cause error = errors.New(msg)
	if failed == permanentFailures(results) {
		cause = Permanent(cause)
	}
	return s.failAttempt(ctx, run, pb, step, st, cause, msg, input, out)
}

// permanentErrPrefix marks item errors that retrying cannot fix.
const permanentErrPrefix = "permanent: "

func permanentFailures(rs []ItemResult) int {
	n := 0
	for _, r := range rs {
		if r.Status != StepSucceeded && len(r.Error) >= len(permanentErrPrefix) && r.Error[:len(permanentErrPrefix)] == permanentErrPrefix {
			n++
		}
	}
	return n
}

// runItem runs one iteration: `item` and `index` are visible in `with`.
func (s *Service) runItem(ctx context.Context, run Run, step *Step, st StepState, info ActionInfo, vars map[string]any,
	mask masker, i int, item any) ItemResult {
	r := ItemResult{Index: i, Item: json.RawMessage(mask.json(item)), attempt: st.Attempt}
	fail := func(err error) ItemResult {
		r.Status, r.Error = StepFailed, mask.text(err.Error())
		var perm *PermanentError
		if errors.As(err, &perm) {
			r.Error = permanentErrPrefix + r.Error
		}
		return r
	}
	iv := make(map[string]any, len(vars)+2)
	for k, v := range vars {
		iv[k] = v
	}
	iv["item"], iv["index"] = item, int64(i)
	rendered, err := s.progs.render(step.With, iv)
	if err != nil {
		return fail(Permanent(err))
	}
	with, _ := rendered.(map[string]any)
	act, err := DecodeAction(info, with)
	if err != nil {
		return fail(Permanent(err))
	}
	if run.DryRun && info.SideEffects {
		r.Status, r.Output = StepSucceeded, json.RawMessage(mask.json(map[string]any{"dry_run": true, "would": with}))
		return r
	}
	timeout := stepTimeout(step)
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	call := &Call{Tenant: run.Tenant, RunID: run.ID, StepID: st.StepID, Attempt: st.Attempt, Playbook: run.Playbook,
		IncidentID: run.IncidentID, AlertID: run.AlertID, DryRun: run.DryRun, Deps: &s.deps, Now: s.clock(),
		IdempotencyKey: fmt.Sprintf("%s/%s[%d]/%d", run.ID, st.StepID, i, st.Attempt)}
	out, err := act.Run(actx, call)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("timed out after %s", timeout)
		}
		return fail(err)
	}
	r.Status, r.Output = StepSucceeded, json.RawMessage(mask.json(out))
	return r
}

var itemUpsert = store.Upsert("soar_items", []string{"tenant", "step_id", "idx", "attempt", "status", "output", "error", "finished_at"},
	[]string{"tenant", "step_id", "idx"}, []string{"attempt", "status", "output", "error", "finished_at"})

func (s *Service) recordItem(ctx context.Context, st StepState, r ItemResult) error {
	if _, err := s.db.Exec(ctx, itemUpsert, st.tenant, st.id, r.Index, r.attempt, string(r.Status), string(r.Output), r.Error,
		store.TimeOf(s.clock())); err != nil {
		return fmt.Errorf("record item %d of step %s: %w", r.Index, st.id, err)
	}
	return nil
}

// loadItems reads a step's recorded iterations by index.
func loadItems(ctx context.Context, q store.Querier, tenant, stepRow string) (map[int]ItemResult, error) {
	rows, err := q.Query(ctx, "SELECT idx, attempt, status, output, error FROM soar_items WHERE tenant = ? AND step_id = ?", tenant, stepRow)
	if err != nil {
		return nil, fmt.Errorf("load items of step %s: %w", stepRow, err)
	}
	defer rows.Close()
	out := map[int]ItemResult{}
	for rows.Next() {
		var r ItemResult
		var output string
		if err := rows.Scan(&r.Index, &r.attempt, &r.Status, &output, &r.Error); err != nil {
			return nil, fmt.Errorf("load items of step %s: %w", stepRow, err)
		}
		if output != "" {
			r.Output = json.RawMessage(output)
		}
		out[r.Index] = r
	}
	return out, rows.Err()
}
