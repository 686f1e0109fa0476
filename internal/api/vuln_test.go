package api_test

import (
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/assets"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
	"github.com/wacht-soc/wacht/internal/vuln"
	"github.com/wacht-soc/wacht/internal/vuln/report/reporttest"
)

// TestVulnAndAssetsAccess walks every vuln and assets route: a role without
// the permission gets 403, another tenant's records are 404, and the
// owner's calls work.
func TestVulnAndAssetsAccess(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		inv := assets.New(db, nil, nil, nil)
		svc := vuln.New(db, inv, nil, vuln.Options{})
		srv := api.New(api.Deps{Auth: tokens{
			"admin-a": {Subject: "alice", Tenant: "a", Role: "admin"},
			"admin-b": {Subject: "bob", Tenant: "b", Role: "admin"},
			"reader":  {Subject: "rita", Tenant: "a", Role: "auditor"},
			"analyst": {Subject: "anna", Tenant: "a", Role: "security-analyst"},
			"manager": {Subject: "max", Tenant: "a", Role: "soc-manager"},
			"ingest":  {Subject: "ian", Tenant: "a", Role: "ingest"},
		}, Log: slog.New(slog.DiscardHandler)})
		srv.Mount(api.VulnRoutes(svc)...)
		srv.Mount(api.AssetsRoutes(inv)...)
		ts := httptest.NewServer(srv)
		defer ts.Close()
		call := apiCaller(t, ts)
		sample := string(reporttest.Sample(t, "trivy/alpine-310.json.golden"))
		code, body := call("admin-a", "POST", "/api/v1/vuln/import", sample)
		if code != 200 || !strings.Contains(body, `"created":`) {
			t.Fatalf("import: %d %s", code, body)
		}
		code, body = call("admin-a", "GET", "/api/v1/vuln/findings?severity=medium&limit=5", "")
		var page vuln.Page
		if code != 200 || json.Unmarshal([]byte(body), &page) != nil || len(page.Findings) == 0 || page.Findings[0].Severity < 3 {
			t.Fatalf("list: %d %s", code, body)
		}
		fid, aid := page.Findings[0].ID, page.Findings[0].AssetID
		state := `{"state":"false_positive","reason":"not reachable","version":` + itoa(page.Findings[0].Version) + `}`
		accept := `{"state":"accepted","reason":"waf","approver":"max","until":"2099-01-01T00:00:00Z","version":` + itoa(page.Findings[0].Version+1) + `}`
		patch := `{"criticality":3,"version":1}`
		cases := []struct {
			tok, method, path, body string
			want                    int
		}{
			{"", "GET", "/api/v1/vuln/findings", "", 401},
			{"reader", "POST", "/api/v1/vuln/import", sample, 403},
			{"ingest", "GET", "/api/v1/vuln/findings", "", 403},
			{"reader", "POST", "/api/v1/vuln/findings/" + fid + "/state", state, 403},
			{"reader", "PATCH", "/api/v1/assets/" + aid, patch, 403},
			{"reader", "POST", "/api/v1/assets/import", "name\nx\n", 403},
			{"ingest", "GET", "/api/v1/assets", "", 403},
			{"admin-b", "GET", "/api/v1/vuln/findings/" + fid, "", 404},
			{"admin-b", "POST", "/api/v1/vuln/findings/" + fid + "/state", state, 404},
			{"admin-b", "GET", "/api/v1/assets/" + aid, "", 404},
			{"admin-b", "PATCH", "/api/v1/assets/" + aid, patch, 404},
			{"reader", "GET", "/api/v1/vuln/findings/" + fid, "", 200},
			{"reader", "GET", "/api/v1/vuln/stats", "", 200},
			{"reader", "GET", "/api/v1/assets", "", 200},
			{"reader", "GET", "/api/v1/assets/export.csv", "", 200},
			{"admin-a", "POST", "/api/v1/vuln/findings/" + fid + "/state", state, 200},
			{"admin-a", "POST", "/api/v1/vuln/findings/" + fid + "/state", state, 409},
			{"analyst", "POST", "/api/v1/vuln/findings/" + fid + "/state", accept, 403},
			{"analyst", "POST", "/api/v1/vuln/import", sample, 403},
			{"manager", "POST", "/api/v1/vuln/findings/" + fid + "/state", accept, 200},
			{"admin-a", "PATCH", "/api/v1/assets/" + aid, patch, 200},
			{"admin-a", "PATCH", "/api/v1/assets/" + aid, `{"criticality":9,"version":2}`, 400},
			{"admin-a", "POST", "/api/v1/assets/import", "name,kind\ndb1,host\n", 200},
			{"admin-a", "POST", "/api/v1/vuln/import", "not a report", 400},
			{"admin-a", "GET", "/api/v1/vuln/findings?state=bogus", "", 400},
		}
		for _, c := range cases {
			if code, body := call(c.tok, c.method, c.path, c.body); code != c.want {
				t.Errorf("%s %s %s as %q: %d, want %d (%s)", c.method, c.path, c.body[:min(len(c.body), 40)], c.tok, code, c.want, body)
			}
		}
		// Tenant b lists nothing of tenant a.
		if _, body := call("admin-b", "GET", "/api/v1/vuln/findings", ""); !strings.Contains(body, `"findings":[]`) {
			t.Fatalf("tenant b sees findings: %s", body)
		}
		if _, body := call("admin-b", "GET", "/api/v1/assets", ""); !strings.Contains(body, `"assets":[]`) {
			t.Fatalf("tenant b sees assets: %s", body)
		}
	})
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
