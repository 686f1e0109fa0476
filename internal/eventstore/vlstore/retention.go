package vlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/VictoriaMetrics/VictoriaLogs/lib/logstorage"
)

// The engine keeps one retention for everything and drops whole days. A
// tenant may keep its events for less (store.tenants.NAME.retention): for
// those, ApplyTenantRetention schedules the engine's delete tasks for
// events older than the tenant's cutoff. It runs at start and every hour.

// ApplyTenantRetention schedules deletion of each tenant's events older
// than its retention. It returns the number of tasks scheduled.
func (st *Store) ApplyTenantRetention(ctx context.Context, now time.Time) (int, error) {
	active, err := st.s.DeleteActiveTasks(ctx)
	if err != nil {
		return 0, fmt.Errorf("list delete tasks: %w", err)
	}
	busy := map[string]bool{}
	for _, t := range active {
		busy[t.TaskID[:max(0, len(t.TaskID)-20)]] = true
	}
	n := 0
	for tenant, keep := range st.cfg.TenantRetention {
		if keep <= 0 || keep >= st.cfg.Retention {
			continue
		}
		tid, ok := st.tenants.lookup(tenant)
		if !ok {
			continue // nothing stored yet
		}
		prefix := "retention-" + tenant
		if busy[prefix] {
			continue // the previous run is still deleting
		}
		cutoff := now.Add(-keep).UTC().Format(time.RFC3339Nano)
		f, err := logstorage.ParseFilter("_time:<" + cutoff)
		if err != nil {
			return n, fmt.Errorf("retention filter for tenant %s: %w", tenant, err)
		}
		// The id ends in a fixed-width timestamp so that busy[] can strip it.
		id := fmt.Sprintf("%s-%020d", prefix, now.UnixNano())
		if err := st.s.DeleteRunTask(ctx, id, now.UnixNano(), []logstorage.TenantID{tid}, f); err != nil {
			return n, fmt.Errorf("schedule retention for tenant %s: %w", tenant, err)
		}
		st.log.Info("tenant_retention_scheduled", "tenant", tenant, "retention", keep.String(), "cutoff", cutoff)
		n++
	}
	return n, nil
}

// RunTenantRetention applies tenant retention now and then hourly until
// ctx ends.
func (st *Store) RunTenantRetention(ctx context.Context, now func() time.Time) {
	if len(st.cfg.TenantRetention) == 0 {
		return
	}
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		if _, err := st.ApplyTenantRetention(ctx, now()); err != nil {
			st.log.Error("tenant_retention_failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
