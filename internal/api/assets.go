package api

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/wacht-soc/wacht/internal/assets"
)

// Asset inventory permissions.
const (
	PermAssetsRead  Permission = "assets:read"
	PermAssetsWrite Permission = "assets:write"
)

func init() {
	RegisterPermission(PermAssetsRead)
	RegisterPermission(PermAssetsWrite, RoleSecurityEngineer, RoleSOCManager)
}

// AssetsRoutes are the endpoints of the asset inventory.
func AssetsRoutes(svc *assets.Service) []Route {
	h := assetHandlers{svc}
	return []Route{
		{Pattern: "GET /api/v1/assets", Perm: PermAssetsRead, Handler: h.list},
		{Pattern: "GET /api/v1/assets/export.csv", Perm: PermAssetsRead, Handler: h.export},
		{Pattern: "POST /api/v1/assets/import", Perm: PermAssetsWrite, Handler: h.importCSV},
		{Pattern: "GET /api/v1/assets/{id}", Perm: PermAssetsRead, Handler: h.get},
		{Pattern: "PATCH /api/v1/assets/{id}", Perm: PermAssetsWrite, Handler: h.update},
	}
}

type assetHandlers struct{ svc *assets.Service }

func (h assetHandlers) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := assets.Filter{Kind: assets.Kind(q.Get("kind")), Query: q.Get("q"), Exposure: assets.Exposure(q.Get("exposure"))}
	for name, dst := range map[string]*int{"limit": &f.Limit, "offset": &f.Offset} {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				writeError(w, http.StatusBadRequest, name+": want a number ≥ 0")
				return
			}
			*dst = n
		}
	}
	as, err := h.svc.List(r.Context(), TenantOf(r), f)
	if err != nil {
		vulnError(w, r, h.svc.Logger(), err)
		return
	}
	if as == nil {
		as = []assets.Asset{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"assets": as})
}

func (h assetHandlers) get(w http.ResponseWriter, r *http.Request) {
	a, err := h.svc.Get(r.Context(), TenantOf(r), r.PathValue("id"))
	if err != nil {
		vulnError(w, r, h.svc.Logger(), err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (h assetHandlers) update(w http.ResponseWriter, r *http.Request) {
	var body struct {
		assets.Patch
		Version int64 `json:"version"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	a, err := h.svc.Update(r.Context(), TenantOf(r), r.PathValue("id"), body.Version, body.Patch)
	if err != nil {
		vulnError(w, r, h.svc.Logger(), err, assets.ErrInvalid)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (h assetHandlers) importCSV(w http.ResponseWriter, r *http.Request) {
	res, err := h.svc.ImportCSV(r.Context(), TenantOf(r), io.LimitReader(r.Body, 64<<20))
	if err != nil {
		vulnError(w, r, h.svc.Logger(), err, assets.ErrInvalid)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (h assetHandlers) export(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/csv")
	if err := h.svc.ExportCSV(r.Context(), TenantOf(r), w); err != nil {
		h.svc.Logger().Error("asset_export_failed", "err", err)
	}
}
