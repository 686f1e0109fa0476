package api_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/cases"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// TestCasesAccess walks every cases route: a role without the permission
// gets 403, another tenant's incidents and alerts are 404, and the owner's
// calls work end to end.
func TestCasesAccess(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
		svc := cases.New(db, cases.Options{Now: func() time.Time { return now }})
		srv := api.New(api.Deps{Auth: tokens{
			"admin-a":   {Subject: "alice", Tenant: "a", Role: api.RoleAdmin, Method: api.AuthToken},
			"admin-b":   {Subject: "bob", Tenant: "b", Role: api.RoleAdmin, Method: api.AuthToken},
			"analyst-a": {Subject: "ann", Tenant: "a", Role: api.RoleSecurityAnalyst, Method: api.AuthToken},
			"ingest-a":  {Subject: "fluent", Tenant: "a", Role: api.RoleIngest, Method: api.AuthToken},
			"auditor-a": {Subject: "aud", Tenant: "a", Role: api.RoleAuditor, Method: api.AuthToken},
			"eng-a":     {Subject: "eng", Tenant: "a", Role: api.RoleSecurityEngineer, Method: api.AuthToken},
		}, Log: slog.New(slog.DiscardHandler)})
		routes := api.CasesRoutes(svc)
		srv.Mount(routes...)
		ts := httptest.NewServer(srv)
		defer ts.Close()
		call := apiCaller(t, ts)
		// An ingest token sends an alert (what an external detector does).
		code, body := call("ingest-a", "POST", "/api/v1/alerts",
			`{"source":"edr","rule_id":"r1","rule_title":"Mimikatz","severity":"critical","attack":["attack.credential_access","attack.t1003.001"],
			  "entities":[{"kind":"host","value":"pc1"},{"kind":"ip","value":"10.1.1.1"}],"events":[{"_time":"2026-03-02T09:59:00Z","_msg":"lsass access"}]}`)
		var a cases.Alert
		if code != 201 || json.Unmarshal([]byte(body), &a) != nil || a.IncidentID == "" {
			t.Fatalf("raise: %d %s", code, body)
		}
		inc := "/api/v1/incidents/" + a.IncidentID
		code, body = call("admin-a", "POST", inc+"/evidence?name=dump.txt", "evidence bytes")
		var ev cases.Evidence
		if code != 201 || json.Unmarshal([]byte(body), &ev) != nil {
			t.Fatalf("evidence: %d %s", code, body)
		}
		code, body = call("admin-a", "POST", inc+"/regulatory", `{"regime":"nis2"}`)
		if code != 201 {
			t.Fatalf("flag: %d %s", code, body)
		}
		code, body = call("admin-a", "GET", inc+"/tasks", "")
		var tasks []cases.Task
		if code != 200 || json.Unmarshal([]byte(body), &tasks) != nil || len(tasks) == 0 {
			t.Fatalf("tasks: %d %s", code, body)
		}
		exc := `{"alert_id":"` + a.ID + `","fields":{"_msg":"lsass access"},"reason":"pentest","scope":"rule"}`
		code, body = call("eng-a", "POST", "/api/v1/exceptions", exc)
		var x cases.Exception
		if code != 201 || json.Unmarshal([]byte(body), &x) != nil || x.Preview == nil || x.Preview.Suppressed != 1 {
			t.Fatalf("exception: %d %s", code, body)
		}
		other, _ := svc.CreateIncident(context.Background(), "a", cases.NewIncident{Title: "other"}, "x")

		// Each route once: path, body, a role that lacks the permission.
		type rc struct{ method, path, body, denied string }
		table := map[string]rc{
			"POST /api/v1/alerts":                                             {"POST", "/api/v1/alerts", `{"rule_id":"r","entities":[{"kind":"host","value":"h"}]}`, "auditor-a"},
			"GET /api/v1/alerts":                                              {"GET", "/api/v1/alerts", "", "ingest-a"},
			"GET /api/v1/alerts/{id}":                                         {"GET", "/api/v1/alerts/" + a.ID, "", "ingest-a"},
			"GET /api/v1/alerts/{id}/notes":                                   {"GET", "/api/v1/alerts/" + a.ID + "/notes", "", "ingest-a"},
			"POST /api/v1/alerts/{id}/notes":                                  {"POST", "/api/v1/alerts/" + a.ID + "/notes", `{"body":"benign"}`, "auditor-a"},
			"GET /api/v1/incidents":                                           {"GET", "/api/v1/incidents", "", "ingest-a"},
			"POST /api/v1/incidents":                                          {"POST", "/api/v1/incidents", `{"title":"manual"}`, "analyst-a"},
			"GET " + "/api/v1/incidents/{id}":                                 {"GET", inc, "", "ingest-a"},
			"PATCH /api/v1/incidents/{id}":                                    {"PATCH", inc, `{"status":"triage"}`, "analyst-a"},
			"POST /api/v1/incidents/{id}/assign":                              {"POST", inc + "/assign", `{"assignee":"ann"}`, "analyst-a"},
			"POST /api/v1/incidents/{id}/merge":                               {"POST", inc + "/merge", `{"incidents":["` + other.ID + `"]}`, "analyst-a"},
			"POST /api/v1/incidents/{id}/split":                               {"POST", inc + "/split", `{"alerts":["nope"]}`, "analyst-a"},
			"GET /api/v1/incidents/{id}/timeline":                             {"GET", inc + "/timeline", "", "ingest-a"},
			"POST /api/v1/incidents/{id}/timeline":                            {"POST", inc + "/timeline", `{"text":"user called the help desk"}`, "auditor-a"},
			"GET /api/v1/incidents/{id}/comments":                             {"GET", inc + "/comments", "", "ingest-a"},
			"POST /api/v1/incidents/{id}/comments":                            {"POST", inc + "/comments", `{"body":"on it"}`, "auditor-a"},
			"GET /api/v1/incidents/{id}/tasks":                                {"GET", inc + "/tasks", "", "ingest-a"},
			"POST /api/v1/incidents/{id}/tasks":                               {"POST", inc + "/tasks", `{"title":"call the ISP"}`, "analyst-a"},
			"POST /api/v1/incidents/{id}/tasks/{task}":                        {"POST", inc + "/tasks/" + tasks[0].ID, `{"done":true}`, "analyst-a"},
			"GET /api/v1/incidents/{id}/observables":                          {"GET", inc + "/observables", "", "ingest-a"},
			"POST /api/v1/incidents/{id}/observables":                         {"POST", inc + "/observables", `{"kind":"domain","value":"evil.example","tlp":"green"}`, "analyst-a"},
			"GET /api/v1/incidents/{id}/similar":                              {"GET", inc + "/similar", "", "ingest-a"},
			"GET /api/v1/incidents/{id}/evidence":                             {"GET", inc + "/evidence", "", "analyst-a"},
			"POST /api/v1/incidents/{id}/evidence":                            {"POST", inc + "/evidence?name=b.bin", "x", "analyst-a"},
			"GET /api/v1/incidents/{id}/evidence/{ev}":                        {"GET", inc + "/evidence/" + ev.ID, "", "analyst-a"},
			"GET /api/v1/incidents/{id}/evidence/{ev}/content":                {"GET", inc + "/evidence/" + ev.ID + "/content", "", "analyst-a"},
			"GET /api/v1/incidents/{id}/regulatory":                           {"GET", inc + "/regulatory", "", "ingest-a"},
			"POST /api/v1/incidents/{id}/regulatory":                          {"POST", inc + "/regulatory", `{"regime":"gdpr"}`, "analyst-a"},
			"PUT /api/v1/incidents/{id}/regulatory/{regime}/facts":            {"PUT", inc + "/regulatory/nis2/facts", `{"impact":"payments down 3 h"}`, "analyst-a"},
			"POST /api/v1/incidents/{id}/regulatory/{regime}/{stage}/submit":  {"POST", inc + "/regulatory/nis2/early_warning/submit", `{"reference":"CSIRT-1"}`, "analyst-a"},
			"POST /api/v1/incidents/{id}/regulatory/{regime}/{stage}/request": {"POST", inc + "/regulatory/nis2/intermediate_report/request", `{"due":"2026-03-05T10:00:00Z"}`, "analyst-a"},
			"GET /api/v1/incidents/{id}/regulatory/{regime}/{stage}/report":   {"GET", inc + "/regulatory/nis2/incident_notification/report?format=markdown", "", "ingest-a"},
			"GET /api/v1/cases/metrics":                                       {"GET", "/api/v1/cases/metrics", "", "analyst-a"},
			"GET /api/v1/cases/regulatory-catalog":                            {"GET", "/api/v1/cases/regulatory-catalog", "", "ingest-a"},
			"POST /api/v1/exceptions/preview":                                 {"POST", "/api/v1/exceptions/preview", exc, "analyst-a"},
			"POST /api/v1/exceptions":                                         {"POST", "/api/v1/exceptions", exc, "analyst-a"},
			"GET /api/v1/exceptions":                                          {"GET", "/api/v1/exceptions", "", "ingest-a"},
			"GET /api/v1/exceptions/filters":                                  {"GET", "/api/v1/exceptions/filters", "", "ingest-a"},
			"GET /api/v1/exceptions/{id}":                                     {"GET", "/api/v1/exceptions/" + x.ID, "", "ingest-a"},
			"PATCH /api/v1/exceptions/{id}":                                   {"PATCH", "/api/v1/exceptions/" + x.ID, `{"reason":"pentest week 12"}`, "analyst-a"},
		}
		if len(table) != len(routes) {
			t.Fatalf("table has %d routes, CasesRoutes %d: cover every route", len(table), len(routes))
		}
		for _, rt := range routes {
			c, ok := table[rt.Pattern]
			if !ok {
				t.Fatalf("route %s not in the table", rt.Pattern)
			}
			if code, body := call(c.denied, c.method, c.path, c.body); code != http.StatusForbidden {
				t.Errorf("%s as %s: %d %s, want 403", rt.Pattern, c.denied, code, body)
			}
			// Another tenant: every record-addressed route is 404, lists
			// are empty.
			code, body := call("admin-b", c.method, c.path, c.body)
			switch {
			case strings.Contains(rt.Pattern, "{id}") || strings.HasPrefix(rt.Pattern, "POST /api/v1/exceptions"):
				if code != http.StatusNotFound {
					t.Errorf("%s from tenant b: %d %s, want 404", rt.Pattern, code, body)
				}
			case c.method == "GET" && strings.HasSuffix(rt.Pattern, "s"):
				if code != 200 || strings.Contains(body, a.ID) || strings.Contains(body, a.IncidentID) {
					t.Errorf("%s from tenant b: %d %s", rt.Pattern, code, body)
				}
			}
		}
		// The owner's calls work (run in table order by pattern for the
		// ones whose effect is checked).
		for _, p := range []string{"POST /api/v1/alerts/{id}/notes", "PATCH /api/v1/incidents/{id}", "POST /api/v1/incidents/{id}/comments",
			"POST /api/v1/incidents/{id}/observables", "PUT /api/v1/incidents/{id}/regulatory/{regime}/facts",
			"POST /api/v1/incidents/{id}/regulatory/{regime}/{stage}/submit", "GET /api/v1/incidents/{id}/regulatory/{regime}/{stage}/report",
			"GET /api/v1/incidents/{id}/evidence/{ev}/content", "POST /api/v1/incidents/{id}/merge", "GET /api/v1/cases/metrics",
			"GET /api/v1/exceptions/filters", "PATCH /api/v1/exceptions/{id}"} {
			c := table[p]
			code, body := call("admin-a", c.method, c.path, c.body)
			if code/100 != 2 {
				t.Errorf("%s as owner: %d %s", p, code, body)
			}
			switch p {
			case "GET /api/v1/incidents/{id}/regulatory/{regime}/{stage}/report":
				if !strings.Contains(body, "payments down 3 h") || !strings.Contains(body, "10.1.1.1") {
					t.Errorf("report lacks facts or IOCs:\n%s", body)
				}
			case "GET /api/v1/exceptions/filters":
				if !strings.Contains(body, "filter:") || !strings.Contains(body, "lsass access") {
					t.Errorf("filters:\n%s", body)
				}
			case "GET /api/v1/incidents/{id}/evidence/{ev}/content":
				if body != "evidence bytes" {
					t.Errorf("evidence content %q", body)
				}
			}
		}
		// Stale version → 409; bad input → 400.
		if code, body := call("admin-a", "PATCH", inc, `{"title":"x","version":1}`); code != http.StatusConflict {
			t.Errorf("stale patch: %d %s", code, body)
		}
		if code, body := call("admin-a", "PATCH", inc, `{"status":"closed"}`); code != http.StatusBadRequest || !strings.Contains(body, "resolution") {
			t.Errorf("close without resolution: %d %s", code, body)
		}
		if code, _ := call("admin-a", "POST", "/api/v1/alerts", `{"rule_id":"r","unknown":1}`); code != http.StatusBadRequest {
			t.Errorf("unknown field accepted: %d", code)
		}
	})
}
