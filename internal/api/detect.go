package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/wacht-soc/wacht/internal/detect"
)

// Detection rule permissions: security engineers manage rules and
// suppressions; analysts and responders read rule health and hunt.
const (
	PermRulesRead  Permission = "rules:read"
	PermRulesWrite Permission = "rules:write"
	PermRulesHunt  Permission = "rules:hunt"
)

func init() {
	RegisterPermission(PermRulesRead, RoleAdmin, RoleSecurityEngineer, RoleSecurityAnalyst, RoleIncidentResponder)
	RegisterPermission(PermRulesWrite, RoleAdmin, RoleSecurityEngineer)
	RegisterPermission(PermRulesHunt, RoleAdmin, RoleSecurityEngineer, RoleSecurityAnalyst, RoleIncidentResponder, RoleThreatIntelAnalyst)
}

// maxHuntBody bounds POST /api/v1/rules/hunt (a request with rule text).
const maxHuntBody = detect.MaxHuntRuleTextBytes + 64<<10

// DetectRoutes are the endpoints of the detection rules: health, reload,
// suppressions and retro-hunts.
func DetectRoutes(svc *detect.Service) []Route {
	h := detectHandlers{svc}
	return []Route{
		{Pattern: "GET /api/v1/rules", Perm: PermRulesRead, Handler: h.list},
		{Pattern: "GET /api/v1/rules/status", Perm: PermRulesRead, Handler: h.summary},
		{Pattern: "GET /api/v1/rules/problems", Perm: PermRulesRead, Handler: h.problems},
		{Pattern: "GET /api/v1/rules/{id}", Perm: PermRulesRead, Handler: h.get},
		{Pattern: "POST /api/v1/rules/reload", Perm: PermRulesWrite, Handler: h.reload},
		{Pattern: "POST /api/v1/rules/hunt", Perm: PermRulesHunt, Handler: h.hunt},
		{Pattern: "GET /api/v1/rules/suppressions", Perm: PermRulesRead, Handler: h.suppressions},
		{Pattern: "POST /api/v1/rules/suppressions", Perm: PermRulesWrite, Handler: h.addSuppression},
		{Pattern: "DELETE /api/v1/rules/suppressions/{id}", Perm: PermRulesWrite, Handler: h.deleteSuppression},
	}
}

type detectHandlers struct{ svc *detect.Service }

func (h detectHandlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ue *detect.UserError
	switch {
	case errors.Is(err, detect.ErrNotFound):
		writeError(w, http.StatusNotFound, "not found")
	case errors.As(err, &ue):
		writeError(w, http.StatusBadRequest, ue.Error())
	default:
		id := newErrorID()
		h.svc.Logger().Error("detect_request_failed", "error_id", id, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error (id "+id+")")
	}
}

// list answers the rules with their health; ?state=loaded|invalid|unsupported
// and ?slow=1 filter.
func (h detectHandlers) list(w http.ResponseWriter, r *http.Request) {
	state := r.URL.Query().Get("state")
	slow := r.URL.Query().Get("slow") != ""
	all := h.svc.Status(TenantOf(r))
	out := make([]detect.RuleStatus, 0, len(all))
	for _, st := range all {
		if (state != "" && st.State.String() != state) || (slow && !st.Slow) {
			continue
		}
		out = append(out, st)
	}
	writeJSON(w, http.StatusOK, out)
}

func (h detectHandlers) summary(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, h.svc.Summary())
}

func (h detectHandlers) problems(w http.ResponseWriter, _ *http.Request) {
	ps := h.svc.Ruleset().Problems
	if ps == nil {
		ps = []detect.Problem{}
	}
	writeJSON(w, http.StatusOK, ps)
}

func (h detectHandlers) get(w http.ResponseWriter, r *http.Request) {
	st, err := h.svc.Rule(TenantOf(r), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// reload re-reads the rule folders; ?force=1 recompiles even when no file
// changed.
func (h detectHandlers) reload(w http.ResponseWriter, r *http.Request) {
	res, err := h.svc.Reload(r.URL.Query().Get("force") != "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// huntBody is POST /api/v1/rules/hunt: start and end as for searches
// (RFC 3339, Unix seconds or a duration ago such as 7d).
type huntBody struct {
	RuleIDs       []string `json:"rule_ids"`
	Rule          string   `json:"rule"`
	Start         string   `json:"start"`
	End           string   `json:"end"`
	MaxEvents     int      `json:"max_events"`
	MaxDetections int      `json:"max_detections"`
}

func (h detectHandlers) hunt(w http.ResponseWriter, r *http.Request) {
	var b huntBody
	if !decode(w, r, maxHuntBody, &b) {
		return
	}
	now := time.Now()
	if b.Start == "" {
		b.Start = "24h"
	}
	start, err := ParseTime(b.Start, now)
	if err != nil {
		writeError(w, http.StatusBadRequest, "start: "+err.Error())
		return
	}
	end, err := ParseTime(b.End, now)
	if err != nil {
		writeError(w, http.StatusBadRequest, "end: "+err.Error())
		return
	}
	res, err := h.svc.Hunt(r.Context(), TenantOf(r), detect.HuntRequest{RuleIDs: b.RuleIDs, Rule: b.Rule,
		Start: start, End: end, MaxEvents: b.MaxEvents, MaxDetections: b.MaxDetections})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if res.Detections == nil {
		res.Detections = []detect.Detection{}
	}
	writeJSON(w, http.StatusOK, res)
}

func (h detectHandlers) suppressions(w http.ResponseWriter, r *http.Request) {
	list, err := h.svc.Suppressions(r.Context(), TenantOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if list == nil {
		list = []*detect.Suppression{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (h detectHandlers) addSuppression(w http.ResponseWriter, r *http.Request) {
	var in detect.NewSuppression
	if !decode(w, r, 64<<10, &in) {
		return
	}
	s, err := h.svc.AddSuppression(r.Context(), TenantOf(r), actorOf(r), in)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, s)
}

func (h detectHandlers) deleteSuppression(w http.ResponseWriter, r *http.Request) {
	if err := h.svc.DeleteSuppression(r.Context(), TenantOf(r), r.PathValue("id")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
