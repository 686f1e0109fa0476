package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/cases"
)

// Incident response permissions. The SOC roles' patterns place them
// (analysts read and comment, responders work cases, managers assign and
// read metrics, auditors read); ingest tokens may also send alerts.
const (
	PermAlertsRead     Permission = "alerts:read"
	PermAlertsWrite    Permission = "alerts:write"
	PermAlertsComment  Permission = "alerts:comment"
	PermCasesRead      Permission = "cases:read"
	PermCasesWrite     Permission = "cases:write"
	PermCasesComment   Permission = "cases:comment"
	PermCasesAssign    Permission = "cases:assign"
	PermCasesRegulator Permission = "cases:regulatory"
	PermEvidenceRead   Permission = "evidence:read"
	PermEvidenceWrite  Permission = "evidence:write"
	PermCaseMetrics    Permission = "metrics:read"
	// Exceptions (tuning) are detection content: engineers write them,
	// analysts and managers read them.
	PermExceptionsRead  Permission = "detections:read"
	PermExceptionsWrite Permission = "detections:tune"
)

func init() {
	for _, p := range []Permission{PermAlertsRead, PermAlertsComment, PermCasesRead, PermCasesWrite, PermCasesComment,
		PermCasesAssign, PermCasesRegulator, PermEvidenceRead, PermEvidenceWrite, PermCaseMetrics, PermExceptionsRead, PermExceptionsWrite} {
		RegisterPermission(p, RoleAdmin)
	}
	RegisterPermission(PermAlertsWrite, RoleAdmin, RoleIngest)
}

// maxAlertBody bounds POST /api/v1/alerts (a batch of alerts with their
// event copies).
const maxAlertBody = 16 << 20

