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

	"github.com/wacht-soc/wacht/internal/attack"
	"github.com/wacht-soc/wacht/internal/intel"
	"github.com/wacht-soc/wacht/internal/intel/feeds"
	"github.com/wacht-soc/wacht/internal/intel/pull"
	"github.com/wacht-soc/wacht/internal/intel/taxii"
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
		{Pattern: "DELETE /api/v1/intel/warninglists/{name}", Perm: PermIntelWrite, Handler: h.deleteWarninglist},
		{Pattern: "GET /api/v1/intel/stats", Perm: PermIntelRead, Handler: h.stats},
	}
}

type intelHandlers struct{ svc *intel.Service }

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
	writeJSON(w, http.StatusOK, map[string]any{"indicators": inds, "next": next})
}

func (h intelHandlers) get(w http.ResponseWriter, r *http.Request) {
	ind, err := h.svc.Get(r.Context(), TenantOf(r), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, "indicator "+r.PathValue("id"), err)
		return
	}
	writeJSON(w, http.StatusOK, ind)
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
	writeJSON(w, http.StatusOK, map[string]any{"sightings": ss})
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
	writeJSON(w, http.StatusOK, map[string]any{"found": len(res.Indicators) > 0, "result": res})
}

// importDoc takes one document or list in the body:
// POST /api/v1/intel/import?format=auto|stix|misp|warninglist|csv|plain
// &source=NAME&name=FILENAME&confidence=N&tlp=LEVEL&tag=TAG&misp_all=1
// &defer_rebuild=1 (more imports follow: rebuild the index once they stop).
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
	im.DeferRebuild = q.Get("defer_rebuild") == "1"
	body := http.MaxBytesReader(w, r.Body, maxIntelImport)
	if err := feeds.Read(r.Context(), name, body, o, im); err != nil {
		im.Abort()
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
	writeJSON(w, http.StatusOK, st)
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
	writeJSON(w, http.StatusOK, map[string]any{"warninglists": lists})
}

