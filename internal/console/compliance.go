package console

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/comply"
)

// The compliance dashboards: one per framework, over the compliance API
// (coverage, status, trend, failing subjects, expiring waivers, evidence
// due for renewal, the regulatory-clock on-time rate), with every
// requirement's status drilling down to its checks' results and its
// evidence.

type complianceData struct {
	Message    string
	Frameworks []comply.CatalogSummary
	Framework  string
	Days       int
	Dash       *comply.Dashboard
	View       *comply.View
	// Statuses orders the summary counts.
	Statuses []comply.Status
}

func (s *Service) complianceRoutes() []api.Route {
	p := api.ConsolePrefix
	return []api.Route{
		{Pattern: "GET " + p + "compliance", Perm: api.PermComplianceRead, Handler: s.compliance},
		{Pattern: "GET " + p + "compliance/{id}", Perm: api.PermComplianceRead, Handler: s.complianceFramework},
	}
}

var complianceStatuses = []comply.Status{comply.StatusPass, comply.StatusFail, comply.StatusWaived,
	comply.StatusError, comply.StatusNotApplicable, comply.StatusUnknown}

func (s *Service) compliance(w http.ResponseWriter, r *http.Request) {
	d := complianceData{Message: r.URL.Query().Get("msg")}
	if err := s.call(r, "GET", "/api/v1/compliance/frameworks", nil, &d.Frameworks); err != nil {
		s.failOrSay(w, r, err, &d.Message)
	}
	s.render(w, r, "compliance", "layout", s.newPage(r, "compliance", "Compliance", d))
}

func (s *Service) complianceFramework(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	days, _ := strconv.Atoi(r.URL.Query().Get("days"))
	if !slices.Contains([]int{7, 30, 90, 365}, days) {
		days = 90
	}
	d := complianceData{Framework: id, Days: days, Statuses: complianceStatuses}
	var dash comply.Dashboard
	if err := s.call(r, "GET", "/api/v1/compliance/dashboard/"+url.PathEscape(id)+"?days="+strconv.Itoa(days), nil, &dash); err != nil {
		if ae, ok := asAPIError(err); ok && ae.Status == http.StatusNotFound {
			w.WriteHeader(http.StatusNotFound)
			s.render(w, r, "notfound", "layout", s.newPage(r, "compliance", "Not found", "framework "+id))
			return
		}
		s.failOrSay(w, r, err, &d.Message)
	} else {
		d.Dash = &dash
	}
	var view comply.View
	if err := s.call(r, "GET", "/api/v1/compliance/frameworks/"+url.PathEscape(id), nil, &view); err != nil {
		s.failOrSay(w, r, err, &d.Message)
	} else {
		d.View = &view
	}
	title := id
	if d.Dash != nil && d.Dash.Name != "" {
		title = d.Dash.Name
	}
	s.render(w, r, "compliance", "layout", s.newPage(r, "compliance", title, d))
}