// CasesRoutes are the endpoints of alerts, incidents and their clocks.
func CasesRoutes(svc *cases.Service) []Route {
	h := casesHandlers{svc}
	inc := "/api/v1/incidents/{id}"
	return []Route{
		{Pattern: "POST /api/v1/alerts", Perm: PermAlertsWrite, Handler: h.raise},
		{Pattern: "GET /api/v1/alerts", Perm: PermAlertsRead, Handler: h.listAlerts},
		{Pattern: "GET /api/v1/alerts/{id}", Perm: PermAlertsRead, Handler: h.getAlert},
		{Pattern: "GET /api/v1/alerts/{id}/notes", Perm: PermAlertsRead, Handler: h.alertNotes},
		{Pattern: "POST /api/v1/alerts/{id}/notes", Perm: PermAlertsComment, Handler: h.addAlertNote},

		{Pattern: "GET /api/v1/incidents", Perm: PermCasesRead, Handler: h.listIncidents},
		{Pattern: "POST /api/v1/incidents", Perm: PermCasesWrite, Handler: h.createIncident},
		{Pattern: "GET " + inc, Perm: PermCasesRead, Handler: h.getIncident},
		{Pattern: "PATCH " + inc, Perm: PermCasesWrite, Handler: h.updateIncident},
		{Pattern: "POST " + inc + "/assign", Perm: PermCasesAssign, Handler: h.assign},
		{Pattern: "POST " + inc + "/merge", Perm: PermCasesWrite, Handler: h.merge},
		{Pattern: "POST " + inc + "/split", Perm: PermCasesWrite, Handler: h.split},
		{Pattern: "GET " + inc + "/timeline", Perm: PermCasesRead, Handler: h.timeline},
		{Pattern: "POST " + inc + "/timeline", Perm: PermCasesComment, Handler: h.addTimeline},
		{Pattern: "GET " + inc + "/comments", Perm: PermCasesRead, Handler: h.comments},
		{Pattern: "POST " + inc + "/comments", Perm: PermCasesComment, Handler: h.addComment},
		{Pattern: "GET " + inc + "/tasks", Perm: PermCasesRead, Handler: h.tasks},
		{Pattern: "POST " + inc + "/tasks", Perm: PermCasesWrite, Handler: h.addTask},
		{Pattern: "POST " + inc + "/tasks/{task}", Perm: PermCasesWrite, Handler: h.setTask},
		{Pattern: "GET " + inc + "/observables", Perm: PermCasesRead, Handler: h.observables},
		{Pattern: "POST " + inc + "/observables", Perm: PermCasesWrite, Handler: h.addObservable},
		{Pattern: "GET " + inc + "/similar", Perm: PermCasesRead, Handler: h.similar},
		{Pattern: "GET " + inc + "/evidence", Perm: PermEvidenceRead, Handler: h.evidenceList},
		{Pattern: "POST " + inc + "/evidence", Perm: PermEvidenceWrite, Handler: h.addEvidence},
		{Pattern: "GET " + inc + "/evidence/{ev}", Perm: PermEvidenceRead, Handler: h.getEvidence},
		{Pattern: "GET " + inc + "/evidence/{ev}/content", Perm: PermEvidenceRead, Handler: h.downloadEvidence},
		{Pattern: "GET " + inc + "/regulatory", Perm: PermCasesRead, Handler: h.regulatory},
		{Pattern: "POST " + inc + "/regulatory", Perm: PermCasesRegulator, Handler: h.flag},
		{Pattern: "PUT " + inc + "/regulatory/{regime}/facts", Perm: PermCasesRegulator, Handler: h.facts},
		{Pattern: "POST " + inc + "/regulatory/{regime}/{stage}/submit", Perm: PermCasesRegulator, Handler: h.submit},
		{Pattern: "POST " + inc + "/regulatory/{regime}/{stage}/request", Perm: PermCasesRegulator, Handler: h.request},
		{Pattern: "GET " + inc + "/regulatory/{regime}/{stage}/report", Perm: PermCasesRead, Handler: h.report},
		{Pattern: "GET /api/v1/cases/metrics", Perm: PermCaseMetrics, Handler: h.metrics},
		{Pattern: "GET /api/v1/cases/regulatory-catalog", Perm: PermCasesRead, Handler: h.catalog},

		{Pattern: "POST /api/v1/exceptions/preview", Perm: PermExceptionsWrite, Handler: h.previewException},
		{Pattern: "POST /api/v1/exceptions", Perm: PermExceptionsWrite, Handler: h.createException},
		{Pattern: "GET /api/v1/exceptions", Perm: PermExceptionsRead, Handler: h.listExceptions},
		{Pattern: "GET /api/v1/exceptions/filters", Perm: PermExceptionsRead, Handler: h.filters},
		{Pattern: "GET /api/v1/exceptions/{id}", Perm: PermExceptionsRead, Handler: h.getException},
		{Pattern: "PATCH /api/v1/exceptions/{id}", Perm: PermExceptionsWrite, Handler: h.updateException},
	}
}

type casesHandlers struct{ svc *cases.Service }

// casesError maps domain errors: not found 404, conflict 409, bad input
// 400 with its safe message, a failed evidence hash 409, anything else
// 500 with an id that is also logged.
func (h casesHandlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ue *cases.UserError
	switch {
	case errors.Is(err, cases.ErrNotFound):
		writeError(w, http.StatusNotFound, "not found")
	case errors.Is(err, cases.ErrConflict):
		writeError(w, http.StatusConflict, "the incident was changed by someone else; read it again")
	case errors.Is(err, cases.ErrTampered):
		writeError(w, http.StatusConflict, "evidence failed its SHA-256 check; the failure is recorded in its chain of custody")
	case errors.As(err, &ue):
		writeError(w, http.StatusBadRequest, ue.Error())
	default:
		id := newErrorID()
		h.svc.Logger().Error("cases_request_failed", "error_id", id, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error (id "+id+")")
	}
}

// decode reads a strict JSON body.
func decode(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", limit))
			return false
		}
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

func queryLimit(w http.ResponseWriter, r *http.Request) (int, bool) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return 0, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		writeError(w, http.StatusBadRequest, "limit: want a number ≥ 0")
		return 0, false
	}
	return n, true
}

func queryTime(w http.ResponseWriter, r *http.Request, name string, now time.Time) (time.Time, bool) {
	t, err := ParseTime(r.URL.Query().Get(name), now)
	if err != nil {
		writeError(w, http.StatusBadRequest, name+": "+err.Error())
		return t, false
	}
	return t, true
}

