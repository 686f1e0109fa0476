package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/wacht-soc/wacht/internal/intel"
	"github.com/wacht-soc/wacht/internal/intel/feeds"
	"github.com/wacht-soc/wacht/internal/store"
)

// Threat intelligence permissions. The threat-intel-analyst role has
// intel:* by its pattern; analysts and responders read.
const (
	PermIntelRead  Permission = "intel:read"
	PermIntelWrite Permission = "intel:write"
)

func init() {
	RegisterPermission(PermIntelRead, RoleAdmin)
	RegisterPermission(PermIntelWrite, RoleAdmin)
}

// maxIntelImport bounds one uploaded document or list.
const maxIntelImport = 1 << 30

// IntelRoutes are the endpoints of indicators, lookups, imports, exports
// and warninglists.
func IntelRoutes(svc *intel.Service) []Route {
	h := intelHandlers{svc}
	return []Route{
		{Pattern: "GET /api/v1/intel/indicators", Perm: PermIntelRead, Handler: h.list},
		{Pattern: "GET /api/v1/intel/indicators/{id}", Perm: PermIntelRead, Handler: h.get},
		{Pattern: "DELETE /api/v1/intel/indicators/{id}", Perm: PermIntelWrite, Handler: h.delete},
		{Pattern: "GET /api/v1/intel/indicators/{id}/sightings", Perm: PermIntelRead, Handler: h.sightings},
		{Pattern: "GET /api/v1/intel/lookup", Perm: PermIntelRead, Handler: h.lookup},
		{Pattern: "POST /api/v1/intel/import", Perm: PermIntelWrite, Handler: h.importDoc},
		{Pattern: "GET /api/v1/intel/export", Perm: PermIntelRead, Handler: h.export},
		{Pattern: "GET /api/v1/intel/warninglists", Perm: PermIntelRead, Handler: h.warninglists},
		{Pattern: "GET /api/v1/intel/stats", Perm: PermIntelRead, Handler: h.stats},
	}
}

type intelHandlers struct{ svc *intel.Service }

func intelJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (h intelHandlers) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, what+": not found")
		return
	}
	id := newErrorID()
	h.svc.Logger().Error("intel_request_failed", "error_id", id, "what", what, "err", err)
	writeError(w, http.StatusInternalServerError, what+" failed (id "+id+")")
}

func (h intelHandlers) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := intel.ListFilter{Source: q.Get("source"), Prefix: q.Get("prefix"), After: q.Get("after")}
	if t := q.Get("type"); t != "" {
		typ, err := intel.ParseType(t)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		f.Type = typ
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 10000 {
			writeError(w, http.StatusBadRequest, "limit: want 1 to 10000")
			return
		}
		f.Limit = n
	}
	inds, err := h.svc.List(r.Context(), TenantOf(r), f)
	if err != nil {
		h.fail(w, r, "list indicators", err)
		return
	}
	if inds == nil {
		inds = []intel.Indicator{}
	}
	next := ""
	if f.Limit > 0 && len(inds) == f.Limit || f.Limit == 0 && len(inds) == 1000 {
		next = inds[len(inds)-1].ID
	}
	intelJSON(w, http.StatusOK, map[string]any{"indicators": inds, "next": next})
}

func (h intelHandlers) get(w http.ResponseWriter, r *http.Request) {
	ind, err := h.svc.Get(r.Context(), TenantOf(r), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, "indicator "+r.PathValue("id"), err)
		return
	}
	intelJSON(w, http.StatusOK, ind)
}

