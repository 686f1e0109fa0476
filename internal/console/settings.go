package console

import (
	"net/http"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/auth"
)

// The settings pages: the caller's session, and (by permission) the
// tenant's users and API tokens. Changes go through the access API
// (POST /api/v1/users, /api/v1/tokens …), which asks for a recent second
// factor; the pages show where.

type settingsData struct {
	Roles  []api.RoleDef
	Users  []auth.User
	Tokens []auth.Token
	Tab    string
	// Message is the notice of the last change; RoleNames the roles a
	// user can be given.
	Message   string
	RoleNames []string
	CanWrite  bool
	// RolesTab and TenantsTab are the roles and tenants tabs (roles.go).
	RolesTab   rolesData
	TenantsTab tenantsData
}

func (s *Service) settings(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, "settings", "layout", s.newPage(r, "settings", "Settings", settingsData{Tab: "session", Roles: api.RoleDefs()}))
}

func (s *Service) users(w http.ResponseWriter, r *http.Request) {
	us, err := s.o.Users.List(r.Context(), api.TenantOf(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "settings", "layout", s.newPage(r, "settings", "Users", settingsData{Tab: "users", Users: us,
		Message: r.URL.Query().Get("msg"), RoleNames: api.Roles(), CanWrite: s.o.API != nil}))
}

func (s *Service) tokens(w http.ResponseWriter, r *http.Request) {
	ts, err := s.o.Tokens.List(r.Context(), api.TenantOf(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "settings", "layout", s.newPage(r, "settings", "API tokens", settingsData{Tab: "tokens", Tokens: ts,
		Message: r.URL.Query().Get("msg"), CanWrite: s.o.API != nil}))
}
