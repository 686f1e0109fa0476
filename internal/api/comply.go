package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/wacht-soc/wacht/internal/comply"
	"github.com/wacht-soc/wacht/internal/store"
)

// Compliance permissions. The auditor role reads everything and exports
// (its patterns grant compliance:read and compliance:export); approving a
// waiver is a sensitive action (step-up for people).
const (
	PermComplianceRead   Permission = "compliance:read"
	PermComplianceWrite  Permission = "compliance:write"
	PermComplianceExport Permission = "compliance:export"
	PermWaiversApprove   Permission = "waivers:approve"
)

func init() {
	RegisterPermission(PermComplianceRead, RoleAdmin, RoleAuditor, RoleSOCManager)
	RegisterPermission(PermComplianceWrite, RoleAdmin, RoleSOCManager)
	RegisterPermission(PermComplianceExport, RoleAdmin, RoleAuditor, RoleSOCManager)
	RegisterPermission(PermWaiversApprove, RoleAdmin, RoleSOCManager)
}

// maxComplianceUpload bounds an uploaded workbook, catalog, bundle or
// evidence file.
const maxComplianceUpload = 64 << 20

// ComplyRoutes are the endpoints of compliance.
func ComplyRoutes(svc *comply.Service) []Route {
	h := complyHandlers{svc}
	r, w := PermComplianceRead, PermComplianceWrite
	return []Route{
		{Pattern: "GET /api/v1/compliance/frameworks", Perm: r, Handler: h.frameworks},
		{Pattern: "GET /api/v1/compliance/frameworks/{id}", Perm: r, Handler: h.view},
		{Pattern: "GET /api/v1/compliance/frameworks/{id}/requirements/{req}/history", Perm: r, Handler: h.history},
		{Pattern: "GET /api/v1/compliance/soa", Perm: r, Handler: h.soa},
		{Pattern: "GET /api/v1/compliance/checks", Perm: r, Handler: h.checks},
		{Pattern: "POST /api/v1/compliance/checks/test", Perm: w, Handler: h.testChecks},
		{Pattern: "PUT /api/v1/compliance/checks/{id}/params", Perm: w, Handler: h.setParams},
		{Pattern: "PUT /api/v1/compliance/bundles/{id}", Perm: w, Handler: h.saveBundle},
		{Pattern: "POST /api/v1/compliance/evaluate", Perm: w, Handler: h.evaluate},
		{Pattern: "GET /api/v1/compliance/runs", Perm: r, Handler: h.runs},
		{Pattern: "GET /api/v1/compliance/runs/{id}", Perm: r, Handler: h.run},
		{Pattern: "GET /api/v1/compliance/results", Perm: r, Handler: h.results},
		{Pattern: "GET /api/v1/compliance/waivers", Perm: r, Handler: h.waivers},
		{Pattern: "POST /api/v1/compliance/waivers", Perm: w, Handler: h.requestWaiver},
		{Pattern: "GET /api/v1/compliance/waivers/{id}", Perm: r, Handler: h.waiver},
		{Pattern: "POST /api/v1/compliance/waivers/{id}/decision", Perm: PermWaiversApprove, Handler: h.decideWaiver},
		{Pattern: "POST /api/v1/compliance/waivers/{id}/revoke", Perm: PermWaiversApprove, Handler: h.revokeWaiver},
		{Pattern: "GET /api/v1/compliance/evidence", Perm: r, Handler: h.listEvidence},
		{Pattern: "POST /api/v1/compliance/evidence", Perm: w, Handler: h.addEvidence},
		{Pattern: "GET /api/v1/compliance/evidence/{id}", Perm: r, Handler: h.getEvidence},
		{Pattern: "POST /api/v1/compliance/evidence/{id}/revisions", Perm: w, Handler: h.addRevision},
		{Pattern: "GET /api/v1/compliance/evidence/{id}/revisions/{rev}", Perm: r, Handler: h.content},
		{Pattern: "PUT /api/v1/compliance/assessments/{framework}/{req}", Perm: w, Handler: h.assess},
		{Pattern: "GET /api/v1/compliance/reports/{kind}", Perm: r, Handler: h.report},
		{Pattern: "POST /api/v1/compliance/import/tisax", Perm: w, Handler: h.importTISAX},
		{Pattern: "POST /api/v1/compliance/import/oscal", Perm: w, Handler: h.importOSCAL},
		{Pattern: "GET /api/v1/compliance/export", Perm: PermComplianceExport, Handler: h.export},
		{Pattern: "GET /api/v1/compliance/dashboard/{id}", Perm: r, Handler: h.dashboard},
		{Pattern: "GET /api/v1/compliance/engagements", Perm: r, Handler: h.engagements},
		{Pattern: "POST /api/v1/compliance/engagements", Perm: w, Handler: h.createEngagement},
		{Pattern: "GET /api/v1/compliance/engagements/{id}", Perm: r, Handler: h.engagement},
		{Pattern: "POST /api/v1/compliance/engagements/{id}/findings", Perm: w, Handler: h.addFinding},
		{Pattern: "POST /api/v1/compliance/findings/{id}/close", Perm: w, Handler: h.closeFinding},
	}
}

