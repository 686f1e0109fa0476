package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/wacht-soc/wacht/internal/ueba"
)

// Behaviour analytics permissions: analysts and responders read entities
// and risk; engineers and managers move detectors between shadow and
// production.
const (
	PermEntitiesRead   Permission = "entities:read"
	PermRiskRead       Permission = "risk:read"
	PermAnomaliesWrite Permission = "anomalies:write"
)

func init() {
	// Security engineers tune the detectors (modes, allow-list), so they read
	// entities and anomalies too.
	RegisterPermission(PermEntitiesRead, RoleAdmin, RoleSecurityAnalyst, RoleIncidentResponder, RoleThreatIntelAnalyst, RoleSecurityEngineer)
	RegisterPermission(PermRiskRead, RoleAdmin, RoleSecurityAnalyst, RoleIncidentResponder)
	RegisterPermission(PermAnomaliesWrite, RoleAdmin, RoleSecurityEngineer)
}

// UEBARoutes are the endpoints of behaviour analytics, entity risk and
// incident likelihood.
func UEBARoutes(svc *ueba.Service) []Route {
	h := uebaHandlers{svc}
	return []Route{
		{Pattern: "GET /api/v1/entities", Perm: PermRiskRead, Handler: h.top},
		{Pattern: "GET /api/v1/entities/{kind}/{value}", Perm: PermEntitiesRead, Handler: h.entity},
		{Pattern: "GET /api/v1/anomalies", Perm: PermEntitiesRead, Handler: h.anomalies},
		{Pattern: "GET /api/v1/anomalies/detectors", Perm: PermEntitiesRead, Handler: h.detectors},
		{Pattern: "PUT /api/v1/anomalies/detectors/{detector}", Perm: PermAnomaliesWrite, Handler: h.setMode},
		{Pattern: "GET /api/v1/anomalies/allowlist", Perm: PermEntitiesRead, Handler: h.allowList},
		{Pattern: "POST /api/v1/anomalies/allowlist", Perm: PermAnomaliesWrite, Handler: h.allow},
		{Pattern: "DELETE /api/v1/anomalies/allowlist/{id}", Perm: PermAnomaliesWrite, Handler: h.disallow},
		{Pattern: "GET /api/v1/risk/incidents/{id}/likelihood", Perm: PermRiskRead, Handler: h.likelihood},
	}
}

type uebaHandlers struct{ svc *ueba.Service }

func (h uebaHandlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ue *ueba.UserError
	switch {
	case errors.Is(err, ueba.ErrNotFound):
		writeError(w, http.StatusNotFound, "not found")
	case errors.As(err, &ue):
		writeError(w, http.StatusBadRequest, ue.Error())
	case errors.Is(err, ueba.ErrAllowInvalid):
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		id := newErrorID()
		h.svc.Logger().Error("ueba_request_failed", "error_id", id, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error (id "+id+")")
	}
}

func limitOf(r *http.Request, def int) int {
	n, err := strconv.Atoi(r.URL.Query().Get("limit"))
	if err != nil || n <= 0 {
		return def
	}
	return min(n, 1000)
}

// top answers the riskiest entities with their contributions.
func (h uebaHandlers) top(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.svc.Entities(TenantOf(r), limitOf(r, 20)))
}

func (h uebaHandlers) entity(w http.ResponseWriter, r *http.Request) {
	kind, err := ueba.ParseEntityKind(r.PathValue("kind"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := h.svc.Entity(r.Context(), TenantOf(r), ueba.Entity{Kind: kind, Value: r.PathValue("value")})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// anomalies lists anomalies; ?detector=, ?kind=&value= and ?limit= filter.
func (h uebaHandlers) anomalies(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := ueba.AnomalyFilter{Limit: limitOf(r, 100)}
	if d := q.Get("detector"); d != "" {
		det, err := ueba.ParseDetector(d)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		f.Detector = det
	}
	if k := q.Get("kind"); k != "" {
		kind, err := ueba.ParseEntityKind(k)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		f.Entity = &ueba.Entity{Kind: kind, Value: q.Get("value")}
	}
	out, err := h.svc.Anomalies(r.Context(), TenantOf(r), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h uebaHandlers) detectors(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.svc.Detectors(TenantOf(r)))
}

// setMode takes {"mode":"shadow"|"production"}.
func (h uebaHandlers) setMode(w http.ResponseWriter, r *http.Request) {
	det, err := ueba.ParseDetector(r.PathValue("detector"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var body struct {
		Mode string `json:"mode"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "body must be {\"mode\": \"shadow\" | \"production\"}")
		return
	}
	mode, err := ueba.ParseMode(body.Mode)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	actor := ""
	if id, ok := IdentityFrom(r.Context()); ok {
		actor = id.Subject
	}
	if err := h.svc.SetMode(r.Context(), TenantOf(r), det, mode, actor); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.svc.Detectors(TenantOf(r)))
}

func (h uebaHandlers) likelihood(w http.ResponseWriter, r *http.Request) {
	l, err := h.svc.IncidentLikelihood(r.Context(), TenantOf(r), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, l)
}

// GET /api/v1/anomalies/allowlist: the tenant's entries in force.
func (h uebaHandlers) allowList(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"entries": h.svc.AllowList(TenantOf(r))})
}

// POST /api/v1/anomalies/allowlist {"entity": {"kind", "value"},
// "detector"?, "reason", "expires_at"}: exempt an entity from a detector
// (or all) until it expires; its anomalies are still recorded.
func (h uebaHandlers) allow(w http.ResponseWriter, r *http.Request) {
	var e ueba.AllowEntry
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		writeError(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	e.ID, e.CreatedAt = "", time.Time{}
	e.CreatedBy = actorOf(r)
	out, err := h.svc.Allow(r.Context(), TenantOf(r), e)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

// DELETE /api/v1/anomalies/allowlist/{id}.
func (h uebaHandlers) disallow(w http.ResponseWriter, r *http.Request) {
	ok, err := h.svc.Disallow(r.Context(), TenantOf(r), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !ok {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
