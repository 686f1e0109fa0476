package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/cases"
)

// The alert queue and incident pages, over package cases.

// timelineShown bounds the incident timeline the page shows (the
// newest entries); the API has all of them.
const timelineShown = 300

// alertsLimit bounds one page of the queue.
const alertsLimit = 200

// groupings of the alert queue.
var alertGroupings = []string{"none", "rule", "host", "user", "severity"}

type alertsData struct {
	Severity   string
	Severities []cases.Severity
	Group      string
	Groupings  []string
	Alerts     []cases.Alert
	Groups     []alertGroup
	Message    string
	// Views are the caller's saved views; View the one applied; CanSave
	// whether views can be saved here (a state database is wired).
	Views   []savedView
	View    string
	CanSave bool
}

// alertGroup is alerts sharing a key, with their count.
type alertGroup struct {
	Key    string
	Alerts []cases.Alert
}

func (s *Service) alerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := alertsData{Severity: q.Get("severity"), Group: q.Get("group"), Groupings: alertGroupings,
		Severities: []cases.Severity{cases.SevCritical, cases.SevHigh, cases.SevMedium, cases.SevLow, cases.SevInformational},
		Message:    q.Get("msg"), View: q.Get("view"), CanSave: s.o.DB != nil}
	views, err := s.alertViews(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Views = views
	f := cases.AlertFilter{Limit: alertsLimit}
	if d.Severity != "" {
		sev, err := cases.ParseSeverity(d.Severity)
		if err != nil {
			d.Message = err.Error()
			d.Severity = ""
		} else {
			f.Severity = sev
		}
	}
	list, err := s.o.Cases.ListAlerts(r.Context(), api.TenantOf(r), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Alerts = list
	if d.Group != "" && d.Group != "none" {
		d.Groups = groupAlerts(list, d.Group)
	}
	p := s.newPage(r, "alerts", "Alert queue", d)
	if r.Header.Get("HX-Request") != "" && r.Header.Get("HX-Target") == "alert-queue" {
		s.render(w, r, "alerts", "queue", p)
		return
	}
	s.render(w, r, "alerts", "layout", p)
}

// groupAlerts groups by rule, severity or an entity kind; an alert with
// several entities of the kind is in each of their groups.
func groupAlerts(list []cases.Alert, by string) []alertGroup {
	idx := map[string]int{}
	var out []alertGroup
	add := func(key string, a cases.Alert) {
		i, ok := idx[key]
		if !ok {
			i = len(out)
			idx[key] = i
			out = append(out, alertGroup{Key: key})
		}
		out[i].Alerts = append(out[i].Alerts, a)
	}
	for _, a := range list {
		switch by {
		case "rule":
			add(a.RuleTitle, a)
		case "severity":
			add(string(a.Severity), a)
		default:
			n := 0
			for _, e := range a.Entities {
				if e.Kind == by {
					add(e.Value, a)
					n++
				}
			}
			if n == 0 {
				add("(no "+by+")", a)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].Alerts) > len(out[j].Alerts) })
	return out
}

// triageAction is what the queue does to the incidents of chosen alerts.
type triageAction string

const (
	// triageAck moves a new incident to triage: someone is on it.
	triageAck triageAction = "ack"
	// triageEscalate raises the priority one step (P1 stays P1) and
	// moves a new incident to triage.
	triageEscalate triageAction = "escalate"
)

func parseTriageAction(s string) (triageAction, error) {
	switch a := triageAction(s); a {
	case triageAck, triageEscalate:
		return a, nil
	}
	return "", userError{fmt.Sprintf("action %q: want ack or escalate", s)}
}

func raise(p cases.Priority) cases.Priority {
	switch p {
	case cases.P1, cases.P2:
		return cases.P1
	case cases.P3:
		return cases.P2
	case cases.P4:
		return cases.P3
	}
	return p
}

