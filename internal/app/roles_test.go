package app

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/auth"
	"github.com/wacht-soc/wacht/internal/config"
)

// TestCustomRolesPersist: an administrator defines a role through the API,
// a token bound to it gets exactly its grants, the role survives a restart
// (it is loaded from the state database), and deleting it takes the grants
// away.
func TestCustomRolesPersist(t *testing.T) {
	dir := t.TempDir()
	start := func() *App {
		cfg := config.Default()
		cfg.Data = dir
		cfg.HTTP.Listen = "127.0.0.1:0"
		cfg.Syslog.UDP, cfg.Syslog.TCP, cfg.Syslog.TLS = "", "", ""
		a, err := Start(context.Background(), cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	stop := func(a *App) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = a.Stop(ctx)
	}
	a := start()
	ctx := context.Background()
	ts := auth.NewTokenStore(a.db, nil)
	admin, _, err := ts.Create(ctx, auth.TokenSpec{Tenant: "acme", Name: "admin", Role: api.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	rec := call(a.api, "PUT", "/api/v1/roles/vuln-triager", admin, `{"description":"triages findings","grants":["vulns:read","vulns:triage"]}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("define role: %d %s", rec.Code, rec.Body)
	}
	t.Cleanup(func() { _ = api.UndefineRole("vuln-triager") })
	triager, _, err := ts.Create(ctx, auth.TokenSpec{Tenant: "acme", Name: "triager", Role: "vuln-triager"})
	if err != nil {
		t.Fatal(err)
	}
	check := func(a *App, path string, want int) {
		t.Helper()
		if rec := call(a.api, "GET", path, triager, ""); (want == http.StatusForbidden) != (rec.Code == http.StatusForbidden) {
			t.Fatalf("GET %s as vuln-triager: %d, want %d", path, rec.Code, want)
		}
	}
	check(a, "/api/v1/vuln/findings", http.StatusOK)
	check(a, "/api/v1/incidents", http.StatusForbidden)
	if rec := call(a.api, "PUT", "/api/v1/roles/admin", admin, `{"grants":["*"]}`); rec.Code != http.StatusBadRequest {
		t.Fatalf("redefining a built-in role: %d", rec.Code)
	}
	if rec := call(a.api, "PUT", "/api/v1/roles/x", triager, `{"grants":["*"]}`); rec.Code != http.StatusForbidden {
		t.Fatalf("a custom role defined roles: %d", rec.Code)
	}
	stop(a)

	// A new process knows nothing of the role until it loads it.
	if err := api.UndefineRole("vuln-triager"); err != nil {
		t.Fatal(err)
	}
	a = start()
	defer stop(a)
	check(a, "/api/v1/vuln/findings", http.StatusOK)
	if rec := call(a.api, "DELETE", "/api/v1/roles/vuln-triager", admin, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("delete role: %d %s", rec.Code, rec.Body)
	}
	check(a, "/api/v1/vuln/findings", http.StatusForbidden)
}