func (h intelHandlers) deleteWarninglist(w http.ResponseWriter, r *http.Request) {
	if err := h.svc.DeleteWarninglist(r.Context(), TenantOf(r), r.PathValue("name")); err != nil {
		h.fail(w, r, "warninglist "+r.PathValue("name"), err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h intelHandlers) stats(w http.ResponseWriter, r *http.Request) {
	st := h.svc.Stats()
	tenant := TenantOf(r)
	out := map[string]any{"events_checked": st.Events, "matched": st.Matched, "suppressed": st.Suppressed,
		"dropped": st.Dropped, "sighted": st.Sighted}
	if ts, ok := st.Tenants[tenant]; ok {
		out["index"] = ts
	}
	writeJSON(w, http.StatusOK, out)
}

// PermAttackRead lets a caller read the ATT&CK catalog and rule coverage.
const PermAttackRead Permission = "attack:read"

func init() { RegisterPermission(PermAttackRead, RoleAdmin) }

// AttackRoutes serve the ATT&CK catalog and the coverage matrix of the
// loaded rules for the console.
func AttackRoutes(svc *attack.Service) []Route {
	return []Route{
		{Pattern: "GET /api/v1/attack/tactics", Perm: PermAttackRead, Handler: func(w http.ResponseWriter, r *http.Request) {
			c := svc.Catalog()
			writeJSON(w, http.StatusOK, map[string]any{"version": c.Version, "notice": c.Notice, "tactics": c.Tactics()})
		}},
		{Pattern: "GET /api/v1/attack/techniques", Perm: PermAttackRead, Handler: func(w http.ResponseWriter, r *http.Request) {
			c := svc.Catalog()
			var out []attack.Entry
			if t := r.URL.Query().Get("tactic"); t != "" {
				if _, ok := c.Tactic(t); !ok {
					writeError(w, http.StatusBadRequest, "unknown tactic "+t)
					return
				}
				out = c.Techniques(t)
			} else {
				out = c.All(attack.KindTechnique)
			}
			writeJSON(w, http.StatusOK, map[string]any{"version": c.Version, "techniques": out})
		}},
		{Pattern: "GET /api/v1/attack/entries/{id}", Perm: PermAttackRead, Handler: func(w http.ResponseWriter, r *http.Request) {
			e, ok := svc.Catalog().Get(r.PathValue("id"))
			if !ok {
				writeError(w, http.StatusNotFound, "ATT&CK id "+r.PathValue("id")+": not found")
				return
			}
			writeJSON(w, http.StatusOK, e)
		}},
		{Pattern: "GET /api/v1/attack/coverage", Perm: PermAttackRead, Handler: func(w http.ResponseWriter, r *http.Request) {
			cov, err := svc.Coverage(r.Context())
			if err != nil {
				id := newErrorID()
				svc.Logger().Error("attack_coverage_failed", "error_id", id, "err", err)
				writeError(w, http.StatusInternalServerError, "coverage failed (id "+id+")")
				return
			}
			writeJSON(w, http.StatusOK, cov)
		}},
	}
}

// TAXII permissions: the threat-intel-analyst role has taxii:* by its
// pattern.
const (
	PermTAXIIRead  Permission = "taxii:read"
	PermTAXIIWrite Permission = "taxii:write"
)

func init() {
	RegisterPermission(PermTAXIIRead, RoleAdmin)
	RegisterPermission(PermTAXIIWrite, RoleAdmin)
}

// TAXIIRoutes serve TAXII 2.1 under /taxii2/ (one API root, "wacht"; the
// caller's tenant decides the collections).
func TAXIIRoutes(srv *taxii.Server) []Route {
	h := taxiiHandlers{srv}
	col := "/taxii2/{root}/collections/{id}/"
	return []Route{
		{Pattern: "GET /taxii2/{$}", Perm: PermTAXIIRead, Handler: h.discovery},
		{Pattern: "GET /taxii2/{root}/{$}", Perm: PermTAXIIRead, Handler: h.root},
		{Pattern: "GET /taxii2/{root}/collections/{$}", Perm: PermTAXIIRead, Handler: h.collections},
		{Pattern: "GET " + col + "{$}", Perm: PermTAXIIRead, Handler: h.collection},
		{Pattern: "GET " + col + "objects/{$}", Perm: PermTAXIIRead, Handler: h.objects},
		{Pattern: "POST " + col + "objects/{$}", Perm: PermTAXIIWrite, Handler: h.add},
		{Pattern: "GET " + col + "objects/{object}/{$}", Perm: PermTAXIIRead, Handler: h.object},
		{Pattern: "GET " + col + "manifest/{$}", Perm: PermTAXIIRead, Handler: h.manifest},
		{Pattern: "GET /taxii2/{root}/status/{status}/{$}", Perm: PermTAXIIRead, Handler: h.status},
	}
}

type taxiiHandlers struct{ srv *taxii.Server }

func taxiiAccess(r *http.Request) taxii.Access {
	id, _ := IdentityFrom(r.Context())
	return taxii.Access{Read: Allowed(id.Role, PermTAXIIRead), Write: Allowed(id.Role, PermTAXIIWrite)}
}

func taxiiJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", taxii.MediaTAXII)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// taxiiError answers with a TAXII error message.
func taxiiError(w http.ResponseWriter, err error) {
	status, title := http.StatusInternalServerError, "internal error"
	switch {
	case errors.Is(err, taxii.ErrNotFound):
		status, title = http.StatusNotFound, "not found"
	case errors.Is(err, taxii.ErrForbidden):
		status, title = http.StatusForbidden, "forbidden"
	case errors.Is(err, taxii.ErrBadRequest):
		status, title = http.StatusBadRequest, err.Error()
	}
	taxiiJSON(w, status, map[string]string{"title": title, "http_status": strconv.Itoa(status)})
}

func addedHeaders(w http.ResponseWriter, first, last time.Time) {
	if !first.IsZero() {
		w.Header().Set("X-TAXII-Date-Added-First", first.UTC().Format("2006-01-02T15:04:05.000000Z"))
		w.Header().Set("X-TAXII-Date-Added-Last", last.UTC().Format("2006-01-02T15:04:05.000000Z"))
	}
}

func taxiiFilter(r *http.Request) (taxii.Filter, error) {
	q := r.URL.Query()
	f := taxii.Filter{Next: q.Get("next"), IDs: splitComma(q.Get("match[id]")), Types: splitComma(q.Get("match[type]"))}
	if s := q.Get("added_after"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return f, fmt.Errorf("%w: added_after: want an RFC 3339 time", taxii.ErrBadRequest)
		}
		f.AddedAfter = t
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return f, fmt.Errorf("%w: limit: want a positive number", taxii.ErrBadRequest)
		}
		f.Limit = n
	}
	return f, nil
}

