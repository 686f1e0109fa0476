package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/wacht-soc/wacht/internal/soar"
	"github.com/wacht-soc/wacht/internal/store"
)

// Playbook permissions. Security engineers write playbooks; incident
// responders run them and decide approvals; secrets (connector
// credentials) are admin-only like every secrets:* permission.
const (
	PermPlaybooksRead    Permission = "playbooks:read"
	PermPlaybooksWrite   Permission = "playbooks:write"
	PermPlaybooksRun     Permission = "playbooks:run"
	PermApprovalsRead    Permission = "approvals:read"
	PermApprovalsApprove Permission = "approvals:approve"
	PermSecretsRead      Permission = "secrets:read"
	PermSecretsWrite     Permission = "secrets:write"
)

func init() {
	RegisterPermission(PermPlaybooksRead, RoleAdmin, RoleIncidentResponder, RoleSecurityEngineer)
	RegisterPermission(PermPlaybooksWrite, RoleAdmin, RoleSecurityEngineer)
	RegisterPermission(PermPlaybooksRun, RoleAdmin, RoleIncidentResponder, RoleSecurityEngineer)
	RegisterPermission(PermApprovalsRead, RoleAdmin, RoleIncidentResponder)
	RegisterPermission(PermApprovalsApprove, RoleAdmin, RoleIncidentResponder)
	RegisterPermission(PermSecretsRead, RoleAdmin)
	RegisterPermission(PermSecretsWrite, RoleAdmin)
}

// maxPlaybookBody bounds a playbook document or a run request.
const maxPlaybookBody = 1 << 20

// SoarRoutes are the endpoints of playbooks, runs, approvals and secrets.
func SoarRoutes(svc *soar.Service) []Route {
	h := soarHandlers{svc}
	run := "/api/v1/playbook-runs/{id}"
	return []Route{
		{Pattern: "GET /api/v1/playbooks", Perm: PermPlaybooksRead, Handler: h.list},
		{Pattern: "POST /api/v1/playbooks", Perm: PermPlaybooksWrite, Handler: h.apply},
		{Pattern: "POST /api/v1/playbooks/validate", Perm: PermPlaybooksRead, Handler: h.validate},
		{Pattern: "GET /api/v1/playbooks/{name}", Perm: PermPlaybooksRead, Handler: h.get},
		{Pattern: "GET /api/v1/playbooks/{name}/versions", Perm: PermPlaybooksRead, Handler: h.versions},
		{Pattern: "POST /api/v1/playbooks/{name}/run", Perm: PermPlaybooksRun, Handler: h.run},
		{Pattern: "POST /api/v1/incidents/{id}/playbooks/{name}/run", Perm: PermPlaybooksRun, Handler: h.runFromIncident},
		{Pattern: "GET /api/v1/playbook-actions", Perm: PermPlaybooksRead, Handler: h.actions},
		{Pattern: "GET /api/v1/playbook-runs", Perm: PermPlaybooksRead, Handler: h.runs},
		{Pattern: "GET " + run, Perm: PermPlaybooksRead, Handler: h.getRun},
		{Pattern: "POST " + run + "/retry", Perm: PermPlaybooksRun, Handler: h.retry},
		{Pattern: "POST " + run + "/replay", Perm: PermPlaybooksRun, Handler: h.replay},
		{Pattern: "POST " + run + "/cancel", Perm: PermPlaybooksRun, Handler: h.cancel},
		{Pattern: "GET /api/v1/playbook-schedules", Perm: PermPlaybooksRead, Handler: h.schedules},
		{Pattern: "POST " + run + "/steps/{step}/approve", Perm: PermApprovalsApprove, Handler: h.decide(true)},
		{Pattern: "POST " + run + "/steps/{step}/deny", Perm: PermApprovalsApprove, Handler: h.decide(false)},
		{Pattern: "GET /api/v1/approvals", Perm: PermApprovalsRead, Handler: h.approvals},
		{Pattern: "GET /api/v1/secrets", Perm: PermSecretsRead, Handler: h.secrets},
		{Pattern: "PUT /api/v1/secrets/{name}", Perm: PermSecretsWrite, Handler: h.putSecret},
		{Pattern: "DELETE /api/v1/secrets/{name}", Perm: PermSecretsWrite, Handler: h.deleteSecret},
	}
}

type soarHandlers struct{ svc *soar.Service }

func (h soarHandlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not found")
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, "the run changed meanwhile; read it again")
	case errors.Is(err, soar.ErrForbidden):
		writeError(w, http.StatusForbidden, strings.TrimSuffix(err.Error(), ": "+soar.ErrForbidden.Error()))
	case soar.IsUserError(err):
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		id := newErrorID()
		h.svc.Logger().Error("soar_request_failed", "error_id", id, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error (id "+id+")")
	}
}

// soarDecode reads a strict JSON body; an empty body leaves v as is.
func soarDecode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxPlaybookBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

// source reads a playbook document: the YAML body, or JSON {"source": …}.
func soarSource(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPlaybookBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxPlaybookBody))
		return nil, false
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var body struct {
			Source string `json:"source"`
		}
		if err := json.Unmarshal(b, &body); err != nil {
			writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
			return nil, false
		}
		b = []byte(body.Source)
	}
	return b, true
}

