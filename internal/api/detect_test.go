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

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/detect"
	"github.com/wacht-soc/wacht/internal/eventstore"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// rowStore is an event store holding rows per tenant; Query returns the
// tenant's rows and records the query.
type rowStore struct {
	rows    map[string][]eventstore.Row
	queries []eventstore.Query
}

func (s *rowStore) Write(context.Context, []*event.Event) (eventstore.WriteResult, error) {
	return eventstore.WriteResult{}, nil
}
func (s *rowStore) Flush(context.Context) error { return nil }
func (s *rowStore) DurableAfter() time.Duration { return 0 }
func (s *rowStore) Query(_ context.Context, q eventstore.Query, fn func(eventstore.Row) error) error {
	s.queries = append(s.queries, q)
	for _, r := range s.rows[q.Tenant] {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}
func (s *rowStore) Existing(context.Context, string, []string, time.Time, time.Time) (map[string]bool, error) {
	return nil, nil
}
func (s *rowStore) Stats() eventstore.Stats { return eventstore.Stats{} }
func (s *rowStore) Close() error            { return nil }

const lsassRule = "3a7eb3e6-4fde-44a0-8b3f-2d3ddc49df66"

// TestDetectAccess walks every rules route: a role without the permission
// gets 403, another tenant's suppressions are 404 and its hunts see only its
// own events; the owner's calls work end to end.
func TestDetectAccess(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		now := time.Now().UTC()
		rows := &rowStore{rows: map[string][]eventstore.Row{
			"a": {{
				{Name: "_time", Value: now.Add(-time.Hour).Format(time.RFC3339Nano)},
				{Name: "_msg", Value: "Process Create"},
				{Name: "logsource.product", Value: "windows"},
				{Name: "logsource.category", Value: "process_creation"},
				{Name: "host.name", Value: "WS-9"},
				{Name: "CommandLine", Value: `rundll32 C:\Windows\System32\comsvcs.dll MiniDump 620 x.dmp full`},
			}},
		}}
		svc, err := detect.New(detect.Options{Load: detect.LoadOptions{Starter: true}, DB: db, Events: rows,
			Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		srv := api.New(api.Deps{Auth: tokens{
			"admin-a":    {Subject: "alice", Tenant: "a", Role: api.RoleAdmin, Method: api.AuthToken},
			"admin-b":    {Subject: "bob", Tenant: "b", Role: api.RoleAdmin, Method: api.AuthToken},
			"engineer-a": {Subject: "eve", Tenant: "a", Role: api.RoleSecurityEngineer, Method: api.AuthToken},
			"analyst-a":  {Subject: "ann", Tenant: "a", Role: api.RoleSecurityAnalyst, Method: api.AuthToken},
			"ingest-a":   {Subject: "fluent", Tenant: "a", Role: api.RoleIngest, Method: api.AuthToken},
		}, Log: slog.New(slog.DiscardHandler)})
		routes := api.DetectRoutes(svc)
		srv.Mount(routes...)
		ts := httptest.NewServer(srv)
		defer ts.Close()
		call := apiCaller(t, ts)
		// The owner: an engineer suppresses, an analyst hunts.
		code, body := call("engineer-a", "POST", "/api/v1/rules/suppressions",
			`{"rule_id":"`+lsassRule+`","field":"host.name","value":"ws-1","for":"7d","reason":"backup agent"}`)
		var sup detect.Suppression
		if code != 201 || json.Unmarshal([]byte(body), &sup) != nil || sup.ID == "" || sup.CreatedBy != "eve" {
			t.Fatalf("add suppression: %d %s", code, body)
		}
		code, body = call("analyst-a", "POST", "/api/v1/rules/hunt", `{"rule_ids":["`+lsassRule+`"],"start":"7d"}`)
		var hunt detect.HuntResult
		if code != 200 || json.Unmarshal([]byte(body), &hunt) != nil || hunt.Events != 1 || len(hunt.Detections) != 1 ||
			hunt.Detections[0].Entities["host.name"] != "WS-9" || !strings.Contains(hunt.Query, `logsource.category:="process_creation"`) {
			t.Fatalf("hunt: %d %s", code, body)
		}
		code, body = call("admin-a", "POST", "/api/v1/rules/hunt", `{"rule":"title: x\nlogsource: {product: windows}\ndetection:\n  s:\n    host.name: ws-9\n  condition: s\n","start":"7d"}`)
		if code != 200 || !strings.Contains(body, `"rule_id":"x"`) {
			t.Fatalf("hunt with rule text: %d %s", code, body)
		}
		code, body = call("admin-a", "POST", "/api/v1/rules/hunt", `{"rule":"title: x\ndetection: [","start":"7d"}`)
		if code != 400 {
			t.Errorf("hunt with a broken rule: %d %s", code, body)
		}
		code, body = call("admin-a", "GET", "/api/v1/rules/"+lsassRule, "")
		if code != 200 || !strings.Contains(body, `"state":"loaded"`) || !strings.Contains(body, `"author":"wacht project"`) {
			t.Errorf("get rule: %d %s", code, body)
		}

		type rc struct{ method, path, body, denied string }
		table := map[string]rc{
			"GET /api/v1/rules":                      {"GET", "/api/v1/rules", "", "ingest-a"},
			"GET /api/v1/rules/status":               {"GET", "/api/v1/rules/status", "", "ingest-a"},
			"GET /api/v1/rules/problems":             {"GET", "/api/v1/rules/problems", "", "ingest-a"},
			"GET /api/v1/rules/{id}":                 {"GET", "/api/v1/rules/" + lsassRule, "", "ingest-a"},
			"POST /api/v1/rules/reload":              {"POST", "/api/v1/rules/reload", "", "analyst-a"},
			"POST /api/v1/rules/hunt":                {"POST", "/api/v1/rules/hunt", `{"rule_ids":["` + lsassRule + `"],"start":"7d"}`, "ingest-a"},
			"GET /api/v1/rules/suppressions":         {"GET", "/api/v1/rules/suppressions", "", "ingest-a"},
			"POST /api/v1/rules/suppressions":        {"POST", "/api/v1/rules/suppressions", `{"rule_id":"` + lsassRule + `","for":"1h","reason":"noisy"}`, "analyst-a"},
			"DELETE /api/v1/rules/suppressions/{id}": {"DELETE", "/api/v1/rules/suppressions/" + sup.ID, "", "analyst-a"},
		}
		if len(table) != len(routes) {
			t.Fatalf("table has %d routes, DetectRoutes %d: cover every route", len(table), len(routes))
		}
		for _, rt := range routes {
			c, ok := table[rt.Pattern]
			if !ok {
				t.Fatalf("route %s not in the table", rt.Pattern)
			}
			if code, body := call(c.denied, c.method, c.path, c.body); code != http.StatusForbidden {
				t.Errorf("%s as %s: %d %s, want 403", rt.Pattern, c.denied, code, body)
			}
			if code, body := call("", c.method, c.path, c.body); code != http.StatusUnauthorized {
				t.Errorf("%s without a token: %d %s, want 401", rt.Pattern, code, body)
			}
			code, body := call("admin-b", c.method, c.path, c.body)
			switch rt.Pattern {
			case "DELETE /api/v1/rules/suppressions/{id}":
				if code != http.StatusNotFound {
					t.Errorf("%s from tenant b: %d %s, want 404", rt.Pattern, code, body)
				}
			case "GET /api/v1/rules/suppressions":
				if code != 200 || strings.TrimSpace(body) != "[]" {
					t.Errorf("%s from tenant b: %d %s, want an empty list", rt.Pattern, code, body)
				}
			case "POST /api/v1/rules/hunt":
				if code != 200 || !strings.Contains(body, `"events":0`) || !strings.Contains(body, `"detections":[]`) {
					t.Errorf("%s from tenant b: %d %s, want no events", rt.Pattern, code, body)
				}
			default:
				if code/100 != 2 {
					t.Errorf("%s from tenant b: %d %s", rt.Pattern, code, body)
				}
			}
		}
		if code, body := call("admin-a", "DELETE", "/api/v1/rules/suppressions/"+sup.ID, ""); code != 204 {
			t.Errorf("owner delete: %d %s", code, body)
		}
		if code, _ := call("admin-a", "GET", "/api/v1/rules/nope", ""); code != 404 {
			t.Errorf("unknown rule: %d", code)
		}
		for _, q := range rows.queries {
			if q.Tenant != "a" && q.Tenant != "b" {
				t.Errorf("query for tenant %q", q.Tenant)
			}
		}
	})
}
