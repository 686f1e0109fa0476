package api_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/soar"
	_ "github.com/wacht-soc/wacht/internal/soar/actions/all"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// soarCases knows one incident of tenant a.
type soarCases struct{ comments []string }

func (c *soarCases) Comment(_ context.Context, _, _, text, _ string) error {
	c.comments = append(c.comments, text)
	return nil
}
func (c *soarCases) Assign(context.Context, string, string, string, string) error      { return nil }
func (c *soarCases) SetStatus(context.Context, string, string, string, string) error   { return nil }
func (c *soarCases) SetPriority(context.Context, string, string, string, string) error { return nil }
func (c *soarCases) AddTask(context.Context, string, string, string, string, string) (string, error) {
	return "", nil
}
func (c *soarCases) AddObservable(context.Context, string, string, string, string, string) error {
	return nil
}
func (c *soarCases) Incident(_ context.Context, tenant, id string) (map[string]any, error) {
	if tenant == "a" && id == "inc_1" {
		return map[string]any{"id": id, "title": "t"}, nil
	}
	return nil, store.ErrNotFound
}

const soarTestPlaybook = `name: contain
on: { manual: {} }
steps:
  - id: approve
    uses: approval
    with: { role: incident-responder, timeout: 30m, message: "block?" }
  - id: note
    if: steps.approve.output.approved
    uses: case.comment
    with: { text: "approved by ${{ steps.approve.output.by }}" }
`