// raise accepts one alert object or an array of them.
func (h casesHandlers) raise(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAlertBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxAlertBody))
		return
	}
	var ins []cases.AlertInput
	trimmed := strings.TrimSpace(string(body))
	dec := json.NewDecoder(strings.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if strings.HasPrefix(trimmed, "[") {
		err = dec.Decode(&ins)
	} else {
		var one cases.AlertInput
		err = dec.Decode(&one)
		ins = append(ins, one)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return
	}
	if len(ins) == 0 || len(ins) > 1000 {
		writeError(w, http.StatusBadRequest, "send 1 to 1000 alerts")
		return
	}
	out, err := h.svc.RaiseAlerts(r.Context(), TenantOf(r), ins)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for i := range out {
		out[i].Events = nil
	}
	if !strings.HasPrefix(trimmed, "[") {
		writeJSON(w, http.StatusCreated, out[0])
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (h casesHandlers) listAlerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, ok := queryLimit(w, r)
	if !ok {
		return
	}
	now := h.svc.Now()
	since, ok := queryTime(w, r, "since", now)
	if !ok {
		return
	}
	before, ok := queryTime(w, r, "before", now)
	if !ok {
		return
	}
	f := cases.AlertFilter{IncidentID: q.Get("incident"), RuleID: q.Get("rule"), Since: since, Before: before, Limit: limit}
	if s := q.Get("severity"); s != "" {
		sev, err := cases.ParseSeverity(s)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		f.Severity = sev
	}
	as, err := h.svc.ListAlerts(r.Context(), TenantOf(r), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, as)
}

func (h casesHandlers) getAlert(w http.ResponseWriter, r *http.Request) {
	a, err := h.svc.GetAlert(r.Context(), TenantOf(r), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (h casesHandlers) alertNotes(w http.ResponseWriter, r *http.Request) {
	if _, err := h.svc.GetAlert(r.Context(), TenantOf(r), r.PathValue("id")); err != nil {
		h.fail(w, r, err)
		return
	}
	cs, err := h.svc.Comments(r.Context(), TenantOf(r), "alert", r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, cs)
}

type bodyText struct {
	Body string `json:"body"`
}

func (h casesHandlers) addAlertNote(w http.ResponseWriter, r *http.Request) {
	var b bodyText
	if !decode(w, r, 1<<20, &b) {
		return
	}
	c, err := h.svc.AddAlertNote(r.Context(), TenantOf(r), r.PathValue("id"), b.Body, actorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, c)
}

func (h casesHandlers) listIncidents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, ok := queryLimit(w, r)
	if !ok {
		return
	}
	now := h.svc.Now()
	since, ok := queryTime(w, r, "since", now)
	if !ok {
		return
	}
	before, ok := queryTime(w, r, "before", now)
	if !ok {
		return
	}
	f := cases.IncidentFilter{Open: q.Get("open") == "true", Priority: cases.Priority(strings.ToUpper(q.Get("priority"))),
		Assignee: q.Get("assignee"), Text: q.Get("q"), Since: since, Before: before, Limit: limit}
	for _, s := range q["status"] {
		for _, st := range strings.Split(s, ",") {
			f.Status = append(f.Status, cases.Status(st))
		}
	}
	if s := q.Get("severity"); s != "" {
		sev, err := cases.ParseSeverity(s)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		f.Severity = sev
	}
	if f.Priority != "" && !f.Priority.Valid() {
		writeError(w, http.StatusBadRequest, "priority: want P1, P2, P3 or P4")
		return
	}
	out, err := h.svc.ListIncidents(r.Context(), TenantOf(r), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if out == nil {
		out = []cases.Incident{}
	}
	writeJSON(w, http.StatusOK, out)
}

func (h casesHandlers) createIncident(w http.ResponseWriter, r *http.Request) {
	var n cases.NewIncident
	if !decode(w, r, 1<<20, &n) {
		return
	}
	inc, err := h.svc.CreateIncident(r.Context(), TenantOf(r), n, actorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, inc)
}

// IncidentDetail is GET /api/v1/incidents/{id}: the incident with its
// tasks, observables and regulatory stages.
type IncidentDetail struct {
	cases.Incident
	Tasks       []cases.Task       `json:"tasks"`
	Observables []cases.Observable `json:"observables"`
	Regulatory  []cases.RegStage   `json:"regulatory"`
}

func (h casesHandlers) getIncident(w http.ResponseWriter, r *http.Request) {
	ctx, tenant, id := r.Context(), TenantOf(r), r.PathValue("id")
	inc, err := h.svc.GetIncident(ctx, tenant, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := IncidentDetail{Incident: inc}
	if d.Tasks, err = h.svc.Tasks(ctx, tenant, id); err == nil {
		if d.Observables, err = h.svc.Observables(ctx, tenant, id); err == nil {
			d.Regulatory, err = h.svc.Stages(ctx, tenant, id)
		}
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

type incidentPatch struct {
	cases.IncidentPatch
	// Version, when set, must be the incident's current version.
	Version int64 `json:"version,omitempty"`
}

func (h casesHandlers) updateIncident(w http.ResponseWriter, r *http.Request) {
	var p incidentPatch
	if !decode(w, r, 1<<20, &p) {
		return
	}
	if r.Header.Get("If-Match") != "" && p.Version == 0 {
		v, err := strconv.ParseInt(strings.Trim(r.Header.Get("If-Match"), `"`), 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "If-Match: want the incident's version")
			return
		}
		p.Version = v
	}
	inc, err := h.svc.UpdateIncident(r.Context(), TenantOf(r), r.PathValue("id"), p.Version, p.IncidentPatch, actorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, inc)
}

func (h casesHandlers) assign(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Assignee *string `json:"assignee"`
		Team     *string `json:"team"`
		Version  int64   `json:"version,omitempty"`
	}
	if !decode(w, r, 1<<20, &b) {
		return
	}
	inc, err := h.svc.UpdateIncident(r.Context(), TenantOf(r), r.PathValue("id"), b.Version,
		cases.IncidentPatch{Assignee: b.Assignee, Team: b.Team}, actorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, inc)
}

func (h casesHandlers) merge(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Incidents []string `json:"incidents"`
	}
	if !decode(w, r, 1<<20, &b) {
		return
	}
	inc, err := h.svc.MergeIncidents(r.Context(), TenantOf(r), r.PathValue("id"), b.Incidents, actorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, inc)
}

func (h casesHandlers) split(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Alerts []string `json:"alerts"`
	}
	if !decode(w, r, 1<<20, &b) {
		return
	}
	inc, err := h.svc.SplitIncident(r.Context(), TenantOf(r), r.PathValue("id"), b.Alerts, actorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, inc)
}

func (h casesHandlers) timeline(w http.ResponseWriter, r *http.Request) {
	tl, err := h.svc.Timeline(r.Context(), TenantOf(r), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if tl == nil {
		tl = []cases.TimelineEntry{}
	}
	writeJSON(w, http.StatusOK, tl)
}

func (h casesHandlers) addTimeline(w http.ResponseWriter, r *http.Request) {
	var b struct {
		At   time.Time `json:"at"`
		Text string    `json:"text"`
	}
	if !decode(w, r, 1<<20, &b) {
		return
	}
	if err := h.svc.AddTimelineEntry(r.Context(), TenantOf(r), r.PathValue("id"), b.At, b.Text, actorOf(r)); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"status": "added"})
}

func (h casesHandlers) comments(w http.ResponseWriter, r *http.Request) {
	if _, err := h.svc.GetIncident(r.Context(), TenantOf(r), r.PathValue("id")); err != nil {
		h.fail(w, r, err)
		return
	}
	cs, err := h.svc.Comments(r.Context(), TenantOf(r), "incident", r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, cs)
}

func (h casesHandlers) addComment(w http.ResponseWriter, r *http.Request) {
	var b bodyText
	if !decode(w, r, 1<<20, &b) {
		return
	}
	c, err := h.svc.AddComment(r.Context(), TenantOf(r), r.PathValue("id"), b.Body, actorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, c)
}

func (h casesHandlers) tasks(w http.ResponseWriter, r *http.Request) {
	if _, err := h.svc.GetIncident(r.Context(), TenantOf(r), r.PathValue("id")); err != nil {
		h.fail(w, r, err)
		return
	}
	ts, err := h.svc.Tasks(r.Context(), TenantOf(r), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ts)
}

func (h casesHandlers) addTask(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Title    string `json:"title"`
		Assignee string `json:"assignee"`
	}
	if !decode(w, r, 1<<20, &b) {
		return
	}
	t, err := h.svc.AddTask(r.Context(), TenantOf(r), r.PathValue("id"), b.Title, b.Assignee, actorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, t)
}

