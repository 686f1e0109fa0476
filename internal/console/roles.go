package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/wacht-soc/wacht/internal/api"
)

// The roles and tenants tabs of the settings pages. Roles are read and
// changed through the access API (GET /api/v1/roles, PUT and DELETE
// /api/v1/roles/{name}), which asks for a recent second factor for a
// change; built-in roles are shown but cannot be edited. The tenants tab
// is read-only (there is no API that creates a tenant: a tenant exists
// when the CLI adds or binds a user in it or issues a token for it;
// wacht users add/bind --tenant, wacht token create --tenant): it lists the
// tenants the caller is bound in, with the number of users and active
// tokens of each where the caller's role there may list them.

// roleRow is a role as the roles tab shows it; EditDenies leaves out the
// denies every custom role gets anyway (credentials).
type roleRow struct {
	api.RoleDef
	EditDenies []string
}

type rolesData struct {
	Roles    []roleRow
	Message  string
	CanWrite bool
	Edit     string // the custom role whose form is open
}

// tenantRow is one tenant of the tenants tab; a count is -1 when the
// caller's role there may not see it.
type tenantRow struct {
	Tenant  string
	Role    string
	Users   int
	Tokens  int
	Current bool
}

type tenantsData struct {
	Tenants []tenantRow
}

func (s *Service) settingsAdminRoutes() []api.Route {
	p := api.ConsolePrefix
	var rs []api.Route
	if s.o.API != nil {
		// As for users and tokens, the page routes need the list's
		// permission; the API call behind a change needs roles:write and
		// the step-up.
		rs = append(rs,
			api.Route{Pattern: "GET " + p + "settings/roles", Perm: api.PermRolesRead, Handler: s.rolesPage},
			api.Route{Pattern: "POST " + p + "settings/roles", Perm: api.PermRolesRead, Handler: s.putRole},
			api.Route{Pattern: "POST " + p + "settings/roles/{name}/delete", Perm: api.PermRolesRead, Handler: s.deleteRole})
	}
	if s.o.DB != nil {
		rs = append(rs, api.Route{Pattern: "GET " + p + "settings/tenants", Perm: api.PermSession, Handler: s.tenantsPage})
	}
	return rs
}

// alwaysDenied are the deny patterns every non-admin built-in role has:
// the credential resources the access layer adds to every custom role.
func alwaysDenied(defs []api.RoleDef) []string {
	var common []string
	first := true
	for _, d := range defs {
		if !d.BuiltIn || d.Name == api.RoleAdmin {
			continue
		}
		if first {
			common, first = slices.Clone(d.Denies), false
			continue
		}
		common = slices.DeleteFunc(common, func(p string) bool { return !slices.Contains(d.Denies, p) })
	}
	return common
}

func (s *Service) rolesPage(w http.ResponseWriter, r *http.Request) {
	var defs []api.RoleDef
	if err := s.call(r, "GET", "/api/v1/roles", nil, &defs); err != nil {
		if m, ok := userMessage(err); ok {
			back(w, r, api.ConsolePrefix+"settings", "Roles not shown: "+m)
			return
		}
		s.fail(w, r, err)
		return
	}
	skip := alwaysDenied(defs)
	d := rolesData{Message: r.URL.Query().Get("msg"), CanWrite: true, Edit: r.URL.Query().Get("edit")}
	for _, def := range defs {
		row := roleRow{RoleDef: def}
		for _, p := range def.Denies {
			if !slices.Contains(skip, p) && !slices.Contains(row.EditDenies, p) {
				row.EditDenies = append(row.EditDenies, p)
			}
		}
		d.Roles = append(d.Roles, row)
	}
	s.render(w, r, "settings", "layout", s.newPage(r, "settings", "Roles", settingsData{Tab: "roles", RolesTab: d}))
}

