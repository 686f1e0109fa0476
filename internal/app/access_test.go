package app

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/auth"
	"github.com/wacht-soc/wacht/internal/config"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func startTestApp(t *testing.T) (*App, *syncBuf) {
	t.Helper()
	cfg := config.Default()
	cfg.Data = t.TempDir()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Syslog.UDP, cfg.Syslog.TCP, cfg.Syslog.TLS = "", "", ""
	logs := &syncBuf{}
	a, err := Start(context.Background(), cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = a.Stop(ctx)
	})
	return a, logs
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

func call(h http.Handler, method, path, token string, body string) *httptest.ResponseRecorder {
	// Streaming endpoints (server-sent events) answer until the client goes:
	// every call ends after a short while.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, method, path, strings.NewReader(body))
	req.RemoteAddr = "192.0.2.7:5000"
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestAccessMatrix enumerates every registered route × role × tenant and
// checks the guard's answer against the declared role matrix: no token 401,
// a role without the permission 403, a role with it past the guard. A
// route whose permission is not registered fails the test.
func TestAccessMatrix(t *testing.T) {
	a, logs := startTestApp(t)
	ctx := context.Background()
	ts := auth.NewTokenStore(a.db, nil)
	tenants := []string{"acme", "globex"}
	tokens := map[string]map[string]string{} // tenant → role → secret
	var secrets []string
	for _, tn := range tenants {
		tokens[tn] = map[string]string{}
		for _, role := range api.Roles() {
			s, _, err := ts.Create(ctx, auth.TokenSpec{Tenant: tn, Name: "matrix-" + role, Role: role})
			if err != nil {
				t.Fatal(err)
			}
			tokens[tn][role] = s
			secrets = append(secrets, s)
		}
	}
	routes := a.api.Routes()
	if len(routes) < 20 {
		t.Fatalf("only %d routes registered", len(routes))
	}
	checked := 0
	for _, rt := range routes {
		method, path, ok := strings.Cut(rt.Pattern, " ")
		if !ok {
			method, path = "GET", rt.Pattern
		}
		path = pathParam.ReplaceAllString(strings.ReplaceAll(path, "{$}", ""), "x1")
		if rt.Perm == "" || rt.Perm == api.PermSignIn {
			continue // public paths and sign-in are anonymous by design
		}
		if !api.Registered(rt.Perm) {
			t.Errorf("route %s: permission %q is not registered (no entry in the role matrix)", rt.Pattern, rt.Perm)
			continue
		}
		// Console pages answer a refused sign-in with a redirect to the
		// login page instead of 401; the API answers 401.
		unauthenticated := func(rec *httptest.ResponseRecorder) bool {
			if strings.HasPrefix(path, "/console/") {
				return rec.Code == http.StatusSeeOther && strings.HasPrefix(rec.Header().Get("Location"), "/console/login")
			}
			return rec.Code == http.StatusUnauthorized
		}
		if rec := call(a.api, method, path, "", ""); !unauthenticated(rec) {
			t.Errorf("%s without a token: %d, want 401", rt.Pattern, rec.Code)
		}
		if rec := call(a.api, method, path, "wacht_"+strings.Repeat("A", 43), ""); !unauthenticated(rec) {
			t.Errorf("%s with an unknown token: %d, want 401", rt.Pattern, rec.Code)
		}
		for _, tn := range tenants {
			for _, role := range api.Roles() {
				rec := call(a.api, method, path, tokens[tn][role], "")
				allowed := api.Allowed(role, rt.Perm)
				switch {
				case !allowed && rec.Code != http.StatusForbidden:
					t.Errorf("%s as %s/%s: %d, want 403", rt.Pattern, tn, role, rec.Code)
				case allowed && (rec.Code == http.StatusForbidden || rec.Code == http.StatusUnauthorized):
					t.Errorf("%s as %s/%s: %d, want past the guard: %s", rt.Pattern, tn, role, rec.Code, rec.Body)
				}
				checked++
			}
		}
	}
	t.Logf("%d routes, %d role×tenant checks", len(routes), checked)

	// Every declared role has its matrix: the auditor never reads secrets
	// nor writes; ingest only sends events.
	for _, p := range api.Permissions() {
		if api.Allowed(api.RoleAuditor, p) && p.Verb() != "read" && p.Resource() != "audit" && p != api.PermSession && p != "compliance:export" {
			t.Errorf("auditor may %s", p)
		}
		if api.Allowed(api.RoleIngest, p) && p != api.PermEventsWrite {
			t.Logf("ingest may %s (granted explicitly by its domain)", p)
		}
	}

	// Cross-tenant: acme's user, token and audit records are invisible to
	// globex's admin (404 or absent).
	acmeAdmin, globexAdmin := tokens["acme"][api.RoleAdmin], tokens["globex"][api.RoleAdmin]
	pw := "correct horse battery staple"
	rec := call(a.api, "POST", "/api/v1/users", acmeAdmin, `{"username":"ann","password":"`+pw+`","role":"security-analyst"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create user: %d %s", rec.Code, rec.Body)
	}
	var usr struct{ ID string }
	_ = json.Unmarshal(rec.Body.Bytes(), &usr)
	if rec := call(a.api, "GET", "/api/v1/users/"+usr.ID, globexAdmin, ""); rec.Code != http.StatusNotFound {
		t.Errorf("acme user read from globex: %d", rec.Code)
	}
	if rec := call(a.api, "PUT", "/api/v1/users/"+usr.ID+"/role", globexAdmin, `{"role":"admin"}`); rec.Code != http.StatusNotFound {
		t.Errorf("acme user re-bound from globex: %d", rec.Code)
	}
	if rec := call(a.api, "GET", "/api/v1/users/"+usr.ID, acmeAdmin, ""); rec.Code != http.StatusOK {
		t.Errorf("acme user read from acme: %d", rec.Code)
	}
	rec = call(a.api, "POST", "/api/v1/tokens", acmeAdmin, `{"name":"ci","role":"ingest","ttl":"1h"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create token: %d %s", rec.Code, rec.Body)
	}
	var created struct {
		Token  struct{ ID string }
		Secret string
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &created)
	secrets = append(secrets, created.Secret)
	if rec := call(a.api, "DELETE", "/api/v1/tokens/"+created.Token.ID, globexAdmin, ""); rec.Code != http.StatusNotFound {
		t.Errorf("acme token revoked from globex: %d", rec.Code)
	}
	if rec := call(a.api, "GET", "/api/v1/tokens", globexAdmin, ""); strings.Contains(rec.Body.String(), created.Token.ID) {
		t.Error("globex lists acme's token")
	}
	if rec := call(a.api, "GET", "/api/v1/audit?limit=10000", tokens["globex"][api.RoleAuditor], ""); strings.Contains(rec.Body.String(), `"tenant":"acme"`) {
		t.Error("globex's auditor reads acme's audit records")
	}
	// Revocation takes effect at once.
	if rec := call(a.api, "DELETE", "/api/v1/tokens/"+created.Token.ID, acmeAdmin, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("revoke: %d", rec.Code)
	}
	if rec := call(a.api, "POST", "/api/v1/ingest", created.Secret, "{}\n"); rec.Code != http.StatusUnauthorized {
		t.Errorf("revoked token: %d, want 401", rec.Code)
	}

	// The audit trail recorded the state changes, with hashes, and no
	// secrets.
	rec = call(a.api, "GET", "/api/v1/audit/export", tokens["acme"][api.RoleAuditor], "")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "POST /api/v1/users") || !strings.Contains(rec.Body.String(), "users.create") {
		t.Errorf("audit export lacks the user creation: %d", rec.Code)
	}
	if rec := call(a.api, "GET", "/api/v1/audit/export", tokens["acme"][api.RoleSOCManager], ""); rec.Code != http.StatusForbidden {
		t.Errorf("soc-manager exported the audit trail: %d", rec.Code)
	}
	for _, where := range []struct{ name, text string }{{"logs", logs.String()}, {"audit export", rec.Body.String()},
		{"token list", call(a.api, "GET", "/api/v1/tokens", acmeAdmin, "").Body.String()},
		{"user list", call(a.api, "GET", "/api/v1/users", acmeAdmin, "").Body.String()}} {
		for _, s := range append(secrets, pw, "argon2id") {
			if strings.Contains(where.text, s) {
				t.Errorf("%s contain a secret (%.12s…)", where.name, s)
			}
		}
	}
}

// A session needs the CSRF header on writes and a recent second factor for
// sensitive actions.
func TestSessionCSRFAndStepUp(t *testing.T) {
	a, _ := startTestApp(t)
	u := auth.NewUsers(a.db, auth.UsersOptions{})
	if _, err := u.Create(context.Background(), auth.NewUser{Tenant: "acme", Username: "root", Password: "correct horse battery", Role: api.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	rec := call(a.api, "POST", "/api/v1/auth/login", "", `{"username":"root","password":"correct horse battery"}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	res := rec.Result()
	var cookie *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == api.SessionCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || !cookie.Secure || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie %+v", cookie)
	}
	if strings.Contains(rec.Body.String(), cookie.Value) {
		t.Fatal("login answer contains the session secret")
	}
	var ses struct {
		CSRF string `json:"csrf_token"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &ses)
	do := func(method, path, body, csrf string) int {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.AddCookie(cookie)
		if csrf != "" {
			req.Header.Set(api.CSRFHeader, csrf)
		}
		w := httptest.NewRecorder()
		a.api.ServeHTTP(w, req)
		return w.Code
	}
	if c := do("GET", "/api/v1/users", "", ""); c != http.StatusOK {
		t.Fatalf("session read: %d", c)
	}
	if c := do("POST", "/api/v1/tokens", `{"name":"x","role":"ingest"}`, ""); c != http.StatusForbidden {
		t.Fatalf("write without CSRF token: %d, want 403", c)
	}
	if c := do("POST", "/api/v1/tokens", `{"name":"x","role":"ingest"}`, ses.CSRF); c != http.StatusUnauthorized {
		t.Fatalf("sensitive write without step-up: %d, want 401", c)
	}
	if c := do("POST", "/api/v1/auth/step-up", `{"password":"correct horse battery"}`, ses.CSRF); c != http.StatusNoContent {
		t.Fatalf("step-up: %d", c)
	}
	if c := do("POST", "/api/v1/tokens", `{"name":"x","role":"ingest"}`, ses.CSRF); c != http.StatusCreated {
		t.Fatalf("sensitive write after step-up: %d", c)
	}
	if rec := call(a.api, "GET", "/api/v1/status", "", ""); rec.Header().Get("Content-Security-Policy") == "" || rec.Header().Get("X-Frame-Options") != "DENY" {
		t.Fatalf("security headers missing: %v", rec.Header())
	}
}