func splitComma(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func (h taxiiHandlers) discovery(w http.ResponseWriter, r *http.Request) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	taxiiJSON(w, http.StatusOK, h.srv.Discover(scheme+"://"+r.Host))
}

func (h taxiiHandlers) root(w http.ResponseWriter, r *http.Request) {
	root, err := h.srv.Root(r.PathValue("root"))
	if err != nil {
		taxiiError(w, err)
		return
	}
	taxiiJSON(w, http.StatusOK, root)
}

func (h taxiiHandlers) collections(w http.ResponseWriter, r *http.Request) {
	cs, err := h.srv.Collections(r.PathValue("root"), TenantOf(r), taxiiAccess(r))
	if err != nil {
		taxiiError(w, err)
		return
	}
	taxiiJSON(w, http.StatusOK, map[string]any{"collections": cs})
}

func (h taxiiHandlers) collection(w http.ResponseWriter, r *http.Request) {
	c, err := h.srv.Collection(r.PathValue("root"), TenantOf(r), r.PathValue("id"), taxiiAccess(r))
	if err != nil {
		taxiiError(w, err)
		return
	}
	taxiiJSON(w, http.StatusOK, c)
}

func (h taxiiHandlers) objects(w http.ResponseWriter, r *http.Request) {
	f, err := taxiiFilter(r)
	if err != nil {
		taxiiError(w, err)
		return
	}
	env, err := h.srv.Objects(r.Context(), r.PathValue("root"), TenantOf(r), r.PathValue("id"), taxiiAccess(r), f)
	if err != nil {
		taxiiError(w, err)
		return
	}
	addedHeaders(w, env.FirstAdded, env.LastAdded)
	taxiiJSON(w, http.StatusOK, env)
}

func (h taxiiHandlers) object(w http.ResponseWriter, r *http.Request) {
	env, err := h.srv.Object(r.Context(), r.PathValue("root"), TenantOf(r), r.PathValue("id"), r.PathValue("object"), taxiiAccess(r))
	if err != nil {
		taxiiError(w, err)
		return
	}
	addedHeaders(w, env.FirstAdded, env.LastAdded)
	taxiiJSON(w, http.StatusOK, env)
}

func (h taxiiHandlers) manifest(w http.ResponseWriter, r *http.Request) {
	f, err := taxiiFilter(r)
	if err != nil {
		taxiiError(w, err)
		return
	}
	m, err := h.srv.Manifest(r.Context(), r.PathValue("root"), TenantOf(r), r.PathValue("id"), taxiiAccess(r), f)
	if err != nil {
		taxiiError(w, err)
		return
	}
	addedHeaders(w, m.FirstAdded, m.LastAdded)
	taxiiJSON(w, http.StatusOK, m)
}

func (h taxiiHandlers) add(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, taxii.MaxContentLength))
	if err != nil {
		taxiiJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"title": "request too large"})
		return
	}
	st, err := h.srv.Add(r.Context(), r.PathValue("root"), TenantOf(r), r.PathValue("id"), taxiiAccess(r), body)
	if err != nil {
		taxiiError(w, err)
		return
	}
	taxiiJSON(w, http.StatusAccepted, st)
}

func (h taxiiHandlers) status(w http.ResponseWriter, r *http.Request) {
	st, err := h.srv.StatusOf(r.PathValue("root"), TenantOf(r), r.PathValue("status"))
	if err != nil {
		taxiiError(w, err)
		return
	}
	taxiiJSON(w, http.StatusOK, st)
}