// patterns splits a form field of permission patterns (spaces, commas or
// lines between them).
func patterns(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// checkPatterns says which pattern is not "resource:verb" with globs.
func checkPatterns(field string, ps []string) error {
	for _, p := range ps {
		if strings.Count(p, ":") != 1 || strings.HasPrefix(p, ":") || strings.HasSuffix(p, ":") {
			return userError{fmt.Sprintf("%s pattern %q is not resource:verb (like cases:read or intel:*)", field, p)}
		}
	}
	return nil
}

func (s *Service) putRole(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	dest := api.ConsolePrefix + "settings/roles"
	grants, denies := patterns(r.PostForm.Get("grants")), patterns(r.PostForm.Get("denies"))
	err := checkPatterns("grant", grants)
	if err == nil {
		err = checkPatterns("deny", denies)
	}
	if err == nil && name == "" {
		err = userError{"a role needs a name"}
	}
	if err != nil {
		back(w, r, dest, "Role not saved: "+err.Error())
		return
	}
	body := map[string]any{"description": strings.TrimSpace(r.PostForm.Get("description")), "grants": grants, "denies": denies}
	s.withStepUp(w, r, "settings", dest, "save the custom role "+name+" (grants "+strings.Join(grants, " ")+")", func() (string, error) {
		return "Role " + name + " saved", s.call(r, "PUT", "/api/v1/roles/"+url.PathEscape(name), body, nil)
	})
}

func (s *Service) deleteRole(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s.withStepUp(w, r, "settings", api.ConsolePrefix+"settings/roles", "delete the custom role "+name, func() (string, error) {
		return "Role " + name + " deleted", s.call(r, "DELETE", "/api/v1/roles/"+url.PathEscape(name), nil, nil)
	})
}

// tenantsOf lists the tenants subject is bound in (a token: its own
// tenant), with counts where the role there allows.
func (s *Service) tenantsOf(ctx context.Context, id api.Identity) ([]tenantRow, error) {
	var out []tenantRow
	if name, ok := strings.CutPrefix(id.Subject, "user:"); ok {
		rows, err := s.o.DB.Query(ctx, `SELECT rb.tenant, rb.role FROM role_bindings rb JOIN users u ON u.id = rb.user_id
WHERE u.username = ? ORDER BY rb.tenant`, name)
		if err != nil {
			return nil, fmt.Errorf("list tenants of %s: %w", id.Subject, err)
		}
		for rows.Next() {
			var t tenantRow
			if err := rows.Scan(&t.Tenant, &t.Role); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read tenants of %s: %w", id.Subject, err)
			}
			out = append(out, t)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("list tenants of %s: %w", id.Subject, err)
		}
	}
	if !slices.ContainsFunc(out, func(t tenantRow) bool { return t.Tenant == id.Tenant }) {
		out = append(out, tenantRow{Tenant: id.Tenant, Role: id.Role})
		slices.SortFunc(out, func(a, b tenantRow) int { return strings.Compare(a.Tenant, b.Tenant) })
	}
	for i := range out {
		t := &out[i]
		t.Current = t.Tenant == id.Tenant
		t.Users, t.Tokens = -1, -1
		if api.Allowed(t.Role, api.PermUsersRead) {
			if err := s.o.DB.QueryRow(ctx, `SELECT COUNT(*) FROM role_bindings WHERE tenant = ?`, t.Tenant).Scan(&t.Users); err != nil {
				return nil, fmt.Errorf("count users of tenant %s: %w", t.Tenant, err)
			}
		}
		if api.Allowed(t.Role, api.PermTokensRead) {
			if err := s.o.DB.QueryRow(ctx, `SELECT COUNT(*) FROM api_tokens WHERE tenant = ? AND revoked_at IS NULL`, t.Tenant).Scan(&t.Tokens); err != nil {
				return nil, fmt.Errorf("count tokens of tenant %s: %w", t.Tenant, err)
			}
		}
	}
	return out, nil
}

func (s *Service) tenantsPage(w http.ResponseWriter, r *http.Request) {
	id, _ := api.IdentityFrom(r.Context())
	ts, err := s.tenantsOf(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "settings", "layout", s.newPage(r, "settings", "Tenants", settingsData{Tab: "tenants", TenantsTab: tenantsData{Tenants: ts}}))
}
