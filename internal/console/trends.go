package console

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/cases"
)

// The overview's slower parts, computed once per page load (not on every
// live tick): MTTA and MTTR by week, and the regulatory clocks (NIS2,
// GDPR, DORA) that run next.

// trendWeeks is how many weeks the MTTA / MTTR chart covers.
const trendWeeks = 8

// regScan bounds the open incidents whose regulatory clocks the overview
// reads (the most urgent first: P1, P2, then by age).
const regScan = 25

const permMetrics api.Permission = "metrics:read"

// trend is two series over weeks for uPlot, in hours.
type trend struct {
	X      []int64     `json:"x"`
	Ys     [][]float64 `json:"ys"`
	Labels []string    `json:"labels"`
	// Incidents counts the incidents behind the whole chart.
	Incidents int `json:"-"`
	// Last holds the newest week's values for the text beside the chart.
	LastMTTA, LastMTTR float64 `json:"-"`
	// Limited: some week had more incidents than were read.
	Limited bool `json:"-"`
}

// regDeadline is a regulatory report still to send.
type regDeadline struct {
	Incident cases.Incident
	Stage    cases.RegStage
}

type slowTiles struct {
	Trend *trend
	Reg   []regDeadline
	// RegScanned is how many incidents were looked at.
	RegScanned int
}

func (s *Service) slowTiles(ctx context.Context, r *http.Request) slowTiles {
	var st slowTiles
	id, _ := api.IdentityFrom(ctx)
	if s.o.Cases == nil || !api.Allowed(id.Role, permCasesRead) {
		return st
	}
	tenant := api.TenantOf(r)
	if api.Allowed(id.Role, permMetrics) {
		st.Trend = s.trend(ctx, tenant)
	}
	open, err := s.o.Cases.ListIncidents(ctx, tenant, cases.IncidentFilter{Open: true, Limit: 200})
	if err != nil {
		s.o.Log.Error("console_overview_incidents_failed", "err", err)
		return st
	}
	st.Reg, st.RegScanned = s.regDeadlines(ctx, tenant, open)
	return st
}

// trendTTL is how long a tenant's MTTA / MTTR chart is reused: it moves
// by the week, and computing it reads every alert of eight weeks.
const trendTTL = 5 * time.Minute

// trendCache keeps each tenant's last chart.
type trendCache struct {
	mu sync.Mutex
	m  map[string]cachedTrend
}

type cachedTrend struct {
	t  *trend
	at time.Time
}

func (s *Service) trend(ctx context.Context, tenant string) *trend {
	now := s.o.Now()
	s.trends.mu.Lock()
	c, ok := s.trends.m[tenant]
	s.trends.mu.Unlock()
	if ok && now.Sub(c.at) < trendTTL && !now.Before(c.at) {
		return c.t
	}
	t := s.computeTrend(ctx, tenant)
	if t != nil {
		s.trends.mu.Lock()
		if s.trends.m == nil {
			s.trends.m = map[string]cachedTrend{}
		}
		s.trends.m[tenant] = cachedTrend{t: t, at: now}
		s.trends.mu.Unlock()
	}
	return t
}

// computeTrend averages, per week, the time from opening to
// acknowledgement and to resolution of the incidents opened that week
// (merged ones left out), as cases' metrics do — but from the incidents
// alone: the metrics call also derives detection times from every alert
// of the period, which takes seconds with millions of alerts. A week
// with more than trendPerWeek incidents is averaged over its newest.
func (s *Service) computeTrend(ctx context.Context, tenant string) *trend {
	now := s.o.Now().UTC()
	end := now.Truncate(24 * time.Hour).Add(24 * time.Hour)
	t := &trend{Ys: [][]float64{{}, {}}, Labels: []string{"MTTA (h)", "MTTR (h)"}}
	for w := trendWeeks - 1; w >= 0; w-- {
		until := end.Add(-time.Duration(w) * 7 * 24 * time.Hour)
		since := until.Add(-7 * 24 * time.Hour)
		incs, err := s.o.Cases.ListIncidents(ctx, tenant, cases.IncidentFilter{Since: since, Before: until, Limit: trendPerWeek})
		if err != nil {
			s.o.Log.Error("console_overview_trend_failed", "err", err)
			return nil
		}
		var ack, res time.Duration
		var na, nr int
		for _, inc := range incs {
			if inc.MergedInto != "" || inc.CreatedAt.Before(since) || !inc.CreatedAt.Before(until) {
				continue
			}
			t.Incidents++
			if !inc.AckAt.IsZero() {
				ack += inc.AckAt.Sub(inc.CreatedAt)
				na++
			}
			if !inc.ResolvedAt.IsZero() {
				res += inc.ResolvedAt.Sub(inc.CreatedAt)
				nr++
			}
		}
		t.Limited = t.Limited || len(incs) >= trendPerWeek
		t.X = append(t.X, since.Unix())
		t.Ys[0] = append(t.Ys[0], hoursMean(ack, na))
		t.Ys[1] = append(t.Ys[1], hoursMean(res, nr))
		t.LastMTTA, t.LastMTTR = hoursMean(ack, na), hoursMean(res, nr)
	}
	return t
}

// trendPerWeek bounds the incidents read per week of the chart.
const trendPerWeek = 1000

func hoursMean(sum time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return round2((sum / time.Duration(n)).Hours())
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

// regDeadlines reads the regulatory clocks of the most urgent open
// incidents and returns the unsent reports, nearest due first.
func (s *Service) regDeadlines(ctx context.Context, tenant string, open []cases.Incident) ([]regDeadline, int) {
	cand := append([]cases.Incident(nil), open...)
	sort.SliceStable(cand, func(i, j int) bool { return cand[i].Priority < cand[j].Priority })
	if len(cand) > regScan {
		cand = cand[:regScan]
	}
	var out []regDeadline
	for _, inc := range cand {
		sts, err := s.o.Cases.Stages(ctx, tenant, inc.ID)
		if err != nil {
			s.o.Log.Error("console_overview_stages_failed", "err", err)
			continue
		}
		for _, st := range sts {
			if st.SubmittedAt.IsZero() && !st.Due.IsZero() && st.Status != cases.StageSubmitted && st.Status != cases.StageReplaced {
				out = append(out, regDeadline{Incident: inc, Stage: st})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Stage.Due.Before(out[j].Stage.Due) })
	if len(out) > 8 {
		out = out[:8]
	}
	return out, len(cand)
}

// overviewTrends serves the overview's slower section as a fragment the
// page loads after it is shown (hx-trigger="load").
func (s *Service) overviewTrends(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "overview", "Overview", overviewData{Slow: s.slowTiles(r.Context(), r)})
	s.render(w, r, "overview", "slow", p)
}
