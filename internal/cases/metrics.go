package cases

import (
	"context"
	"fmt"
	"time"

	"github.com/wacht-soc/wacht/internal/store"
)

// PriorityMetrics are the response-time means of the incidents of one
// priority created in a period. Durations are in seconds in JSON.
type PriorityMetrics struct {
	Priority  Priority `json:"priority"`
	Incidents int      `json:"incidents"`
	// MTTD: first triggering event → first alert.
	MTTD Seconds `json:"mttd"`
	// MTTA: incident opened → acknowledged.
	MTTA Seconds `json:"mtta"`
	// MTTC: opened → contained.
	MTTC Seconds `json:"mttc"`
	// MTTR: opened → resolved (closed).
	MTTR     Seconds `json:"mttr"`
	Breached int     `json:"sla_breached"`
}

// Seconds is a duration shown in seconds.
type Seconds float64

func mean(sum time.Duration, n int) Seconds {
	if n == 0 {
		return 0
	}
	return Seconds((sum / time.Duration(n)).Seconds())
}

// Metrics computes MTTD, MTTA, MTTC and MTTR per priority for incidents
// created in [since, until) (zero until: up to now).
func (s *Service) Metrics(ctx context.Context, tenant string, since, until time.Time) ([]PriorityMetrics, error) {
	if until.IsZero() {
		until = s.clock().Add(time.Microsecond) // up to and including now
	}
	detect := map[string]time.Duration{}
	rows, err := s.db.Query(ctx, `SELECT incident_id, MIN(event_time), MIN(created_at) FROM case_alerts
WHERE tenant = ? AND created_at >= ? AND created_at < ? GROUP BY incident_id`, tenant, store.TimeOf(since), store.TimeOf(until))
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	for rows.Next() {
		var id string
		var ev, cr store.Timestamp
		if err := rows.Scan(&id, &ev, &cr); err != nil {
			rows.Close()
			return nil, fmt.Errorf("metrics: %w", err)
		}
		if !ev.IsZero() && !cr.IsZero() {
			detect[id] = max(0, cr.Sub(ev.Time))
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	rows, err = s.db.Query(ctx, `SELECT id, priority, created_at, ack_at, contained_at, resolved_at, sla_ack_breach, sla_cont_breach, sla_res_breach
FROM case_incidents WHERE tenant = ? AND created_at >= ? AND created_at < ? AND merged_into = ''`, tenant, store.TimeOf(since), store.TimeOf(until))
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	defer rows.Close()
	type acc struct {
		n                  int
		d, a, c, r         time.Duration
		nd, na, nc, nr, nb int
	}
	by := map[Priority]*acc{}
	for rows.Next() {
		var id, prio string
		var cr, ack, cont, res, b1, b2, b3 store.Timestamp
		if err := rows.Scan(&id, &prio, &cr, &ack, &cont, &res, &b1, &b2, &b3); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
		m := by[Priority(prio)]
		if m == nil {
			m = &acc{}
			by[Priority(prio)] = m
		}
		m.n++
		if d, ok := detect[id]; ok {
			m.d += d
			m.nd++
		}
		if !ack.IsZero() {
			m.a += ack.Sub(cr.Time)
			m.na++
		}
		if !cont.IsZero() {
			m.c += cont.Sub(cr.Time)
			m.nc++
		}
		if !res.IsZero() {
			m.r += res.Sub(cr.Time)
			m.nr++
		}
		if !b1.IsZero() || !b2.IsZero() || !b3.IsZero() {
			m.nb++
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	out := []PriorityMetrics{}
	for _, p := range []Priority{P1, P2, P3, P4} {
		m := by[p]
		if m == nil {
			out = append(out, PriorityMetrics{Priority: p})
			continue
		}
		out = append(out, PriorityMetrics{Priority: p, Incidents: m.n, MTTD: mean(m.d, m.nd), MTTA: mean(m.a, m.na),
			MTTC: mean(m.c, m.nc), MTTR: mean(m.r, m.nr), Breached: m.nb})
	}
	return out, nil
}