type complyHandlers struct{ svc *comply.Service }

func (h complyHandlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	vulnError(w, r, h.svc.Logger(), err, comply.ErrInvalid)
}

// window is the observation window an auditor may see (nil for every
// other role): auditors read only through an engagement whose access runs
// now, and only data of its window.
func (h complyHandlers) window(w http.ResponseWriter, r *http.Request) (*comply.Window, bool) {
	id, ok := IdentityFrom(r.Context())
	if !ok || id.Role != RoleAuditor {
		return nil, true
	}
	win, err := h.svc.AuditorWindow(r.Context(), TenantOf(r), id.Subject)
	if errors.Is(err, comply.ErrNoEngagement) {
		// Past the guard, but nothing to see: data outside an engagement
		// is absent for the auditor.
		writeError(w, http.StatusNotFound, err.Error())
		return nil, false
	}
	if err != nil {
		h.fail(w, r, err)
		return nil, false
	}
	return &win, true
}

// clamp narrows [from, to) to the window; zero bounds become the window's.
func clamp(win *comply.Window, from, to time.Time) (time.Time, time.Time) {
	if win == nil {
		return from, to
	}
	if from.IsZero() || from.Before(win.From) {
		from = win.From
	}
	if to.IsZero() || to.After(win.To) {
		to = win.To
	}
	if !from.Before(to) {
		from = to.Add(-time.Second)
	}
	return from, to
}

// period reads from and to, narrowed to the caller's window.
func (h complyHandlers) period(w http.ResponseWriter, r *http.Request) (from, to time.Time, win *comply.Window, ok bool) {
	if win, ok = h.window(w, r); !ok {
		return
	}
	if from, ok = h.time(w, r, "from"); !ok {
		return
	}
	if to, ok = h.time(w, r, "to"); !ok {
		return
	}
	from, to = clamp(win, from, to)
	return from, to, win, true
}

func (h complyHandlers) time(w http.ResponseWriter, r *http.Request, name string) (time.Time, bool) {
	t, err := ParseTime(r.URL.Query().Get(name), h.svc.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, name+": "+err.Error())
		return time.Time{}, false
	}
	return t, true
}

func (h complyHandlers) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxComplianceUpload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "body: "+err.Error())
		return false
	}
	return true
}

func (h complyHandlers) frameworks(w http.ResponseWriter, r *http.Request) {
	out, err := h.svc.Frameworks(r.Context(), TenantOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h complyHandlers) view(w http.ResponseWriter, r *http.Request) {
	win, ok := h.window(w, r)
	if !ok {
		return
	}
	at, ok := h.time(w, r, "at")
	if !ok {
		return
	}
	var since time.Time
	if win != nil {
		since = win.From
		if last := win.To.Add(-time.Second); at.IsZero() || at.After(last) {
			at = last
		}
	}
	v, err := h.svc.FrameworkViewSince(r.Context(), TenantOf(r), r.PathValue("id"), since, at)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (h complyHandlers) soa(w http.ResponseWriter, r *http.Request) {
	r.SetPathValue("id", comply.FrameworkISO27001)
	h.view(w, r)
}

func (h complyHandlers) history(w http.ResponseWriter, r *http.Request) {
	from, to, _, ok := h.period(w, r)
	if !ok {
		return
	}
	out, err := h.svc.History(r.Context(), TenantOf(r), r.PathValue("id"), r.PathValue("req"), from, to)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h complyHandlers) checks(w http.ResponseWriter, r *http.Request) {
	b, err := h.svc.Bundle(r.Context(), TenantOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"policy_hash": b.Hash(), "checks": b.Checks})
}

func (h complyHandlers) testChecks(w http.ResponseWriter, r *http.Request) {
	res, err := h.svc.TestChecks(r.Context(), TenantOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (h complyHandlers) saveBundle(w http.ResponseWriter, r *http.Request) {
	var b comply.Bundle
	if !h.decode(w, r, &b) {
		return
	}
	tb, tests, err := h.svc.SaveBundle(r.Context(), TenantOf(r), r.PathValue("id"), &b, identityName(r))
	if err != nil {
		if errors.Is(err, comply.ErrInvalid) && tests != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error(), "tests": tests})
			return
		}
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"bundle": tb, "tests": tests})
}

