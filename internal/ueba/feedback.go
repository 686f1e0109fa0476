package ueba

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/store"
)

// Outcome is a closed incident's verdict as feedback to the detectors.
type Outcome struct {
	IncidentID string
	Verdict    Verdict
	Entities   []Entity
	// From and To bound the incident (created … closed); anomalies on its
	// entities from a day before From up to To are judged by the verdict.
	From, To time.Time
}

// DetectorPrecision is what analysts said of one detector's anomalies.
type DetectorPrecision struct {
	TruePositives  int `json:"true_positives"`
	FalsePositives int `json:"false_positives"`
	// Precision is the posterior mean under a uniform Beta prior; Weight
	// scales the detector's risk (1 without feedback).
	Precision float64 `json:"precision"`
	Weight    float64 `json:"weight"`
}

func precisionOf(c [2]int) DetectorPrecision {
	p := (float64(c[0]) + 1) / (float64(c[0]+c[1]) + 2)
	return DetectorPrecision{TruePositives: c[0], FalsePositives: c[1], Precision: round2(p), Weight: min(max(p/0.5, 0.2), 1.6)}
}

// precisionWeight scales an anomaly's risk by its detector's measured
// precision; called with s.mu held.
func (s *Service) precisionWeight(tenant string, d Detector) float64 {
	c, ok := s.feedback[tenant][d]
	if !ok {
		return 1
	}
	return precisionOf(c).Weight
}

// Feedback records a closed incident's verdict against every detector
// that reported an anomaly on one of its entities in its time span, and
// returns those detectors. A case closed again with another verdict
// replaces its earlier feedback.
func (s *Service) Feedback(ctx context.Context, tenant string, o Outcome) ([]Detector, error) {
	if o.Verdict == VerdictUnknown || len(o.Entities) == 0 {
		return nil, nil
	}
	if o.To.IsZero() {
		o.To = s.opts.Now()
	}
	dets := map[Detector]bool{}
	for _, e := range o.Entities {
		where := "tenant = ? AND entity_kind = ? AND entity_value = ? AND at >= ? AND at <= ?"
		args := []any{tenant, e.Kind.String(), e.Value, store.TimeOf(o.From.Add(-24 * time.Hour)), store.TimeOf(o.To)}
		if e.Kind == KindHost {
			// Process anomalies ("host|image") land on their host.
			where = "tenant = ? AND ((entity_kind = ? AND entity_value = ?) OR (entity_kind = 'process' AND entity_value LIKE ?)) AND at >= ? AND at <= ?"
			args = []any{tenant, e.Kind.String(), e.Value, likeEscape(e.Value) + "|%", store.TimeOf(o.From.Add(-24 * time.Hour)), store.TimeOf(o.To)}
		}
		rows, err := s.opts.DB.Query(ctx, "SELECT DISTINCT detector FROM ueba_anomalies WHERE "+where, args...)
		if err != nil {
			return nil, fmt.Errorf("feedback of incident %s: %w", o.IncidentID, err)
		}
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				rows.Close()
				return nil, fmt.Errorf("feedback of incident %s: %w", o.IncidentID, err)
			}
			if d, err := ParseDetector(name); err == nil {
				dets[d] = true
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("feedback of incident %s: %w", o.IncidentID, err)
		}
	}
	verdict := "false"
	if o.Verdict == VerdictTrue {
		verdict = "true"
	}
	q := store.Upsert("ueba_feedback", []string{"tenant", "incident_id", "detector", "verdict", "updated_at"},
		[]string{"tenant", "incident_id", "detector"}, []string{"verdict", "updated_at"})
	var out []Detector
	for _, d := range Detectors {
		if !dets[d] {
			continue
		}
		if _, err := s.opts.DB.Exec(ctx, q, tenant, o.IncidentID, d.String(), verdict, store.TimeOf(s.opts.Now())); err != nil {
			return nil, fmt.Errorf("save feedback of incident %s: %w", o.IncidentID, err)
		}
		out = append(out, d)
	}
	if len(out) > 0 {
		if err := s.loadFeedback(ctx, tenant); err != nil {
			return out, err
		}
		s.log.Info("ueba_feedback_recorded", "tenant", tenant, "incident", o.IncidentID, "verdict", verdict, "detectors", len(out))
	}
	return out, nil
}

func likeEscape(s string) string {
	return strings.NewReplacer("%", "_", "_", "_").Replace(s)
}

// loadFeedback recounts the verdicts per detector ("" all tenants).
func (s *Service) loadFeedback(ctx context.Context, tenant string) error {
	q := "SELECT tenant, detector, verdict, count(*) FROM ueba_feedback"
	var args []any
	if tenant != "" {
		q += " WHERE tenant = ?"
		args = append(args, tenant)
	}
	rows, err := s.opts.DB.Query(ctx, q+" GROUP BY tenant, detector, verdict", args...)
	if err != nil {
		return fmt.Errorf("load ueba feedback: %w", err)
	}
	defer rows.Close()
	fresh := map[string]map[Detector][2]int{}
	for rows.Next() {
		var t, det, verdict string
		var n int
		if err := rows.Scan(&t, &det, &verdict, &n); err != nil {
			return fmt.Errorf("load ueba feedback: %w", err)
		}
		d, err := ParseDetector(det)
		if err != nil {
			continue
		}
		if fresh[t] == nil {
			fresh[t] = map[Detector][2]int{}
		}
		c := fresh[t][d]
		if verdict == "true" {
			c[0] += n
		} else {
			c[1] += n
		}
		fresh[t][d] = c
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load ueba feedback: %w", err)
	}
	s.mu.Lock()
	if tenant != "" {
		s.feedback[tenant] = fresh[tenant]
	} else {
		s.feedback = fresh
	}
	s.mu.Unlock()
	return nil
}
