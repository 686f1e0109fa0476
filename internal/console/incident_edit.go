package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/cases"
)

// Incident changes from the console. Each is a form posted with htmx
// (the CSRF header rides along) and carried out by the cases API in
// process, so the permission, the audit record and the validation are
// the API's; the page comes back with the API's answer as a notice.

// incidentWrite is one change the incident page offers.
type incidentWrite struct {
	name string
	perm api.Permission
	// build turns the form into the API call: method, path under the
	// incident, JSON body, and the notice shown on success.
	build func(f url.Values, version string) (method, sub string, body any, msg string, err error)
}

var incidentWrites = []incidentWrite{
	{"status", "cases:write", func(f url.Values, v string) (string, string, any, string, error) {
		st := cases.Status(f.Get("status"))
		if !st.Valid() {
			return "", "", nil, "", userError{fmt.Sprintf("status %q: want one of %v", f.Get("status"), cases.Statuses)}
		}
		body := map[string]any{"status": st}
		if res := f.Get("resolution"); res != "" {
			body["resolution"] = res
		}
		if ver := versionOf(v); ver > 0 {
			body["version"] = ver
		}
		return "PATCH", "", body, "Status set to " + string(st), nil
	}},
	{"assign", "cases:assign", func(f url.Values, v string) (string, string, any, string, error) {
		who := strings.TrimSpace(f.Get("assignee"))
		body := map[string]any{"assignee": who}
		if t := strings.TrimSpace(f.Get("team")); t != "" {
			body["team"] = t
		}
		msg := "Assigned to " + who
		if who == "" {
			msg = "Unassigned"
		}
		return "POST", "/assign", body, msg, nil
	}},
	{"comment", "cases:comment", func(f url.Values, _ string) (string, string, any, string, error) {
		text := strings.TrimSpace(f.Get("body"))
		if text == "" {
			return "", "", nil, "", userError{"comment: write something first"}
		}
		return "POST", "/comments", map[string]string{"body": text}, "Comment added", nil
	}},
	{"tasks", "cases:write", func(f url.Values, _ string) (string, string, any, string, error) {
		title := strings.TrimSpace(f.Get("title"))
		if title == "" {
			return "", "", nil, "", userError{"task: give it a title"}
		}
		return "POST", "/tasks", map[string]string{"title": title, "assignee": strings.TrimSpace(f.Get("assignee"))}, "Task added", nil
	}},
	{"task", "cases:write", func(f url.Values, _ string) (string, string, any, string, error) {
		id := f.Get("task")
		if id == "" || strings.ContainsAny(id, "/?#") {
			return "", "", nil, "", userError{"task: which one?"}
		}
		done := f.Get("done") == "true"
		msg := "Task reopened"
		if done {
			msg = "Task done"
		}
		return "POST", "/tasks/" + url.PathEscape(id), map[string]bool{"done": done}, msg, nil
	}},
	{"observables", "cases:write", func(f url.Values, _ string) (string, string, any, string, error) {
		kind, value := strings.TrimSpace(f.Get("kind")), strings.TrimSpace(f.Get("value"))
		if kind == "" || value == "" {
			return "", "", nil, "", userError{"observable: give a kind and a value"}
		}
		body := map[string]string{"kind": kind, "value": value}
		if t := f.Get("tlp"); t != "" {
			body["tlp"] = t
		}
		return "POST", "/observables", body, "Observable " + value + " added", nil
	}},
	{"regulatory", "cases:regulatory", func(f url.Values, _ string) (string, string, any, string, error) {
		reg := cases.Regime(f.Get("regime"))
		if !reg.Valid() {
			return "", "", nil, "", userError{fmt.Sprintf("regime %q: want nis2, gdpr or dora", f.Get("regime"))}
		}
		return "POST", "/regulatory", map[string]any{"regime": reg}, "Flagged for " + strings.ToUpper(string(reg)) + ": the clocks run", nil
	}},
	{"submit", "cases:regulatory", func(f url.Values, _ string) (string, string, any, string, error) {
		reg, stage := f.Get("regime"), f.Get("stage")
		if !cases.Regime(reg).Valid() || stage == "" || strings.ContainsAny(stage, "/?#") {
			return "", "", nil, "", userError{"submit: which regime and stage?"}
		}
		return "POST", "/regulatory/" + reg + "/" + url.PathEscape(stage) + "/submit",
			map[string]string{"reference": strings.TrimSpace(f.Get("reference"))}, "Report " + stage + " marked submitted", nil
	}},
	{"run", "playbooks:run", func(f url.Values, _ string) (string, string, any, string, error) {
		name := f.Get("playbook")
		if name == "" || strings.ContainsAny(name, "/?#") {
			return "", "", nil, "", userError{"run: choose a playbook"}
		}
		return "POST", "/playbooks/" + url.PathEscape(name) + "/run", map[string]any{}, "Playbook " + name + " started", nil
	}},
}

func versionOf(s string) int64 {
	var v int64
	if _, err := fmt.Sscan(s, &v); err != nil {
		return 0
	}
	return v
}

// incidentWriteRoutes are the incident page's forms.
func (s *Service) incidentWriteRoutes() []api.Route {
	var rs []api.Route
	for _, iw := range incidentWrites {
		rs = append(rs, api.Route{Pattern: "POST " + api.ConsolePrefix + "incidents/{id}/" + iw.name, Perm: iw.perm, Handler: s.incidentWrite(iw)})
	}
	return rs
}

func (s *Service) incidentWrite(iw incidentWrite) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		dest := api.ConsolePrefix + "incidents/" + url.PathEscape(id)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		method, sub, body, msg, err := iw.build(r.PostForm, r.PostForm.Get("version"))
		if err == nil {
			path := "/api/v1/incidents/" + url.PathEscape(id) + sub
			err = s.call(r, method, path, body, nil)
		}
		if err != nil {
			if ae, ok := asAPIError(err); ok && ae.Status == http.StatusNotFound {
				w.WriteHeader(http.StatusNotFound)
				s.render(w, r, "notfound", "layout", s.newPage(r, "incidents", "Not found", "incident "+id))
				return
			}
			m, ok := userMessage(err)
			if !ok {
				s.fail(w, r, err)
				return
			}
			if ae, ok := asAPIError(err); ok && ae.Status == http.StatusConflict {
				m = "Someone changed the incident meanwhile: here it is again, try once more"
			}
			back(w, r, dest, "Not done: "+m)
			return
		}
		back(w, r, dest, msg)
	}
}

// reportDraft shows the draft of one regulatory report.
func (s *Service) reportDraft(w http.ResponseWriter, r *http.Request) {
	ctx, tenant, id := r.Context(), api.TenantOf(r), r.PathValue("id")
	rep, err := s.o.Cases.DraftReport(ctx, tenant, id, cases.Regime(r.PathValue("regime")), r.PathValue("stage"))
	if errors.Is(err, cases.ErrNotFound) {
		w.WriteHeader(http.StatusNotFound)
		s.render(w, r, "notfound", "layout", s.newPage(r, "incidents", "Not found", "report draft"))
		return
	}
	if err != nil {
		if isUserError(err) {
			w.WriteHeader(http.StatusBadRequest)
			s.render(w, r, "notfound", "layout", s.newPage(r, "incidents", "Not found", err.Error()))
			return
		}
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "report", "layout", s.newPage(r, "incidents", rep.RegimeName+" "+rep.Stage, rep))
}