// TestSoarAccess walks every playbook route: a role without the
// permission gets 403, another tenant's playbooks, runs and approvals are
// 404 (or absent from lists), approvals need the step's role and another
// person than the one who started the run, and secrets never come back.
func TestSoarAccess(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
		cs := &soarCases{}
		svc := soar.New(db, soar.Options{Now: func() time.Time { return now }, SecretKey: []byte("0123456789abcdef0123456789abcdef"),
			Deps: soar.Deps{Cases: cs}})
		srv := api.New(api.Deps{Auth: tokens{
			"admin-a":   {Subject: "alice", Tenant: "a", Role: api.RoleAdmin, Method: api.AuthToken},
			"admin-b":   {Subject: "bob", Tenant: "b", Role: api.RoleAdmin, Method: api.AuthToken},
			"eng-a":     {Subject: "eng", Tenant: "a", Role: api.RoleSecurityEngineer, Method: api.AuthToken},
			"resp-a":    {Subject: "rita", Tenant: "a", Role: api.RoleIncidentResponder, Method: api.AuthToken},
			"resp2-a":   {Subject: "ralf", Tenant: "a", Role: api.RoleIncidentResponder, Method: api.AuthToken},
			"analyst-a": {Subject: "ann", Tenant: "a", Role: api.RoleSecurityAnalyst, Method: api.AuthToken},
			"auditor-a": {Subject: "aud", Tenant: "a", Role: api.RoleAuditor, Method: api.AuthToken},
		}, Log: slog.New(slog.DiscardHandler)})
		routes := api.SoarRoutes(svc)
		srv.Mount(routes...)
		ts := httptest.NewServer(srv)
		defer ts.Close()
		call := apiCaller(t, ts)
		if code, body := call("eng-a", "POST", "/api/v1/playbooks", "name: bad\nsteps: []\n"); code != 400 || !strings.Contains(body, "on:") {
			t.Fatalf("invalid playbook: %d %s", code, body)
		}
		if code, body := call("eng-a", "POST", "/api/v1/playbooks", soarTestPlaybook); code != 201 || !strings.Contains(body, `"version":1`) {
			t.Fatalf("apply: %d %s", code, body)
		}
		if code, body := call("admin-a", "PUT", "/api/v1/secrets/FW_TOKEN", `{"value":"hunter2-secret"}`); code != 204 {
			t.Fatalf("secret: %d %s", code, body)
		}
		code, body := call("resp-a", "POST", "/api/v1/incidents/inc_1/playbooks/contain/run", `{}`)
		var run soar.Run
		if code != 201 || json.Unmarshal([]byte(body), &run) != nil {
			t.Fatalf("run: %d %s", code, body)
		}
		if _, err := svc.RunDue(ctx); err != nil {
			t.Fatal(err)
		}
		// The starter may not approve their own run; another responder may.
		rp := "/api/v1/playbook-runs/" + run.ID
		if code, body := call("resp-a", "POST", rp+"/steps/approve/approve", `{}`); code != 403 {
			t.Fatalf("self-approval: %d %s", code, body)
		}
		if code, body := call("resp2-a", "POST", rp+"/steps/approve/approve", `{"comment":"ok"}`); code != 200 {
			t.Fatalf("approve: %d %s", code, body)
		}
		if _, err := svc.RunDue(ctx); err != nil {
			t.Fatal(err)
		}
		if code, body := call("resp-a", "GET", rp, ""); code != 200 || !strings.Contains(body, `"status":"succeeded"`) || len(cs.comments) != 1 || cs.comments[0] != "approved by ralf" {
			t.Fatalf("run after approval: %d %s %v", code, body, cs.comments)
		}
		// A second run waits for approval for the table below.
		code, body = call("admin-a", "POST", "/api/v1/incidents/inc_1/playbooks/contain/run", `{}`)
		var run2 soar.Run
		if code != 201 || json.Unmarshal([]byte(body), &run2) != nil || run2.IncidentID != "inc_1" {
			t.Fatalf("run from incident: %d %s", code, body)
		}
		if _, err := svc.RunDue(ctx); err != nil {
			t.Fatal(err)
		}
		rp2 := "/api/v1/playbook-runs/" + run2.ID

		type rc struct {
			method, path, body, denied string
			otherTenant                int // status for admin-b; 0: list must not show tenant a's data
		}
		table := map[string]rc{
			"GET /api/v1/playbooks":                                {"GET", "/api/v1/playbooks", "", "analyst-a", 0},
			"POST /api/v1/playbooks":                               {"POST", "/api/v1/playbooks", strings.Replace(soarTestPlaybook, "name: contain", "name: bplay", 1), "resp-a", 201},
			"POST /api/v1/playbooks/validate":                      {"POST", "/api/v1/playbooks/validate", soarTestPlaybook, "analyst-a", 200},
			"GET /api/v1/playbooks/{name}":                         {"GET", "/api/v1/playbooks/contain", "", "analyst-a", 404},
			"GET /api/v1/playbooks/{name}/versions":                {"GET", "/api/v1/playbooks/contain/versions", "", "analyst-a", 404},
			"POST /api/v1/playbooks/{name}/run":                    {"POST", "/api/v1/playbooks/contain/run", `{"dry_run":true}`, "analyst-a", 404},
			"POST /api/v1/incidents/{id}/playbooks/{name}/run":     {"POST", "/api/v1/incidents/inc_1/playbooks/contain/run", `{}`, "auditor-a", 404},
			"GET /api/v1/playbook-actions":                         {"GET", "/api/v1/playbook-actions", "", "analyst-a", 200},
			"GET /api/v1/playbook-runs":                            {"GET", "/api/v1/playbook-runs", "", "analyst-a", 0},
			"GET /api/v1/playbook-runs/{id}":                       {"GET", rp, "", "analyst-a", 404},
			"POST /api/v1/playbook-runs/{id}/replay":               {"POST", rp + "/replay", "", "auditor-a", 404},
			"POST /api/v1/playbook-runs/{id}/steps/{step}/approve": {"POST", rp2 + "/steps/approve/approve", `{}`, "eng-a", 404},
			"POST /api/v1/playbook-runs/{id}/steps/{step}/deny":    {"POST", rp2 + "/steps/approve/deny", `{}`, "eng-a", 404},
			"GET /api/v1/approvals":                                {"GET", "/api/v1/approvals", "", "eng-a", 0},
			"GET /api/v1/secrets":                                  {"GET", "/api/v1/secrets", "", "auditor-a", 0},
			"PUT /api/v1/secrets/{name}":                           {"PUT", "/api/v1/secrets/X", `{"value":"v"}`, "eng-a", 204},
			"DELETE /api/v1/secrets/{name}":                        {"DELETE", "/api/v1/secrets/FW_TOKEN", "", "resp-a", 404},
		}
		table["POST /api/v1/playbook-runs/{id}/retry"] = rc{"POST", rp + "/retry", "", "auditor-a", 404}
		table["POST /api/v1/playbook-runs/{id}/cancel"] = rc{"POST", rp + "/cancel", "", "auditor-a", 404}
		table["GET /api/v1/playbook-schedules"] = rc{"GET", "/api/v1/playbook-schedules", "", "analyst-a", 0}
		for _, rt := range routes {
			c, ok := table[rt.Pattern]
			if !ok {
				t.Errorf("route %s is not in the access table", rt.Pattern)
				continue
			}
			if code, body := call(c.denied, c.method, c.path, c.body); code != 403 {
				t.Errorf("%s as %s: %d %s, want 403", rt.Pattern, c.denied, code, body)
			}
			code, body := call("admin-b", c.method, c.path, c.body)
			switch {
			case c.otherTenant == 0:
				if code != 200 || strings.Contains(body, "contain") || strings.Contains(body, "FW_TOKEN") || strings.Contains(body, run.ID) {
					t.Errorf("%s as tenant b: %d %s", rt.Pattern, code, body)
				}
			case code != c.otherTenant:
				t.Errorf("%s as tenant b: %d %s, want %d", rt.Pattern, code, body, c.otherTenant)
			}
		}
		// Tenant a's own lists show its data; the secret's value never.
		for _, p := range []string{"/api/v1/playbooks", "/api/v1/playbook-runs", "/api/v1/approvals", "/api/v1/secrets"} {
			tok := "admin-a"
			code, body := call(tok, "GET", p, "")
			if code != 200 || body == "[]\n" || strings.Contains(body, "hunter2") {
				t.Errorf("%s: %d %s", p, code, body)
			}
		}
		if code, _ := call("resp-a", "POST", rp2+"/steps/approve/deny", `{}`); code != 200 {
			t.Errorf("deny: %d", code)
		}
		if code, _ := call("resp2-a", "POST", rp2+"/steps/approve/approve", `{}`); code != 400 {
			t.Errorf("decided twice: %d", code)
		}
	})
}
