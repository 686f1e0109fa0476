package api_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/comply"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// complyEngine stands in for OPA (which package api does not link): every
// check is "not applicable".
type complyEngine struct{}

func (complyEngine) Compile(context.Context, []comply.PolicyModule) (comply.Compiled, error) {
	return complyCompiled{}, nil
}
func (complyEngine) Test(context.Context, []comply.PolicyModule) ([]comply.TestResult, error) {
	return []comply.TestResult{{Package: "data.x_test", Name: "test_x", Pass: true}}, nil
}

type complyCompiled struct{}

func (complyCompiled) Results(context.Context, string, map[string]any) ([]any, error) {
	return []any{map[string]any{"subject": "*", "status": "not_applicable"}}, nil
}

// TestComplianceAccess walks every compliance route: without a token 401,
// a role without the permission 403 (the auditor may read and export but
// never write or approve), another tenant's records 404, and the owner's
// calls work.
func TestComplianceAccess(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		skey, vkey, _ := note.GenerateKey(nil, "wacht-test")
		signer, _ := note.NewSigner(skey)
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		svc, err := comply.New(db, comply.Options{Engine: complyEngine{}, Now: func() time.Time { return now },
			Export: comply.ExportOptions{Signer: signer, VerifierKey: vkey}})
		if err != nil {
			t.Fatal(err)
		}
		srv := api.New(api.Deps{Auth: tokens{
			"admin-a":   {Subject: "alice", Tenant: "a", Role: "admin"},
			"manager-a": {Subject: "mia", Tenant: "a", Role: "soc-manager"},
			"admin-b":   {Subject: "bob", Tenant: "b", Role: "admin"},
			"auditor":   {Subject: "audrey", Tenant: "a", Role: "auditor"},
			"auditor2":  {Subject: "otto", Tenant: "a", Role: "auditor"},
			"analyst":   {Subject: "ana", Tenant: "a", Role: "security-analyst"},
		}, Log: slog.New(slog.DiscardHandler)})
		srv.Mount(api.ComplyRoutes(svc)...)
		ts := httptest.NewServer(srv)
		defer ts.Close()
		call := apiCaller(t, ts)
		// Records of tenant a: a run before the auditor's window, one in it.
		code, body := call("admin-a", "POST", "/api/v1/compliance/evaluate?at=2026-01-15T00:00:00Z", "")
		var old struct{ Run comply.Run }
		if code != 200 || json.Unmarshal([]byte(body), &old) != nil || old.Run.ID == "" {
			t.Fatalf("evaluate old: %d %s", code, body)
		}
		engBody := `{"framework":"iso27001-2022","scope":"ISMS","auditor":"audrey","window_from":"2026-02-01T00:00:00Z","window_to":"2026-03-02T00:00:00Z","access_until":"2026-03-10T00:00:00Z"}`
		code, body = call("admin-a", "POST", "/api/v1/compliance/engagements", engBody)
		var eng comply.Engagement
		if code != 201 || json.Unmarshal([]byte(body), &eng) != nil {
			t.Fatalf("engagement: %d %s", code, body)
		}
		code, body = call("admin-a", "POST", "/api/v1/compliance/evaluate", "")
		var ev struct{ Run comply.Run }
		if code != 200 || json.Unmarshal([]byte(body), &ev) != nil || ev.Run.ID == "" {
			t.Fatalf("evaluate: %d %s", code, body)
		}
		waiverBody := `{"check":"access.mfa_privileged","subject":"u2","justification":"break-glass account","expires_at":"2026-04-01T00:00:00Z"}`
		code, body = call("admin-a", "POST", "/api/v1/compliance/waivers", waiverBody)
		var wv comply.Waiver
		if code != 201 || json.Unmarshal([]byte(body), &wv) != nil {
			t.Fatalf("waiver: %d %s", code, body)
		}
		evBody := `{"title":"Backup policy","kind":"file","framework":"iso27001-2022","requirement":"A.8.13","name":"p.txt","content_base64":"cG9saWN5"}`
		code, body = call("admin-a", "POST", "/api/v1/compliance/evidence", evBody)
		var evd comply.Evidence
		if code != 201 || json.Unmarshal([]byte(body), &evd) != nil {
			t.Fatalf("evidence: %d %s", code, body)
		}
		assess := `{"applicable":false,"justification":"no own premises, cloud only"}`
		cases := []struct {
			tok, method, path, body string
			want                    int
		}{
			{"", "GET", "/api/v1/compliance/frameworks", "", 401},
			// Roles without compliance rights.
			{"analyst", "GET", "/api/v1/compliance/frameworks", "", 403},
			{"analyst", "GET", "/api/v1/compliance/soa", "", 403},
			{"analyst", "GET", "/api/v1/compliance/export", "", 403},
			// The auditor reads and exports, never writes or approves.
			{"auditor", "GET", "/api/v1/compliance/soa", "", 200},
			{"auditor", "GET", "/api/v1/compliance/runs/" + ev.Run.ID, "", 200},
			{"auditor", "GET", "/api/v1/compliance/evidence/" + evd.ID + "/revisions/1", "", 200},
			{"auditor", "GET", "/api/v1/compliance/reports/nis2-art21?lang=de", "", 200},
			{"auditor", "GET", "/api/v1/compliance/export", "", 200},
			{"auditor", "POST", "/api/v1/compliance/evaluate", "", 403},
			{"auditor", "POST", "/api/v1/compliance/waivers", waiverBody, 403},
			{"auditor", "POST", "/api/v1/compliance/waivers/" + wv.ID + "/decision", `{"approve":true}`, 403},
			{"auditor", "POST", "/api/v1/compliance/evidence", evBody, 403},
			{"auditor", "PUT", "/api/v1/compliance/assessments/iso27001-2022/A.7.4", assess, 403},
			{"auditor", "POST", "/api/v1/compliance/import/oscal", "{}", 403},
			{"auditor", "PUT", "/api/v1/compliance/bundles/x", "{}", 403},
			{"auditor", "POST", "/api/v1/compliance/engagements", engBody, 403},
			{"auditor", "POST", "/api/v1/compliance/engagements/" + eng.ID + "/findings", `{}`, 403},
			{"auditor", "POST", "/api/v1/compliance/findings/x/close", `{}`, 403},
			{"auditor", "GET", "/api/v1/compliance/engagements/" + eng.ID, "", 200},
			{"auditor", "GET", "/api/v1/compliance/engagements", "", 200},
			// Out of the auditor's window: absent.
			{"auditor", "GET", "/api/v1/compliance/runs/" + old.Run.ID, "", 404},
			// An auditor without an engagement reads nothing.
			{"auditor2", "GET", "/api/v1/compliance/soa", "", 404},
			{"auditor2", "GET", "/api/v1/compliance/runs", "", 404},
			{"auditor2", "GET", "/api/v1/compliance/export", "", 404},
			{"auditor2", "GET", "/api/v1/compliance/engagements/" + eng.ID, "", 404},
			// Another tenant sees none of a's records.
			{"admin-b", "GET", "/api/v1/compliance/runs/" + ev.Run.ID, "", 404},
			{"admin-b", "GET", "/api/v1/compliance/waivers/" + wv.ID, "", 404},
			{"admin-b", "POST", "/api/v1/compliance/waivers/" + wv.ID + "/decision", `{"approve":true}`, 404},
			{"admin-b", "GET", "/api/v1/compliance/evidence/" + evd.ID, "", 404},
			{"admin-b", "GET", "/api/v1/compliance/evidence/" + evd.ID + "/revisions/1", "", 404},
			{"admin-b", "POST", "/api/v1/compliance/evidence/" + evd.ID + "/revisions", `{"content_base64":"eA=="}`, 404},
			{"admin-b", "GET", "/api/v1/compliance/frameworks/tisax", "", 404},
			{"admin-b", "GET", "/api/v1/compliance/engagements/" + eng.ID, "", 404},
			{"admin-b", "POST", "/api/v1/compliance/engagements/" + eng.ID + "/findings", `{"kind":"observation","title":"x","owner":"y"}`, 404},
			// The requester cannot approve their own waiver.
			{"admin-a", "POST", "/api/v1/compliance/waivers/" + wv.ID + "/decision", `{"approve":true}`, 400},
			{"manager-a", "POST", "/api/v1/compliance/waivers/" + wv.ID + "/decision", `{"approve":true}`, 200},
			// The owner's calls.
			{"admin-a", "GET", "/api/v1/compliance/frameworks", "", 200},
			{"admin-a", "GET", "/api/v1/compliance/frameworks/nis2-art21?at=2026-03-01T12:00:00Z", "", 200},
			{"admin-a", "GET", "/api/v1/compliance/frameworks/iso27001-2022/requirements/A.8.5/history", "", 200},
			{"admin-a", "GET", "/api/v1/compliance/checks", "", 200},
			{"admin-a", "PUT", "/api/v1/compliance/checks/backup.recent/params", `{"max_age_days":3}`, 200},
			{"admin-a", "PUT", "/api/v1/compliance/checks/backup.recent/params", `{"max_age_days":"3"}`, 400},
			{"auditor", "PUT", "/api/v1/compliance/checks/backup.recent/params", `{"max_age_days":3}`, 403},
			{"admin-a", "GET", "/api/v1/compliance/dashboard/iso27001-2022", "", 200},
			{"admin-b", "GET", "/api/v1/compliance/dashboard/tisax", "", 404},
			{"auditor", "GET", "/api/v1/compliance/dashboard/iso27001-2022", "", 404},
			{"analyst", "GET", "/api/v1/compliance/dashboard/iso27001-2022", "", 403},
			{"admin-a", "POST", "/api/v1/compliance/checks/test", "", 200},
			{"admin-a", "GET", "/api/v1/compliance/runs", "", 200},
			{"admin-a", "GET", "/api/v1/compliance/results?status=fail", "", 200},
			{"admin-a", "GET", "/api/v1/compliance/results?status=bogus", "", 400},
			{"admin-a", "GET", "/api/v1/compliance/waivers", "", 200},
			{"admin-a", "GET", "/api/v1/compliance/evidence?renew_within=30d", "", 200},
			{"admin-a", "PUT", "/api/v1/compliance/assessments/iso27001-2022/A.7.4", assess, 200},
			{"admin-a", "PUT", "/api/v1/compliance/assessments/iso27001-2022/A.7.4", `{"applicable":false}`, 400},
			{"admin-a", "GET", "/api/v1/compliance/reports/gdpr-breaches?format=json", "", 200},
			{"admin-a", "GET", "/api/v1/compliance/reports/iso27001-soa?format=pdf", "", 501},
			{"admin-a", "POST", "/api/v1/compliance/evaluate?at=2030-01-01T00:00:00Z", "", 400},
			{"admin-a", "POST", "/api/v1/compliance/import/tisax", "not a workbook", 400},
			{"admin-a", "POST", "/api/v1/compliance/waivers/" + wv.ID + "/revoke", `{}`, 200},
			{"admin-a", "GET", "/api/v1/compliance/runs/" + old.Run.ID, "", 200},
			{"admin-a", "POST", "/api/v1/compliance/engagements/" + eng.ID + "/findings", `{"kind":"minor_nonconformity","requirement":"A.8.13","title":"Restore not tested","owner":"ops"}`, 400},
			{"admin-a", "POST", "/api/v1/compliance/engagements/" + eng.ID + "/findings", `{"kind":"minor_nonconformity","requirement":"A.8.13","title":"Restore not tested","owner":"ops","due_at":"2026-04-01T00:00:00Z"}`, 201},
			{"admin-a", "POST", "/api/v1/compliance/findings/nope/close", `{"version":1}`, 404},
		}
		for _, c := range cases {
			if code, body := call(c.tok, c.method, c.path, c.body); code != c.want {
				t.Errorf("%s %s %s: %d, want %d: %s", c.tok, c.method, c.path, code, c.want, body)
			}
		}
		// Every route is in the table.
		for _, rt := range api.ComplyRoutes(svc) {
			if !api.Registered(rt.Perm) {
				t.Errorf("route %s has an unregistered permission", rt.Pattern)
			}
			method, pattern, _ := strings.Cut(rt.Pattern, " ")
			quoted := regexp.QuoteMeta(regexp.MustCompile(`\{[a-z]+\}`).ReplaceAllString(pattern, "PARAM"))
			re := regexp.MustCompile("^" + strings.ReplaceAll(quoted, "PARAM", "[^/]+") + "$")
			found := false
			for _, c := range cases {
				p, _, _ := strings.Cut(c.path, "?")
				found = found || (c.method == method && re.MatchString(p))
			}
			if !found {
				t.Errorf("route %s is not in the access table", rt.Pattern)
			}
		}
		code, body = call("auditor", "GET", "/api/v1/compliance/export", "")
		if code != 200 || !strings.HasPrefix(body, "PK") {
			t.Fatalf("export: %d", code)
		}
		rep, err := comply.VerifyBundle(strings.NewReader(body), int64(len(body)), vkey)
		if err != nil || !rep.OK {
			t.Fatalf("exported bundle: %+v %v", rep, err)
		}
		// The auditor's bundle and lists hold only the window.
		if rep.Manifest.Runs != 1 || !rep.Manifest.From.Equal(eng.WindowFrom) || !rep.Manifest.To.Equal(eng.WindowTo) {
			t.Fatalf("auditor bundle covers %v–%v with %d runs", rep.Manifest.From, rep.Manifest.To, rep.Manifest.Runs)
		}
		code, body = call("auditor", "GET", "/api/v1/compliance/runs", "")
		if code != 200 || strings.Contains(body, old.Run.ID) || !strings.Contains(body, ev.Run.ID) {
			t.Fatalf("auditor runs: %d %s", code, body)
		}
		code, body = call("auditor", "GET", "/api/v1/compliance/results?from=2025-01-01T00:00:00Z", "")
		if code != 200 || strings.Contains(body, old.Run.ID) {
			t.Fatalf("auditor results include the old run: %d", code)
		}
		code, body = call("admin-a", "GET", "/api/v1/compliance/runs", "")
		if code != 200 || !strings.Contains(body, old.Run.ID) {
			t.Fatalf("admin runs: %d %s", code, body)
		}
	})
}
