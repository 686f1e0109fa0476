package ueba

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/wacht-soc/wacht/event"
)

// EventSource calls fn for each of a tenant's stored events with a time
// in [start, end), in any order (the event store, through internal/app).
type EventSource func(ctx context.Context, tenant string, start, end time.Time, fn func(*event.Event) error) error

// RebuildResult says what a rebuild read.
type RebuildResult struct {
	Tenant   string    `json:"tenant"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Events   int       `json:"events"`
	Entities int       `json:"entities"`
	Pairs    int       `json:"pairs"`
}

// rebuildWindow is how much event time is read, sorted and learned at once.
const rebuildWindow = 15 * time.Minute

// Rebuild relearns a tenant's baselines from its stored events of the
// last days, in learning mode (nothing is reported), and replaces the
// tenant's detector state with the result. Risk, modes and feedback are
// kept. Call Snapshot afterwards to save it.
func (s *Service) Rebuild(ctx context.Context, tenant string, src EventSource, days int) (RebuildResult, error) {
	if days <= 0 {
		return RebuildResult{}, userErrorf("rebuild needs at least one day of events, got %d", days)
	}
	to := s.opts.Now().UTC()
	from := to.Add(-time.Duration(days) * 24 * time.Hour).Truncate(time.Hour)
	en := NewEngine(s.engine.cfg)
	en.quiet = true
	res := RebuildResult{Tenant: tenant, From: from, To: to}
	var buf []*event.Event
	for t := from; t.Before(to); t = t.Add(rebuildWindow) {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		end := t.Add(rebuildWindow)
		if end.After(to) {
			end = to
		}
		buf = buf[:0]
		err := src(ctx, tenant, t, end, func(e *event.Event) error {
			e.Tenant = tenant
			buf = append(buf, e)
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("rebuild %s: read events %s…%s: %w", tenant, t.Format(time.RFC3339), end.Format(time.RFC3339), err)
		}
		slices.SortStableFunc(buf, func(a, b *event.Event) int { return a.Time.Compare(b.Time) })
		en.Process(buf, nil)
		res.Events += len(buf)
	}
	ts := en.tenants[tenant]
	if ts == nil {
		s.log.Info("ueba_rebuild_empty", "tenant", tenant, "days", days)
		return res, nil
	}
	clear(ts.Caps)
	res.Entities, res.Pairs = len(ts.Entities), len(ts.Pairs)
	s.mu.Lock()
	s.engine.tenants[tenant] = ts
	s.mu.Unlock()
	s.log.Info("ueba_rebuilt", "tenant", tenant, "days", days, "events", res.Events, "entities", res.Entities)
	return res, nil
}

// HasState reports whether a snapshot or live state exists for tenant.
func (s *Service) HasState(tenant string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.engine.tenants[tenant] != nil
}

// Tenants lists the tenants with learned state.
func (s *Service) Tenants() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.engine.tenants))
	for t := range s.engine.tenants {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Replay runs events through a fresh engine with every detector in
// production and returns what it reports (what-if runs of recorded or
// simulated events; nothing is stored).
func Replay(cfg Config, events []*event.Event) []Anomaly {
	en := NewEngine(cfg)
	return en.Process(events, nil)
}