// triage serves POST /console/alerts/triage (form: action, alert ids):
// it acts on the incidents the alerts belong to, once each.
func (s *Service) triage(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	action, err := parseTriageAction(r.PostForm.Get("action"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ids := r.PostForm["id"]
	if len(ids) == 0 || len(ids) > alertsLimit {
		http.Error(w, fmt.Sprintf("choose between 1 and %d alerts", alertsLimit), http.StatusBadRequest)
		return
	}
	id, _ := api.IdentityFrom(r.Context())
	tenant := api.TenantOf(r)
	done := map[string]bool{}
	changed := 0
	for _, aid := range ids {
		a, err := s.o.Cases.GetAlert(r.Context(), tenant, aid)
		if errors.Is(err, cases.ErrNotFound) {
			continue // another tenant's or gone: nothing to do, nothing to reveal
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if a.IncidentID == "" || done[a.IncidentID] {
			continue
		}
		done[a.IncidentID] = true
		inc, err := s.o.Cases.GetIncident(r.Context(), tenant, a.IncidentID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		var patch cases.IncidentPatch
		if inc.Status == cases.StatusNew {
			st := cases.StatusTriage
			patch.Status = &st
		}
		switch action {
		case triageAck:
		case triageEscalate:
			if pr := raise(inc.Priority); pr != inc.Priority {
				patch.Priority = &pr
			}
		}
		if patch.Status == nil && patch.Priority == nil {
			continue
		}
		if _, err := s.o.Cases.UpdateIncident(r.Context(), tenant, inc.ID, inc.Version, patch, id.Subject); err != nil {
			if errors.Is(err, cases.ErrConflict) || cases.IsUserError(err) {
				continue
			}
			s.fail(w, r, err)
			return
		}
		changed++
	}
	msg := fmt.Sprintf("%s: %d incident(s) updated", map[triageAction]string{triageAck: "Acknowledged", triageEscalate: "Escalated"}[action], changed)
	back := api.ConsolePrefix + "alerts?msg=" + strings.ReplaceAll(msg, " ", "+")
	if r.Header.Get("HX-Request") != "" {
		w.Header().Set("HX-Redirect", back)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

type incidentsData struct {
	Open      bool
	Priority  string
	Text      string
	Incidents []cases.Incident
}

func (s *Service) incidents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := incidentsData{Open: q.Get("all") == "", Priority: q.Get("priority"), Text: q.Get("text")}
	f := cases.IncidentFilter{Open: d.Open, Text: d.Text, Limit: alertsLimit}
	if pr := cases.Priority(d.Priority); pr.Valid() {
		f.Priority = pr
	} else {
		d.Priority = ""
	}
	list, err := s.o.Cases.ListIncidents(r.Context(), api.TenantOf(r), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Incidents = list
	s.render(w, r, "incidents", "layout", s.newPage(r, "incidents", "Incidents", d))
}

type incidentData struct {
	Inc         cases.Incident
	Timeline    []cases.TimelineEntry
	Tasks       []cases.Task
	Observables []cases.Observable
	Stages      []cases.RegStage
	Evidence    []cases.Evidence
	Alerts      []cases.Alert
	Message     string
	// TimelineHidden counts the older entries left out of Timeline.
	TimelineHidden int
	Statuses       []cases.Status
	// Assignees are the tenant's users (when the role may list them).
	Assignees []string
	// Playbooks can be run from here; Runs ran for this incident.
	Playbooks []string
	Runs      []runView
}

// alertTable is a list of alerts and whether the reader may make
// exceptions from their values.
type alertTable struct {
	Alerts []cases.Alert
	Can    bool
}

func (s *Service) incident(w http.ResponseWriter, r *http.Request) {
	ctx, tenant, id := r.Context(), api.TenantOf(r), r.PathValue("id")
	inc, err := s.o.Cases.GetIncident(ctx, tenant, id)
	if errors.Is(err, cases.ErrNotFound) {
		w.WriteHeader(http.StatusNotFound)
		s.render(w, r, "notfound", "layout", s.newPage(r, "incidents", "Not found", "incident "+id))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := incidentData{Inc: inc, Message: r.URL.Query().Get("msg"), Statuses: cases.Statuses}
	steps := []func() error{
		func() (err error) { d.Timeline, err = s.o.Cases.Timeline(ctx, tenant, id); return },
		func() (err error) { d.Tasks, err = s.o.Cases.Tasks(ctx, tenant, id); return },
		func() (err error) { d.Observables, err = s.o.Cases.Observables(ctx, tenant, id); return },
		func() (err error) { d.Stages, err = s.o.Cases.Stages(ctx, tenant, id); return },
		func() (err error) {
			d.Alerts, err = s.o.Cases.ListAlerts(ctx, tenant, cases.AlertFilter{IncidentID: id, Limit: alertsLimit})
			return
		},
	}
	id2, _ := api.IdentityFrom(ctx)
	if api.Allowed(id2.Role, "evidence:read") {
		steps = append(steps, func() (err error) { d.Evidence, err = s.o.Cases.EvidenceList(ctx, tenant, id); return })
	}
	for _, step := range steps {
		if err := step(); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if n := len(d.Timeline); n > timelineShown {
		d.TimelineHidden = n - timelineShown
		d.Timeline = d.Timeline[n-timelineShown:]
	}
	if s.o.Users != nil && api.Allowed(id2.Role, api.PermUsersRead) {
		if us, err := s.o.Users.List(ctx, tenant); err == nil {
			for _, u := range us {
				if !u.Disabled {
					d.Assignees = append(d.Assignees, u.Username)
				}
			}
		}
	}
	if s.hasAPI() && api.Allowed(id2.Role, permPlaybooksRead) {
		var pbs []playbookView
		if err := s.call(r, "GET", "/api/v1/playbooks", nil, &pbs); err == nil {
			for _, pb := range pbs {
				d.Playbooks = append(d.Playbooks, pb.Name)
			}
		}
		if err := s.call(r, "GET", "/api/v1/playbook-runs?limit=50&incident="+url.QueryEscape(id), nil, &d.Runs); err != nil {
			s.o.Log.Warn("console_incident_runs_failed", "err", err)
		}
	}
	s.render(w, r, "incident", "layout", s.newPage(r, "incidents", inc.Title, d))
}
