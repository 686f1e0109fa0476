package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/cases"
)

// "Add as observable" from anywhere (choose the incident) and "create an
// exception" from an alert's value, both through the cases API.

// permExceptions is what making an exception needs (the API's).
const permExceptions api.Permission = "detections:tune"

type observeData struct {
	Kind, Value string
	Incidents   []cases.Incident
}

// observe serves GET /console/observe?kind=&value=: the open incidents,
// newest first, each with a button that adds the value to it.
func (s *Service) observe(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := observeData{Kind: q.Get("kind"), Value: strings.TrimSpace(q.Get("value"))}
	if d.Kind == "" {
		d.Kind = "other"
	}
	list, err := s.o.Cases.ListIncidents(r.Context(), api.TenantOf(r), cases.IncidentFilter{Open: true, Limit: 50})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Incidents = list
	s.render(w, r, "observe", "layout", s.newPage(r, "incidents", "Add as observable", d))
}

func (s *Service) exceptionRoutes() []api.Route {
	if s.o.API == nil {
		return nil
	}
	p := api.ConsolePrefix
	return []api.Route{
		{Pattern: "GET " + p + "exceptions/new", Perm: permExceptions, Handler: s.newException},
		{Pattern: "POST " + p + "exceptions", Perm: permExceptions, Handler: s.createException},
	}
}

type exceptionData struct {
	Alert          cases.Alert
	Field, Value   string
	Scope, Reason  string
	For            string
	Preview        *cases.Preview
	Message        string
	Created        string
	PreviewProblem string
}

func (s *Service) newException(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := exceptionData{Field: q.Get("field"), Value: q.Get("value"), Scope: "rule", Message: q.Get("msg")}
	a, err := s.o.Cases.GetAlert(r.Context(), api.TenantOf(r), q.Get("alert"))
	if errors.Is(err, cases.ErrNotFound) {
		w.WriteHeader(http.StatusNotFound)
		s.render(w, r, "notfound", "layout", s.newPage(r, "alerts", "Not found", "alert "+q.Get("alert")))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Alert = a
	var pv cases.Preview
	in := map[string]any{"alert_id": a.ID, "fields": map[string]string{d.Field: d.Value}, "scope": d.Scope, "reason": "preview"}
	if err := s.call(r, "POST", "/api/v1/exceptions/preview", in, &pv); err != nil {
		m, ok := userMessage(err)
		if !ok {
			s.fail(w, r, err)
			return
		}
		d.PreviewProblem = m
	} else {
		d.Preview = &pv
	}
	s.render(w, r, "exception", "layout", s.newPage(r, "alerts", "New exception", d))
}

func (s *Service) createException(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	f := r.PostForm
	alert, field, value := f.Get("alert"), f.Get("field"), f.Get("value")
	dest := exceptionURL(alert, field, value)
	reason := strings.TrimSpace(f.Get("reason"))
	if reason == "" {
		back(w, r, dest, "Not done: say why these alerts are expected (the reason is kept with the exception)")
		return
	}
	in := map[string]any{"alert_id": alert, "fields": map[string]string{field: value}, "scope": f.Get("scope"), "reason": reason}
	var x cases.Exception
	if err := s.call(r, "POST", "/api/v1/exceptions", in, &x); err != nil {
		m, ok := userMessage(err)
		if !ok {
			s.fail(w, r, err)
			return
		}
		back(w, r, dest, "Not done: "+m)
		return
	}
	back(w, r, api.ConsolePrefix+"alerts", "Exception "+x.ID+" created: "+field+" = "+value+" no longer alerts for "+url.PathEscape(x.RuleID))
}