// Feed permissions: the threat-intel-analyst role has feeds:* by its
// pattern.
const (
	PermFeedsRead  Permission = "feeds:read"
	PermFeedsWrite Permission = "feeds:write"
)

func init() {
	RegisterPermission(PermFeedsRead, RoleAdmin)
	RegisterPermission(PermFeedsWrite, RoleAdmin)
}

// FeedRoutes manage the feeds pulled on a schedule.
func FeedRoutes(svc *intel.Service, p *pull.Puller) []Route {
	h := feedHandlers{svc, p}
	return []Route{
		{Pattern: "GET /api/v1/intel/feeds", Perm: PermFeedsRead, Handler: h.list},
		{Pattern: "PUT /api/v1/intel/feeds/{name}", Perm: PermFeedsWrite, Handler: h.put},
		{Pattern: "DELETE /api/v1/intel/feeds/{name}", Perm: PermFeedsWrite, Handler: h.delete},
		{Pattern: "POST /api/v1/intel/feeds/{name}/pull", Perm: PermFeedsWrite, Handler: h.pull},
	}
}

type feedHandlers struct {
	svc *intel.Service
	p   *pull.Puller
}

// FeedSpec is the body of PUT /api/v1/intel/feeds/{name}.
type FeedSpec struct {
	URL        string `json:"url"`
	Format     string `json:"format"`
	Interval   string `json:"interval"` // Go duration, default 1h
	Confidence int    `json:"confidence"`
	TLP        string `json:"tlp"`
	Enabled    *bool  `json:"enabled"`
}

func (h feedHandlers) list(w http.ResponseWriter, r *http.Request) {
	fs, err := h.svc.Feeds(r.Context(), TenantOf(r))
	if err != nil {
		intelHandlers{h.svc}.fail(w, r, "list feeds", err)
		return
	}
	if fs == nil {
		fs = []intel.Feed{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"feeds": fs})
}

func (h feedHandlers) put(w http.ResponseWriter, r *http.Request) {
	var spec FeedSpec
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		writeError(w, http.StatusBadRequest, "feed: "+err.Error())
		return
	}
	f := intel.Feed{Tenant: TenantOf(r), Name: r.PathValue("name"), URL: spec.URL, Format: spec.Format, Confidence: spec.Confidence, Enabled: true, Interval: time.Hour}
	if spec.Enabled != nil {
		f.Enabled = *spec.Enabled
	}
	if spec.Interval != "" {
		d, err := time.ParseDuration(spec.Interval)
		if err != nil {
			writeError(w, http.StatusBadRequest, "interval: want a duration like 30m or 6h")
			return
		}
		f.Interval = d
	}
	if spec.TLP != "" {
		t, err := intel.ParseTLP(spec.TLP)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		f.TLP = t
	}
	if err := h.svc.PutFeed(r.Context(), f); err != nil {
		if errors.Is(err, intel.ErrInvalid) {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		intelHandlers{h.svc}.fail(w, r, "store feed", err)
		return
	}
	got, err := h.svc.Feed(r.Context(), f.Tenant, f.Name)
	if err != nil {
		intelHandlers{h.svc}.fail(w, r, "feed", err)
		return
	}
	writeJSON(w, http.StatusOK, got)
}

func (h feedHandlers) delete(w http.ResponseWriter, r *http.Request) {
	if err := h.svc.DeleteFeed(r.Context(), TenantOf(r), r.PathValue("name")); err != nil {
		intelHandlers{h.svc}.fail(w, r, "feed "+r.PathValue("name"), err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h feedHandlers) pull(w http.ResponseWriter, r *http.Request) {
	f, err := h.svc.Feed(r.Context(), TenantOf(r), r.PathValue("name"))
	if err != nil {
		intelHandlers{h.svc}.fail(w, r, "feed "+r.PathValue("name"), err)
		return
	}
	res, err := h.p.Pull(r.Context(), f)
	if err != nil {
		// The feed's answer or content is at fault, not this server.
		writeError(w, http.StatusBadGateway, "pull: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, res)
}
