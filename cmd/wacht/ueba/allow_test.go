package ueba

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
	"github.com/wacht-soc/wacht/internal/ueba"
)

type engineerToken struct{}

func (engineerToken) Authenticate(_ context.Context, tok string) (api.Identity, error) {
	if tok == "secret" {
		return api.Identity{Subject: "eve", Tenant: "default", Role: api.RoleSecurityEngineer, Method: api.AuthToken}, nil
	}
	return api.Identity{}, api.ErrDenied
}

// `wacht ueba allow add | list | rm` against a real API server.
func TestAllowCommands(t *testing.T) {
	db := storetest.Open(t, store.Config{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "state.db")})
	svc, err := ueba.New(t.Context(), ueba.Options{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	srv := api.New(api.Deps{Auth: engineerToken{}, Log: slog.New(slog.DiscardHandler)})
	srv.Mount(api.UEBARoutes(svc)...)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	flags := []string{"--server", ts.URL, "--token", "secret"}
	if _, err := run(t, append([]string{"ueba", "allow", "add", "host", "build-01", "--for", "72h"}, flags...)...); err == nil || !strings.Contains(err.Error(), "reason is required") {
		t.Fatalf("add without a reason: %v", err)
	}
	out, err := run(t, append([]string{"ueba", "allow", "add", "host", "build-01", "--reason", "CI builders install tools", "--detector", "new_process", "--for", "72h"}, flags...)...)
	if err != nil || !strings.Contains(out, "host:build-01 until") {
		t.Fatalf("add: %q %v", out, err)
	}
	id := strings.SplitN(out, ":", 2)[0]
	out, err = run(t, append([]string{"ueba", "allow", "list"}, flags...)...)
	if err != nil || !strings.Contains(out, id) || !strings.Contains(out, "new_process") || !strings.Contains(out, "CI builders install tools") {
		t.Fatalf("list: %q %v", out, err)
	}
	if _, err := run(t, append([]string{"ueba", "allow", "rm", id}, flags...)...); err != nil {
		t.Fatal(err)
	}
	if l := svc.AllowList("default"); len(l) != 0 {
		t.Fatalf("still listed after rm: %+v", l)
	}
}
