package soar

import (
	"context"
	"fmt"

	"github.com/wacht-soc/wacht/internal/store"
)

// Cancel ends a running run: its unfinished steps become cancelled (no
// runner claims them again), a step this node is executing has its
// context cancelled, and playbook.run.finished is published with status
// cancelled. A step in flight on another node finishes, but its result is
// not recorded and nothing after it runs.
func (s *Service) Cancel(ctx context.Context, tenant, runID, actor string) (Run, error) {
	var sum *RunSummary
	var cancelled []string
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		run, err := getRun(ctx, tx, tenant, runID)
		if err != nil {
			return err
		}
		if run.Status != RunRunning {
			return userErrorf("run %s is %s; only a running run can be cancelled", runID, run.Status)
		}
		steps, err := stepStates(ctx, tx, tenant, runID)
		if err != nil {
			return err
		}
		now := s.clock()
		for _, st := range steps {
			if st.Status.Terminal() {
				continue
			}
			if _, err := tx.Exec(ctx, `UPDATE soar_steps SET status = ?, error = ?, lease_owner = '', lease_until = NULL, finished_at = ?,
				version = version + 1 WHERE tenant = ? AND id = ?`, string(StepCancelled), "run cancelled by "+actor, store.TimeOf(now), tenant, st.id); err != nil {
				return fmt.Errorf("cancel step %s: %w", st.id, err)
			}
			cancelled = append(cancelled, st.id)
		}
		sum, err = s.endRun(ctx, tx, run, RunCancelled, "cancelled by "+actor)
		return err
	})
	if err != nil {
		return Run{}, err
	}
	for _, id := range cancelled {
		if c, ok := s.inflight.Load(id); ok {
			c.(context.CancelFunc)()
		}
	}
	s.log.Info("playbook_run_cancelled", "tenant", tenant, "run", runID, "actor", actor, "steps", len(cancelled))
	s.finished(ctx, tenant, sum)
	return s.GetRun(ctx, tenant, runID)
}