func (h soarHandlers) list(w http.ResponseWriter, r *http.Request) {
	out, err := h.svc.List(r.Context(), TenantOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h soarHandlers) apply(w http.ResponseWriter, r *http.Request) {
	src, ok := soarSource(w, r)
	if !ok {
		return
	}
	v, err := h.svc.Apply(r.Context(), TenantOf(r), src, actorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v.Source = ""
	writeJSON(w, http.StatusCreated, v)
}

func (h soarHandlers) validate(w http.ResponseWriter, r *http.Request) {
	src, ok := soarSource(w, r)
	if !ok {
		return
	}
	pb, err := soar.Parse(src)
	var ve *soar.ValidationError
	switch {
	case errors.As(err, &ve):
		writeJSON(w, http.StatusOK, map[string]any{"valid": false, "problems": ve.Problems})
	case err != nil:
		h.fail(w, r, err)
	default:
		writeJSON(w, http.StatusOK, map[string]any{"valid": true, "name": pb.Name, "steps": len(pb.Steps)})
	}
}

func (h soarHandlers) get(w http.ResponseWriter, r *http.Request) {
	var version int64
	if s := r.URL.Query().Get("version"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "version: want a number ≥ 1")
			return
		}
		version = n
	}
	v, err := h.svc.Get(r.Context(), TenantOf(r), r.PathValue("name"), version)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (h soarHandlers) versions(w http.ResponseWriter, r *http.Request) {
	out, err := h.svc.Versions(r.Context(), TenantOf(r), r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// runRequest is the body of a manual run.
type runRequest struct {
	Inputs  map[string]any `json:"inputs,omitempty"`
	Version int64          `json:"version,omitempty"`
	DryRun  bool           `json:"dry_run,omitempty"`
}

func (h soarHandlers) run(w http.ResponseWriter, r *http.Request) {
	var body runRequest
	if !soarDecode(w, r, &body) {
		return
	}
	run, err := h.svc.StartRun(r.Context(), TenantOf(r), soar.StartRequest{Playbook: r.PathValue("name"), Version: body.Version,
		Inputs: body.Inputs, DryRun: body.DryRun, Actor: actorOf(r)})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, run)
}

func (h soarHandlers) runFromIncident(w http.ResponseWriter, r *http.Request) {
	var body runRequest
	if !soarDecode(w, r, &body) {
		return
	}
	run, err := h.svc.RunFromIncident(r.Context(), TenantOf(r), r.PathValue("id"), soar.StartRequest{Playbook: r.PathValue("name"),
		Version: body.Version, Inputs: body.Inputs, DryRun: body.DryRun, Actor: actorOf(r)})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, run)
}

func (h soarHandlers) actions(w http.ResponseWriter, _ *http.Request) {
	type action struct {
		ID          string `json:"id"`
		Uses        string `json:"uses"`
		SideEffects bool   `json:"side_effects"`
	}
	out := []action{}
	for _, a := range soar.Actions() {
		out = append(out, action{a.ID, a.Short(), a.SideEffects})
	}
	writeJSON(w, http.StatusOK, out)
}

func (h soarHandlers) runs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := soar.RunFilter{Playbook: q.Get("playbook"), Status: soar.RunStatus(q.Get("status")), Incident: q.Get("incident")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "limit: want a number ≥ 0")
			return
		}
		f.Limit = n
	}
	out, err := h.svc.Runs(r.Context(), TenantOf(r), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h soarHandlers) getRun(w http.ResponseWriter, r *http.Request) {
	run, err := h.svc.GetRun(r.Context(), TenantOf(r), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, run)
}

func (h soarHandlers) retry(w http.ResponseWriter, r *http.Request) {
	run, err := h.svc.Retry(r.Context(), TenantOf(r), r.PathValue("id"), actorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, run)
}

func (h soarHandlers) cancel(w http.ResponseWriter, r *http.Request) {
	run, err := h.svc.Cancel(r.Context(), TenantOf(r), r.PathValue("id"), actorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, run)
}

func (h soarHandlers) schedules(w http.ResponseWriter, r *http.Request) {
	out, err := h.svc.Schedules(r.Context(), TenantOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h soarHandlers) replay(w http.ResponseWriter, r *http.Request) {
	run, err := h.svc.Replay(r.Context(), TenantOf(r), r.PathValue("id"), actorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, run)
}

func (h soarHandlers) decide(approve bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Comment string `json:"comment,omitempty"`
		}
		if !soarDecode(w, r, &body) {
			return
		}
		id, _ := IdentityFrom(r.Context())
		who := soar.Approver{Subject: id.Subject, Role: id.Role, Admin: id.Role == RoleAdmin}
		run, err := h.svc.Decide(r.Context(), TenantOf(r), r.PathValue("id"), r.PathValue("step"), approve, who, body.Comment)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, run)
	}
}

func (h soarHandlers) approvals(w http.ResponseWriter, r *http.Request) {
	out, err := h.svc.Approvals(r.Context(), TenantOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h soarHandlers) secrets(w http.ResponseWriter, r *http.Request) {
	out, err := h.svc.Secrets(r.Context(), TenantOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h soarHandlers) putSecret(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Value string `json:"value"`
	}
	if !soarDecode(w, r, &body) {
		return
	}
	if err := h.svc.PutSecret(r.Context(), TenantOf(r), r.PathValue("name"), body.Value, actorOf(r)); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h soarHandlers) deleteSecret(w http.ResponseWriter, r *http.Request) {
	if err := h.svc.DeleteSecret(r.Context(), TenantOf(r), r.PathValue("name")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
