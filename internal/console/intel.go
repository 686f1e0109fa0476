package console

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/api"
)

// The threat-intel page (indicators, feeds, sightings, lookup) and the
// audit trail viewer, over their APIs.

const (
	permIntelRead api.Permission = "intel:read"
	permFeedsRead api.Permission = "feeds:read"
)

type indicatorView struct {
	ID          string    `json:"id"`
	Type        string    `json:"type"`
	Value       string    `json:"value"`
	Confidence  int       `json:"confidence"`
	TLP         string    `json:"tlp"`
	Source      string    `json:"source"`
	ValidUntil  time.Time `json:"valid_until"`
	LastSeen    time.Time `json:"last_seen"`
	Sightings   int64     `json:"sightings"`
	LastSighted time.Time `json:"last_sighted"`
	Tags        []string  `json:"tags"`
	Attack      []string  `json:"attack"`
	Description string    `json:"description"`
}

type feedView struct {
	Name       string    `json:"name"`
	URL        string    `json:"url"`
	Format     string    `json:"format"`
	Interval   int64     `json:"interval"`
	Confidence int       `json:"confidence"`
	TLP        string    `json:"tlp"`
	Enabled    bool      `json:"enabled"`
	LastPulled time.Time `json:"last_pulled"`
	NextPull   time.Time `json:"next_pull"`
	LastError  string    `json:"last_error"`
	LastCount  int64     `json:"last_count"`
}

type sightingView struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	EventID  string    `json:"event_id"`
	Field    string    `json:"field"`
	Observed string    `json:"observed"`
}

type lookupView struct {
	Found  bool `json:"found"`
	Result struct {
		Type        string          `json:"type"`
		Value       string          `json:"value"`
		Indicators  []indicatorView `json:"indicators"`
		Warninglist string          `json:"warninglist"`
		Alerting    bool            `json:"alerting"`
	} `json:"result"`
}

type intelData struct {
	Tab        string
	Message    string
	Type       string
	Prefix     string
	Lookup     string
	Found      *lookupView
	Indicators []indicatorView
	Next       string
	Feeds      []feedView
	Indicator  *indicatorView
	Sightings  []sightingView
}

func (s *Service) intelRoutes() []api.Route {
	p := api.ConsolePrefix
	return []api.Route{
		{Pattern: "GET " + p + "intel", Perm: permIntelRead, Handler: s.intel},
		{Pattern: "GET " + p + "intel/indicators/{id}", Perm: permIntelRead, Handler: s.indicator},
		{Pattern: "GET " + p + "intel/feeds", Perm: permFeedsRead, Handler: s.feeds},
	}
}

func (s *Service) intel(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := intelData{Tab: "indicators", Message: q.Get("msg"), Type: q.Get("type"), Prefix: strings.TrimSpace(q.Get("prefix")),
		Lookup: strings.TrimSpace(q.Get("lookup"))}
	if d.Lookup != "" {
		var lv lookupView
		if err := s.call(r, "GET", "/api/v1/intel/lookup?"+url.Values{"value": {d.Lookup}}.Encode(), nil, &lv); err != nil {
			s.failOrSay(w, r, err, &d.Message)
		} else {
			d.Found = &lv
		}
	}
	v := url.Values{"limit": {"200"}}
	for k, x := range map[string]string{"type": d.Type, "prefix": d.Prefix, "after": q.Get("after")} {
		if x != "" {
			v.Set(k, x)
		}
	}
	var page struct {
		Indicators []indicatorView `json:"indicators"`
		Next       string          `json:"next"`
	}
	if err := s.call(r, "GET", "/api/v1/intel/indicators?"+v.Encode(), nil, &page); err != nil {
		s.failOrSay(w, r, err, &d.Message)
	}
	d.Indicators, d.Next = page.Indicators, page.Next
	s.render(w, r, "intel", "layout", s.newPage(r, "intel", "Threat intel", d))
}

func (s *Service) indicator(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	d := intelData{Tab: "indicator"}
	var ind indicatorView
	if err := s.call(r, "GET", "/api/v1/intel/indicators/"+url.PathEscape(id), nil, &ind); err != nil {
		if ae, ok := asAPIError(err); ok && ae.Status == http.StatusNotFound {
			w.WriteHeader(http.StatusNotFound)
			s.render(w, r, "notfound", "layout", s.newPage(r, "intel", "Not found", "indicator "+id))
			return
		}
		s.failOrSay(w, r, err, &d.Message)
	} else {
		d.Indicator = &ind
		var sg struct {
			Sightings []sightingView `json:"sightings"`
		}
		if err := s.call(r, "GET", "/api/v1/intel/indicators/"+url.PathEscape(id)+"/sightings?limit=200", nil, &sg); err != nil {
			s.failOrSay(w, r, err, &d.Message)
		}
		d.Sightings = sg.Sightings
	}
	s.render(w, r, "intel", "layout", s.newPage(r, "intel", "Indicator", d))
}

func (s *Service) feeds(w http.ResponseWriter, r *http.Request) {
	d := intelData{Tab: "feeds", Message: r.URL.Query().Get("msg")}
	var fs struct {
		Feeds []feedView `json:"feeds"`
	}
	if err := s.call(r, "GET", "/api/v1/intel/feeds", nil, &fs); err != nil {
		s.failOrSay(w, r, err, &d.Message)
	}
	d.Feeds = fs.Feeds
	s.render(w, r, "intel", "layout", s.newPage(r, "intel", "Intel feeds", d))
}

// --- audit trail ---------------------------------------------------------

type auditRecord struct {
	Seq     int64     `json:"seq"`
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Subject string    `json:"subject"`
	Source  string    `json:"source"`
	Outcome string    `json:"outcome"`
	Detail  any       `json:"detail"`
}

type auditData struct {
	Since   string
	Text    string
	Message string
	Records []auditRecord
	Total   int
}

// auditShown bounds the records the viewer lists.
const auditShown = 500

func (s *Service) adminRoutes() []api.Route {
	return []api.Route{{Pattern: "GET " + api.ConsolePrefix + "audit", Perm: api.PermAuditRead, Handler: s.audit}}
}

func (s *Service) audit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := auditData{Since: q.Get("since"), Text: strings.TrimSpace(q.Get("text"))}
	if !slices.Contains([]string{"1h", "24h", "7d", "30d"}, d.Since) {
		d.Since = "24h"
	}
	var recs []auditRecord
	if err := s.call(r, "GET", "/api/v1/audit?"+url.Values{"since": {d.Since}, "limit": {"10000"}}.Encode(), nil, &recs); err != nil {
		s.failOrSay(w, r, err, &d.Message)
	}
	text := strings.ToLower(d.Text)
	for i := len(recs) - 1; i >= 0; i-- {
		rec := recs[i]
		if text != "" && !strings.Contains(strings.ToLower(rec.Actor+" "+rec.Action+" "+rec.Subject+" "+rec.Outcome+" "+rec.Source), text) {
			continue
		}
		d.Total++
		if len(d.Records) < auditShown {
			d.Records = append(d.Records, rec)
		}
	}
	s.render(w, r, "audit", "layout", s.newPage(r, "audit", "Audit trail", d))
}