func (h complyHandlers) evaluate(w http.ResponseWriter, r *http.Request) {
	at, ok := h.time(w, r, "at")
	if !ok {
		return
	}
	if at.IsZero() {
		at = h.svc.Now()
	}
	if at.After(h.svc.Now()) {
		writeError(w, http.StatusBadRequest, "at: cannot evaluate the future")
		return
	}
	run, res, err := h.svc.Evaluate(r.Context(), TenantOf(r), at, comply.CauseDemand, identityName(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"run": run, "results": res})
}

func (h complyHandlers) runs(w http.ResponseWriter, r *http.Request) {
	from, to, _, ok := h.period(w, r)
	if !ok {
		return
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	out, err := h.svc.Runs(r.Context(), TenantOf(r), from, to, min(max(limit, 0), 1000))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h complyHandlers) run(w http.ResponseWriter, r *http.Request) {
	win, ok := h.window(w, r)
	if !ok {
		return
	}
	run, err := h.svc.GetRun(r.Context(), TenantOf(r), r.PathValue("id"))
	if err == nil && win != nil && !win.Contains(run.At) {
		err = store.ErrNotFound
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	res, err := h.svc.Results(r.Context(), TenantOf(r), comply.ResultFilter{RunID: run.ID})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"run": run, "results": res})
}