func (h casesHandlers) setTask(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Done bool `json:"done"`
	}
	if !decode(w, r, 1<<20, &b) {
		return
	}
	if err := h.svc.SetTaskDone(r.Context(), TenantOf(r), r.PathValue("id"), r.PathValue("task"), b.Done, actorOf(r)); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"done": b.Done})
}

func (h casesHandlers) observables(w http.ResponseWriter, r *http.Request) {
	if _, err := h.svc.GetIncident(r.Context(), TenantOf(r), r.PathValue("id")); err != nil {
		h.fail(w, r, err)
		return
	}
	os, err := h.svc.Observables(r.Context(), TenantOf(r), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, os)
}

func (h casesHandlers) addObservable(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Kind  string    `json:"kind"`
		Value string    `json:"value"`
		TLP   cases.TLP `json:"tlp"`
		PAP   cases.PAP `json:"pap"`
	}
	if !decode(w, r, 1<<20, &b) {
		return
	}
	o, err := h.svc.AddObservable(r.Context(), TenantOf(r), r.PathValue("id"),
		cases.Observable{Kind: b.Kind, Value: b.Value, TLP: b.TLP, PAP: b.PAP}, actorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, o)
}

func (h casesHandlers) similar(w http.ResponseWriter, r *http.Request) {
	limit, ok := queryLimit(w, r)
	if !ok {
		return
	}
	out, err := h.svc.SimilarIncidents(r.Context(), TenantOf(r), r.PathValue("id"), limit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h casesHandlers) evidenceList(w http.ResponseWriter, r *http.Request) {
	if _, err := h.svc.GetIncident(r.Context(), TenantOf(r), r.PathValue("id")); err != nil {
		h.fail(w, r, err)
		return
	}
	out, err := h.svc.EvidenceList(r.Context(), TenantOf(r), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// addEvidence takes the file as the raw body: ?name=&description=, the
// media type from Content-Type.
func (h casesHandlers) addEvidence(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ev, err := h.svc.AddEvidence(r.Context(), TenantOf(r), r.PathValue("id"), q.Get("name"), r.Header.Get("Content-Type"),
		q.Get("description"), r.Body, actorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, ev)
}

func (h casesHandlers) getEvidence(w http.ResponseWriter, r *http.Request) {
	ev, err := h.svc.GetEvidence(r.Context(), TenantOf(r), r.PathValue("id"), r.PathValue("ev"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ev)
}

func (h casesHandlers) downloadEvidence(w http.ResponseWriter, r *http.Request) {
	ev, body, err := h.svc.DownloadEvidence(r.Context(), TenantOf(r), r.PathValue("id"), r.PathValue("ev"), actorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", ev.Name))
	w.Header().Set("X-Content-SHA256", ev.SHA256)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// RegulatoryView is GET /api/v1/incidents/{id}/regulatory.
type RegulatoryView struct {
	Flags  []cases.RegFlag  `json:"flags"`
	Stages []cases.RegStage `json:"stages"`
}

func (h casesHandlers) regulatory(w http.ResponseWriter, r *http.Request) {
	ctx, tenant, id := r.Context(), TenantOf(r), r.PathValue("id")
	if _, err := h.svc.GetIncident(ctx, tenant, id); err != nil {
		h.fail(w, r, err)
		return
	}
	var v RegulatoryView
	var err error
	if v.Flags, err = h.svc.Flags(ctx, tenant, id); err == nil {
		v.Stages, err = h.svc.Stages(ctx, tenant, id)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (h casesHandlers) flag(w http.ResponseWriter, r *http.Request) {
	var in cases.FlagInput
	if !decode(w, r, 1<<20, &in) {
		return
	}
	sts, err := h.svc.Flag(r.Context(), TenantOf(r), r.PathValue("id"), in, actorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, sts)
}

func (h casesHandlers) facts(w http.ResponseWriter, r *http.Request) {
	var f cases.ReportFacts
	if !decode(w, r, 1<<20, &f) {
		return
	}
	if err := h.svc.UpdateFacts(r.Context(), TenantOf(r), r.PathValue("id"), cases.Regime(r.PathValue("regime")), f, actorOf(r)); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, f)
}

func (h casesHandlers) submit(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Reference string `json:"reference"`
	}
	if !decode(w, r, 1<<20, &b) {
		return
	}
	st, err := h.svc.SubmitStage(r.Context(), TenantOf(r), r.PathValue("id"), cases.Regime(r.PathValue("regime")), r.PathValue("stage"), b.Reference, actorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (h casesHandlers) request(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Due time.Time `json:"due"`
	}
	if !decode(w, r, 1<<20, &b) {
		return
	}
	st, err := h.svc.RequestStage(r.Context(), TenantOf(r), r.PathValue("id"), cases.Regime(r.PathValue("regime")), r.PathValue("stage"), b.Due, actorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, st)
}

// report serves a draft as JSON, or as Markdown with ?format=markdown.
func (h casesHandlers) report(w http.ResponseWriter, r *http.Request) {
	rep, err := h.svc.DraftReport(r.Context(), TenantOf(r), r.PathValue("id"), cases.Regime(r.PathValue("regime")), r.PathValue("stage"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	switch r.URL.Query().Get("format") {
	case "", "json":
		writeJSON(w, http.StatusOK, rep)
	case "markdown", "md":
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		_, _ = io.WriteString(w, rep.Markdown())
	default:
		writeError(w, http.StatusBadRequest, "format: json or markdown")
	}
}

func (h casesHandlers) metrics(w http.ResponseWriter, r *http.Request) {
	now := h.svc.Now()
	q := r.URL.Query()
	if q.Get("since") == "" {
		q.Set("since", "30d")
		r.URL.RawQuery = q.Encode()
	}
	since, ok := queryTime(w, r, "since", now)
	if !ok {
		return
	}
	until, ok := queryTime(w, r, "until", now)
	if !ok {
		return
	}
	out, err := h.svc.Metrics(r.Context(), TenantOf(r), since, until)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"since": since, "until": until, "priorities": out})
}

func (h casesHandlers) catalog(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, h.svc.Catalog())
}

func (h casesHandlers) previewException(w http.ResponseWriter, r *http.Request) {
	var in cases.ExceptionInput
	if !decode(w, r, 1<<20, &in) {
		return
	}
	p, err := h.svc.PreviewException(r.Context(), TenantOf(r), in)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (h casesHandlers) createException(w http.ResponseWriter, r *http.Request) {
	var in cases.ExceptionInput
	if !decode(w, r, 1<<20, &in) {
		return
	}
	x, err := h.svc.CreateException(r.Context(), TenantOf(r), in, actorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, x)
}

func (h casesHandlers) listExceptions(w http.ResponseWriter, r *http.Request) {
	xs, err := h.svc.ListExceptions(r.Context(), TenantOf(r), r.URL.Query().Get("all") == "true")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, xs)
}

// filters serves the active exceptions as one multi-document Sigma YAML.
func (h casesHandlers) filters(w http.ResponseWriter, r *http.Request) {
	docs, err := h.svc.ActiveFilters(r.Context(), TenantOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	for i, d := range docs {
		if i > 0 {
			_, _ = io.WriteString(w, "---\n")
		}
		_, _ = io.WriteString(w, d)
	}
}

func (h casesHandlers) getException(w http.ResponseWriter, r *http.Request) {
	x, err := h.svc.GetException(r.Context(), TenantOf(r), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, x)
}

func (h casesHandlers) updateException(w http.ResponseWriter, r *http.Request) {
	var b struct {
		cases.ExceptionPatch
		Version int64 `json:"version,omitempty"`
	}
	if !decode(w, r, 1<<20, &b) {
		return
	}
	x, err := h.svc.UpdateException(r.Context(), TenantOf(r), r.PathValue("id"), b.Version, b.ExceptionPatch, actorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, x)
}