func (h intelHandlers) delete(w http.ResponseWriter, r *http.Request) {
	if err := h.svc.Delete(r.Context(), TenantOf(r), r.PathValue("id")); err != nil {
		h.fail(w, r, "indicator "+r.PathValue("id"), err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h intelHandlers) sightings(w http.ResponseWriter, r *http.Request) {
	tenant, id := TenantOf(r), r.PathValue("id")
	if _, err := h.svc.Get(r.Context(), tenant, id); err != nil {
		h.fail(w, r, "indicator "+id, err)
		return
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	ss, err := h.svc.Sightings(r.Context(), tenant, id, limit)
	if err != nil {
		h.fail(w, r, "sightings", err)
		return
	}
	if ss == nil {
		ss = []intel.Sighting{}
	}
	intelJSON(w, http.StatusOK, map[string]any{"sightings": ss})
}

func (h intelHandlers) lookup(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query().Get("value")
	if v == "" {
		writeError(w, http.StatusBadRequest, "value is required")
		return
	}
	res, err := h.svc.Lookup(r.Context(), TenantOf(r), v)
	if errors.Is(err, intel.ErrBadValue) {
		writeError(w, http.StatusBadRequest, "value: "+err.Error())
		return
	}
	if err != nil {
		h.fail(w, r, "lookup", err)
		return
	}
	intelJSON(w, http.StatusOK, map[string]any{"found": len(res.Indicators) > 0, "result": res})
}

// importDoc takes one document or list in the body:
// POST /api/v1/intel/import?format=auto|stix|misp|warninglist|csv|plain
// &source=NAME&name=FILENAME&confidence=N&tlp=LEVEL&misp_all=1
func (h intelHandlers) importDoc(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format, err := feeds.ParseFormat(q.Get("format"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	o := feeds.Options{Format: format, MISPAllAttributes: q.Get("misp_all") == "1"}
	if c := q.Get("confidence"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 0 || n > 100 {
			writeError(w, http.StatusBadRequest, "confidence: want 0 to 100")
			return
		}
		o.Confidence = n
	}
	if t := q.Get("tlp"); t != "" {
		tlp, err := intel.ParseTLP(t)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		o.TLP = tlp
	}
	source := q.Get("source")
	if source == "" {
		source = "api"
	}
	name := q.Get("name")
	if name == "" {
		name = source
	}
	if tag := q.Get("tag"); tag != "" {
		o.Tags = append(o.Tags, tag)
	}
	im := h.svc.NewImport(TenantOf(r), source)
	body := http.MaxBytesReader(w, r.Body, maxIntelImport)
	if err := feeds.Read(r.Context(), name, body, o, im); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "import larger than 1 GiB")
			return
		}
		// Reader errors describe the input, not the server.
		writeError(w, http.StatusBadRequest, "import: "+err.Error())
		return
	}
	st, err := im.Close(r.Context())
	if err != nil {
		h.fail(w, r, "import", err)
		return
	}
	intelJSON(w, http.StatusOK, st)
}

// export streams the tenant's indicators: GET
// /api/v1/intel/export?format=stix|misp|csv&max_tlp=LEVEL (default amber:
// red and amber+strict never leave without asking).
func (h intelHandlers) export(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format := q.Get("format")
	if format == "" {
		format = "stix"
	}
	maxTLP := intel.TLPAmber
	if t := q.Get("max_tlp"); t != "" {
		v, err := intel.ParseTLP(t)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		maxTLP = v
	}
	ew, err := feeds.NewExportWriter(w, format, "wacht export "+TenantOf(r))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	switch format {
	case "csv":
		w.Header().Set("Content-Type", "text/csv")
	default:
		w.Header().Set("Content-Type", "application/json")
	}
	err = h.svc.Each(r.Context(), TenantOf(r), func(ind *intel.Indicator) error {
		if ind.TLP > maxTLP {
			return nil
		}
		return ew.Write(ind)
	})
	if cerr := ew.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		h.svc.Logger().Error("intel_export_failed", "path", r.URL.Path, "err", err)
	}
}

func (h intelHandlers) warninglists(w http.ResponseWriter, r *http.Request) {
	lists, err := h.svc.Warninglists(r.Context(), TenantOf(r))
	if err != nil {
		h.fail(w, r, "warninglists", err)
		return
	}
	if lists == nil {
		lists = []intel.Warninglist{}
	}
	intelJSON(w, http.StatusOK, map[string]any{"warninglists": lists})
}

func (h intelHandlers) stats(w http.ResponseWriter, r *http.Request) {
	st := h.svc.Stats()
	tenant := TenantOf(r)
	out := map[string]any{"events_checked": st.Events, "matched": st.Matched, "suppressed": st.Suppressed,
		"dropped": st.Dropped, "sighted": st.Sighted}
	if ts, ok := st.Tenants[tenant]; ok {
		out["index"] = ts
	}
	intelJSON(w, http.StatusOK, out)
}