func (h complyHandlers) results(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, to, _, ok := h.period(w, r)
	if !ok {
		return
	}
	f := comply.ResultFilter{RunID: q.Get("run"), Check: q.Get("check"), Status: comply.Status(q.Get("status")), From: from, To: to, Limit: 1000}
	if f.Status != "" && !f.Status.Valid() {
		writeError(w, http.StatusBadRequest, "status: want pass, fail, waived, error or not_applicable")
		return
	}
	if l, err := strconv.Atoi(q.Get("limit")); err == nil && l > 0 && l <= 100000 {
		f.Limit = l
	}
	out, err := h.svc.Results(r.Context(), TenantOf(r), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func waiverIn(win *comply.Window, wv comply.Waiver) bool {
	return win == nil || (wv.RequestedAt.Before(win.To) && wv.ExpiresAt.After(win.From))
}

func (h complyHandlers) waivers(w http.ResponseWriter, r *http.Request) {
	win, ok := h.window(w, r)
	if !ok {
		return
	}
	all, err := h.svc.Waivers(r.Context(), TenantOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := []comply.Waiver{}
	for _, wv := range all {
		if waiverIn(win, wv) {
			out = append(out, wv)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (h complyHandlers) waiver(w http.ResponseWriter, r *http.Request) {
	win, ok := h.window(w, r)
	if !ok {
		return
	}
	out, err := h.svc.GetWaiver(r.Context(), TenantOf(r), r.PathValue("id"))
	if err == nil && !waiverIn(win, out) {
		err = store.ErrNotFound
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h complyHandlers) requestWaiver(w http.ResponseWriter, r *http.Request) {
	var in comply.WaiverInput
	if !h.decode(w, r, &in) {
		return
	}
	out, err := h.svc.RequestWaiver(r.Context(), TenantOf(r), in, identityName(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (h complyHandlers) decideWaiver(w http.ResponseWriter, r *http.Request) {
	var d comply.WaiverDecision
	if !h.decode(w, r, &d) {
		return
	}
	out, err := h.svc.DecideWaiver(r.Context(), TenantOf(r), r.PathValue("id"), d, identityName(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h complyHandlers) revokeWaiver(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Version int64 `json:"version"`
	}
	if !h.decode(w, r, &in) {
		return
	}
	out, err := h.svc.RevokeWaiver(r.Context(), TenantOf(r), r.PathValue("id"), in.Version, identityName(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h complyHandlers) listEvidence(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := comply.EvidenceFilter{Framework: q.Get("framework"), Requirement: q.Get("requirement")}
	if s := q.Get("renew_within"); s != "" {
		d, err := parseAgo(s)
		if err != nil || d <= 0 {
			writeError(w, http.StatusBadRequest, "renew_within: want a duration like 30d")
			return
		}
		f.RenewWithin = d
	}
	win, ok := h.window(w, r)
	if !ok {
		return
	}
	all, err := h.svc.ListEvidence(r.Context(), TenantOf(r), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := []comply.Evidence{}
	for _, e := range all {
		if win == nil || e.CreatedAt.Before(win.To) {
			out = append(out, e)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// evidenceBody is an evidence upload: JSON with the file base64-encoded.
type evidenceBody struct {
	comply.EvidenceInput
	ContentBase64 []byte `json:"content_base64,omitempty"`
}

func (h complyHandlers) readEvidence(w http.ResponseWriter, r *http.Request) (comply.EvidenceInput, bool) {
	var b evidenceBody
	if !h.decode(w, r, &b) {
		return comply.EvidenceInput{}, false
	}
	b.Content = b.ContentBase64
	return b.EvidenceInput, true
}

func (h complyHandlers) addEvidence(w http.ResponseWriter, r *http.Request) {
	in, ok := h.readEvidence(w, r)
	if !ok {
		return
	}
	out, err := h.svc.AddEvidence(r.Context(), TenantOf(r), in, identityName(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (h complyHandlers) getEvidence(w http.ResponseWriter, r *http.Request) {
	win, ok := h.window(w, r)
	if !ok {
		return
	}
	ev, err := h.svc.GetEvidence(r.Context(), TenantOf(r), r.PathValue("id"))
	if err == nil && win != nil && !ev.CreatedAt.Before(win.To) {
		err = store.ErrNotFound
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	all, err := h.svc.Revisions(r.Context(), TenantOf(r), ev.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	revs := []comply.Revision{}
	for _, rv := range all {
		if win == nil || rv.UploadedAt.Before(win.To) {
			revs = append(revs, rv)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"evidence": ev, "revisions": revs})
}

func (h complyHandlers) addRevision(w http.ResponseWriter, r *http.Request) {
	in, ok := h.readEvidence(w, r)
	if !ok {
		return
	}
	out, err := h.svc.AddRevision(r.Context(), TenantOf(r), r.PathValue("id"), in, identityName(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (h complyHandlers) content(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.ParseInt(r.PathValue("rev"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "revision: want a number")
		return
	}
	win, ok := h.window(w, r)
	if !ok {
		return
	}
	rev, data, err := h.svc.Content(r.Context(), TenantOf(r), r.PathValue("id"), n)
	if err == nil && win != nil && !rev.UploadedAt.Before(win.To) {
		err = store.ErrNotFound
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// Served as a download, never rendered by the browser.
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", rev.Name))
	w.Header().Set("X-Content-SHA256", rev.SHA256)
	_, _ = w.Write(data)
}

func (h complyHandlers) assess(w http.ResponseWriter, r *http.Request) {
	var a comply.Assessment
	if !h.decode(w, r, &a) {
		return
	}
	a.Framework, a.Requirement = r.PathValue("framework"), r.PathValue("req")
	out, err := h.svc.SetAssessment(r.Context(), TenantOf(r), a, identityName(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h complyHandlers) report(w http.ResponseWriter, r *http.Request) {
	from, to, _, ok := h.period(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	rep, err := h.svc.BuildReport(r.Context(), TenantOf(r), comply.ReportKind(r.PathValue("kind")), q.Get("lang"), from, to)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	switch q.Get("format") {
	case "", "html":
		var buf bytes.Buffer
		if err := comply.RenderHTML(&buf, rep); err != nil {
			h.fail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(buf.Bytes())
	case "json":
		writeJSON(w, http.StatusOK, rep)
	case "pdf":
		out, err := h.svc.RenderPDF(r.Context(), rep)
		if errors.Is(err, comply.ErrNoPDF) {
			writeError(w, http.StatusNotImplemented, err.Error())
			return
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/pdf")
		_, _ = w.Write(out)
	default:
		writeError(w, http.StatusBadRequest, "format: want html, json or pdf")
	}
}

func (h complyHandlers) importTISAX(w http.ResponseWriter, r *http.Request) {
	cat, n, err := h.svc.ImportTISAX(r.Context(), TenantOf(r), io.LimitReader(r.Body, maxComplianceUpload), identityName(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"catalog": cat.ID, "questions": len(cat.Requirements), "maturity_levels": n})
}

func (h complyHandlers) importOSCAL(w http.ResponseWriter, r *http.Request) {
	cat, err := h.svc.ImportOSCAL(r.Context(), TenantOf(r), r.URL.Query().Get("id"), io.LimitReader(r.Body, maxComplianceUpload), identityName(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"catalog": cat.ID, "requirements": len(cat.Requirements)})
}

func (h complyHandlers) export(w http.ResponseWriter, r *http.Request) {
	from, to, _, ok := h.period(w, r)
	if !ok {
		return
	}
	// Built in memory so that an error can still be answered as JSON.
	var buf bytes.Buffer
	m, err := h.svc.Export(r.Context(), TenantOf(r), from, to, &buf, comply.ExportOptions{})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q",
		fmt.Sprintf("wacht-evidence-%s-%s-%s.zip", m.Tenant, m.From.Format("20060102"), m.To.Format("20060102"))))
	_, _ = w.Write(buf.Bytes())
}

func (h complyHandlers) engagements(w http.ResponseWriter, r *http.Request) {
	id, _ := IdentityFrom(r.Context())
	all, err := h.svc.Engagements(r.Context(), TenantOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := []comply.Engagement{}
	for _, e := range all {
		if id.Role != RoleAuditor || e.Auditor == id.Subject {
			out = append(out, e)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (h complyHandlers) createEngagement(w http.ResponseWriter, r *http.Request) {
	var e comply.Engagement
	if !h.decode(w, r, &e) {
		return
	}
	out, err := h.svc.CreateEngagement(r.Context(), TenantOf(r), e, identityName(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (h complyHandlers) engagement(w http.ResponseWriter, r *http.Request) {
	id, _ := IdentityFrom(r.Context())
	e, err := h.svc.GetEngagement(r.Context(), TenantOf(r), r.PathValue("id"))
	if err == nil && id.Role == RoleAuditor && e.Auditor != id.Subject {
		err = store.ErrNotFound
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	fs, err := h.svc.Findings(r.Context(), TenantOf(r), e.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"engagement": e, "findings": fs})
}

func (h complyHandlers) addFinding(w http.ResponseWriter, r *http.Request) {
	var f comply.AuditFinding
	if !h.decode(w, r, &f) {
		return
	}
	out, err := h.svc.AddFinding(r.Context(), TenantOf(r), r.PathValue("id"), f, identityName(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (h complyHandlers) closeFinding(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Version int64 `json:"version"`
	}
	if !h.decode(w, r, &in) {
		return
	}
	out, err := h.svc.CloseFinding(r.Context(), TenantOf(r), r.PathValue("id"), in.Version, identityName(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h complyHandlers) dashboard(w http.ResponseWriter, r *http.Request) {
	win, ok := h.window(w, r)
	if !ok {
		return
	}
	if win != nil {
		// The dashboard shows the present; auditors use the period views.
		writeError(w, http.StatusNotFound, "auditors read the framework views of their window, not the live dashboard")
		return
	}
	days, _ := strconv.Atoi(r.URL.Query().Get("days"))
	d, err := h.svc.DashboardOf(r.Context(), TenantOf(r), r.PathValue("id"), min(max(days, 0), 3650))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (h complyHandlers) setParams(w http.ResponseWriter, r *http.Request) {
	var params map[string]any
	if !h.decode(w, r, &params) {
		return
	}
	c, err := h.svc.SetParams(r.Context(), TenantOf(r), r.PathValue("id"), params, identityName(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}
