package console

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/cases"
)

// overviewData is the overview page; Tiles is also what the live stream
// sends.
type overviewData struct {
	Tiles tiles
	Slow  slowTiles
}

type tiles struct {
	Health  Health
	Rate    Rate
	Sources []SourceHealth
	// Cases, when the cases domain runs and the role may read it.
	Cases *casesTiles
}

type casesTiles struct {
	// OpenByPriority counts open incidents (up to casesTileLimit).
	OpenByPriority []countOf
	// AlertsBySeverity counts alerts of the last 24 h (up to the limit).
	AlertsBySeverity []countOf
	Breached         int
	Limited          bool
	// Next are the open incidents with the nearest SLA deadlines.
	Next []cases.Incident
}

type countOf struct {
	Key   string
	Count int
}

// casesTileLimit bounds the rows the overview reads per tile: the page
// stays fast with millions of alerts, and says "+" past the bound.
const casesTileLimit = 1000

func (s *Service) tiles(ctx context.Context, r *http.Request) tiles {
	t := tiles{Health: s.o.Health(), Rate: s.sampler.rate(), Sources: s.sampler.sources()}
	id, _ := api.IdentityFrom(ctx)
	if s.o.Cases == nil || !api.Allowed(id.Role, permCasesRead) || !api.Allowed(id.Role, permAlertsRead) {
		return t
	}
	tenant := api.TenantOf(r)
	ct := &casesTiles{}
	incs, err := s.o.Cases.ListIncidents(ctx, tenant, cases.IncidentFilter{Open: true, Limit: casesTileLimit})
	if err != nil {
		s.o.Log.Error("console_overview_incidents_failed", "err", err)
		return t
	}
	byPrio := map[cases.Priority]int{}
	for _, inc := range incs {
		byPrio[inc.Priority]++
		if breached(inc) {
			ct.Breached++
		}
	}
	for _, p := range []cases.Priority{cases.P1, cases.P2, cases.P3, cases.P4} {
		ct.OpenByPriority = append(ct.OpenByPriority, countOf{string(p), byPrio[p]})
	}
	ct.Next = nearestDeadlines(incs, 5)
	alerts, err := s.o.Cases.ListAlerts(ctx, tenant, cases.AlertFilter{Since: s.o.Now().Add(-24 * time.Hour), Limit: casesTileLimit})
	if err != nil {
		s.o.Log.Error("console_overview_alerts_failed", "err", err)
		return t
	}
	bySev := map[cases.Severity]int{}
	for _, a := range alerts {
		bySev[a.Severity]++
	}
	for _, sv := range []cases.Severity{cases.SevCritical, cases.SevHigh, cases.SevMedium, cases.SevLow, cases.SevInformational} {
		ct.AlertsBySeverity = append(ct.AlertsBySeverity, countOf{string(sv), bySev[sv]})
	}
	ct.Limited = len(incs) >= casesTileLimit || len(alerts) >= casesTileLimit
	t.Cases = ct
	return t
}

// nearestDeadlines returns up to n open incidents with an SLA deadline,
// nearest first.
func nearestDeadlines(incs []cases.Incident, n int) []cases.Incident {
	var out []cases.Incident
	for _, inc := range incs {
		if !nextDue(inc).IsZero() {
			out = append(out, inc)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && nextDue(out[j]).Before(nextDue(out[j-1])); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func (s *Service) overview(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "overview", "Overview", overviewData{Tiles: s.tiles(r.Context(), r)})
	s.render(w, r, "overview", "layout", p)
}

// overviewLive streams the tiles as server-sent events ("tiles", an HTML
// fragment htmx swaps in) on every tick and at once when an alert or
// incident of the caller's tenant changes.
func (s *Service) overviewLive(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	tenant := api.TenantOf(r)
	var changes <-chan struct{}
	if s.o.Bus != nil {
		ch := make(chan struct{}, 1)
		changes = ch
		for _, pat := range []string{"alert.*", "incident.*", "sla.*"} {
			sub := s.o.Bus.Subscribe(pat, 64)
			defer sub.Close()
			go func() {
				for e := range sub.C() {
					if e.Tenant == tenant {
						select {
						case ch <- struct{}{}:
						default:
						}
					}
				}
			}()
		}
	}
	tick, stop := s.o.Tick()
	defer stop()
	send := func() bool {
		p := s.newPage(r, "overview", "", overviewData{Tiles: s.tiles(r.Context(), r)})
		var buf bytes.Buffer
		if err := s.pages["overview"].ExecuteTemplate(&buf, "tiles", p); err != nil {
			s.o.Log.Error("console_live_render_failed", "err", err)
			return false
		}
		if err := writeSSE(w, "tiles", buf.Bytes()); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send() {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick:
		case <-changes:
		}
		if !send() {
			return
		}
	}
}

// writeSSE writes one event; every line of data gets its own "data:".
func writeSSE(w http.ResponseWriter, name string, data []byte) error {
	var b strings.Builder
	b.WriteString("event: " + name + "\n")
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		b.WriteString("data: ")
		b.Write(sc.Bytes())
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	_, err := w.Write([]byte(b.String()))
	return err
}

// breached reports an incident with any SLA clock breached.
func breached(inc cases.Incident) bool {
	return !inc.SLA.AckBreachedAt.IsZero() || !inc.SLA.ContainBreachedAt.IsZero() || !inc.SLA.ResolveBreachedAt.IsZero()
}

// nextDue is the deadline of the first SLA clock still running.
func nextDue(inc cases.Incident) time.Time {
	switch {
	case inc.AckAt.IsZero() && !inc.SLA.AckDue.IsZero():
		return inc.SLA.AckDue
	case inc.ContainedAt.IsZero() && !inc.SLA.ContainDue.IsZero():
		return inc.SLA.ContainDue
	case inc.ResolvedAt.IsZero():
		return inc.SLA.ResolveDue
	}
	return time.Time{}
}
