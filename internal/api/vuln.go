package api

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/vuln"
	"github.com/wacht-soc/wacht/internal/vuln/report"
)

// Vulnerability management permissions. The SOC roles place them by
// resource and verb (analysts and responders read and triage, managers and
// auditors read); importing scanner reports is for admins and security
// engineers, accepting a risk for admins and SOC managers.
const (
	PermVulnRead   Permission = "vulns:read"
	PermVulnWrite  Permission = "vulns:write"
	PermVulnTriage Permission = "vulns:triage"
	PermVulnAccept Permission = "vulns:accept"
)

func init() {
	RegisterPermission(PermVulnRead)
	RegisterPermission(PermVulnWrite, RoleSecurityEngineer)
	RegisterPermission(PermVulnTriage, RoleSOCManager)
	RegisterPermission(PermVulnAccept, RoleSOCManager)
}

// maxReport bounds an uploaded scanner report.
const maxReport = 512 << 20

// VulnRoutes are the endpoints of vulnerability management.
func VulnRoutes(svc *vuln.Service) []Route {
	h := vulnHandlers{svc}
	return []Route{
		{Pattern: "POST /api/v1/vuln/import", Perm: PermVulnWrite, Handler: h.importReport},
		{Pattern: "GET /api/v1/vuln/findings", Perm: PermVulnRead, Handler: h.list},
		{Pattern: "GET /api/v1/vuln/findings/{id}", Perm: PermVulnRead, Handler: h.get},
		{Pattern: "POST /api/v1/vuln/findings/{id}/state", Perm: PermVulnTriage, Handler: h.setState},
		{Pattern: "GET /api/v1/vuln/stats", Perm: PermVulnRead, Handler: h.stats},
	}
}

type vulnHandlers struct{ svc *vuln.Service }

func identityName(r *http.Request) string {
	if id, ok := IdentityFrom(r.Context()); ok {
		return id.Subject
	}
	return ""
}

// domainError maps domain errors to HTTP: not found 404, conflict 409,
// invalid input 400 with its (safe) message, anything else 500 with an id.
func vulnError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error, invalid ...error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not found")
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, "the record was changed by someone else; read it again")
	default:
		for _, e := range invalid {
			if errors.Is(err, e) {
				writeError(w, http.StatusBadRequest, err.Error())
				return
			}
		}
		id := newErrorID()
		log.Error("api_request_failed", "error_id", id, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error (id "+id+")")
	}
}

func (h vulnHandlers) importReport(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxReport+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "read body: "+err.Error())
		return
	}
	if len(data) > maxReport {
		writeError(w, http.StatusRequestEntityTooLarge, "report larger than 512 MiB")
		return
	}
	q := r.URL.Query()
	rep, err := vuln.ParseReport(data, q.Get("format"))
	if err != nil {
		vulnError(w, r, h.svc.Logger(), err, vuln.ErrInvalid)
		return
	}
	res, err := h.svc.Import(r.Context(), TenantOf(r), rep, vuln.ImportOptions{
		AssetID: q.Get("asset"), Partial: q.Get("partial") == "true", Actor: identityName(r),
	})
	if err != nil {
		vulnError(w, r, h.svc.Logger(), err, vuln.ErrInvalid)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (h vulnHandlers) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := vuln.Filter{AssetID: q.Get("asset"), VulnID: q.Get("vuln"), Source: q.Get("source"), After: q.Get("after"),
		Priority: vuln.Decision(q.Get("priority")), KEV: q.Get("kev") == "true", Overdue: q.Get("overdue") == "true"}
	for _, s := range strings.FieldsFunc(q.Get("state"), func(r rune) bool { return r == ',' }) {
		f.States = append(f.States, vuln.State(s))
	}
	if s := q.Get("severity"); s != "" {
		if f.MinSeverity = report.ParseSeverity(s); f.MinSeverity == report.SeverityUnknown {
			writeError(w, http.StatusBadRequest, "severity: want critical, high, medium, low or info")
			return
		}
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "limit: want a number ≥ 1")
			return
		}
		f.Limit = n
	}
	page, err := h.svc.List(r.Context(), TenantOf(r), f)
	if err != nil {
		vulnError(w, r, h.svc.Logger(), err, vuln.ErrInvalid)
		return
	}
	if page.Findings == nil {
		page.Findings = []vuln.Finding{}
	}
	writeJSON(w, http.StatusOK, page)
}

func (h vulnHandlers) get(w http.ResponseWriter, r *http.Request) {
	f, err := h.svc.Get(r.Context(), TenantOf(r), r.PathValue("id"))
	if err != nil {
		vulnError(w, r, h.svc.Logger(), err)
		return
	}
	writeJSON(w, http.StatusOK, f)
}

func (h vulnHandlers) setState(w http.ResponseWriter, r *http.Request) {
	var t vuln.Transition
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		writeError(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	// Accepting a risk is a decision of its own: triage does not grant it.
	if t.State == vuln.StateAccepted {
		if id, _ := IdentityFrom(r.Context()); !Allowed(id.Role, PermVulnAccept) {
			writeError(w, http.StatusForbidden, "role "+strconvQuote(id.Role)+" may not "+string(PermVulnAccept))
			return
		}
	}
	f, err := h.svc.SetState(r.Context(), TenantOf(r), r.PathValue("id"), identityName(r), t)
	if err != nil {
		vulnError(w, r, h.svc.Logger(), err, vuln.ErrInvalid)
		return
	}
	writeJSON(w, http.StatusOK, f)
}

func strconvQuote(s string) string { return strconv.Quote(s) }

func (h vulnHandlers) stats(w http.ResponseWriter, r *http.Request) {
	st, err := h.svc.Stats(r.Context(), TenantOf(r))
	if err != nil {
		vulnError(w, r, h.svc.Logger(), err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}
