package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/wacht-soc/wacht/internal/audit"
	"github.com/wacht-soc/wacht/internal/auth"
	"github.com/wacht-soc/wacht/internal/store"
)

// PermSignIn marks the sign-in endpoints: served without a credential
// (they are how one gets a session), throttled by the login lockout, and
// audited. It is the only permission the guard grants to anonymous callers.
const PermSignIn Permission = "auth:signin"

func init() { RegisterPermission(PermSignIn) }

// AccessService is what the access endpoints call.
type AccessService struct {
	Users  *auth.Users
	Tokens *auth.TokenStore
	OIDC   *auth.OIDC // nil: single sign-on not configured
	Audit  *audit.Log
	CA     *auth.CA
	DB     *store.DB
	Now    func() time.Time
	Log    *slog.Logger
	// SecureCookies sets Secure on the session cookie (always, except
	// tests over plain HTTP).
	SecureCookies bool
	// Roles persists custom roles.
	Roles *auth.Roles
}

// AccessRoutes are the users, sessions, tokens, roles, audit and PKI
// endpoints.
func AccessRoutes(svc *AccessService) []Route {
	a := &accessAPI{svc}
	return []Route{
		{"POST /api/v1/auth/login", PermSignIn, a.login},
		{"GET /api/v1/auth/oidc/login", PermSignIn, a.oidcLogin},
		{"GET /api/v1/auth/oidc/callback", PermSignIn, a.oidcCallback},
		{"POST /api/v1/auth/logout", PermSession, a.logout},
		{"GET /api/v1/auth/session", PermSession, a.session},
		{"POST /api/v1/auth/step-up", PermSession, a.stepUp},
		{"GET /api/v1/users", PermUsersRead, a.listUsers},
		{"POST /api/v1/users", PermUsersWrite, a.createUser},
		{"GET /api/v1/users/{id}", PermUsersRead, a.getUser},
		{"PUT /api/v1/users/{id}/role", PermUsersWrite, a.bindUser},
		{"POST /api/v1/users/{id}/disable", PermUsersWrite, a.disableUser},
		{"GET /api/v1/roles", PermRolesRead, a.roles},
		{"PUT /api/v1/roles/{name}", PermRolesWrite, a.putRole},
		{"DELETE /api/v1/roles/{name}", PermRolesWrite, a.deleteRole},
		{"GET /api/v1/tokens", PermTokensRead, a.listTokens},
		{"POST /api/v1/tokens", PermTokensWrite, a.createToken},
		{"GET /api/v1/tokens/{id}", PermTokensRead, a.getToken},
		{"DELETE /api/v1/tokens/{id}", PermTokensWrite, a.revokeToken},
		{"GET /api/v1/audit", PermAuditRead, a.auditList},
		{"GET /api/v1/audit/export", PermAuditExport, a.auditExport},
		{"GET /api/v1/audit/checkpoint", PermAuditRead, a.auditCheckpoint},
		{"GET /api/v1/audit/proof/{seq}", PermAuditRead, a.auditProof},
		{"GET /api/v1/pki/certs", PermPKIRead, a.listCerts},
		{"DELETE /api/v1/pki/certs/{serial}", PermPKIWrite, a.revokeCert},
	}
}

type accessAPI struct{ svc *AccessService }

func decodeAccessBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "request body: "+err.Error())
		return false
	}
	return true
}

// fail answers an error: not found and user-safe errors as such, the rest
// as 500 with an id that is also logged.
func (a *accessAPI) fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not found")
	case errors.Is(err, auth.ErrExists):
		writeError(w, http.StatusConflict, "already exists")
	case errors.Is(err, auth.ErrLoginFailed), errors.Is(err, auth.ErrNoSession), errors.Is(err, auth.ErrOIDCUnknownUser):
		writeError(w, http.StatusUnauthorized, err.Error())
	case errors.Is(err, auth.ErrLocked):
		writeError(w, http.StatusTooManyRequests, err.Error())
	case errors.Is(err, auth.ErrNoBinding):
		writeError(w, http.StatusForbidden, err.Error())
	case errors.Is(err, auth.ErrWeakPassword):
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		id := newErrorID()
		a.svc.Log.Error("access_request_failed", "error_id", id, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error (id "+id+")")
	}
}

func (a *accessAPI) setSession(w http.ResponseWriter, secret string, s auth.Session) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: secret, Path: "/", HttpOnly: true,
		Secure: a.svc.SecureCookies, SameSite: http.SameSiteStrictMode, Expires: s.ExpiresAt})
}

// sessionView is what a client sees of its session: never the secret.
func sessionView(s auth.Session) map[string]any {
	return map[string]any{"id": s.ID, "username": s.Username, "tenant": s.Tenant, "role": s.Role,
		"method": s.Method, "csrf_token": s.CSRF, "expires_at": s.ExpiresAt, "tenants": s.Tenants,
		"verified_at": s.VerifiedAt}
}

func (a *accessAPI) login(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
		TOTP     string `json:"totp"`
		Tenant   string `json:"tenant"`
	}
	if !decodeAccessBody(w, r, &in) {
		return
	}
	secret, s, err := a.svc.Users.Login(r.Context(), auth.Login{Username: in.Username, Password: in.Password,
		TOTP: in.TOTP, Tenant: in.Tenant, Source: r.RemoteAddr})
	if err != nil {
		a.fail(w, err)
		return
	}
	a.setSession(w, secret, s)
	writeJSON(w, http.StatusOK, sessionView(s))
}

func (a *accessAPI) oidcLogin(w http.ResponseWriter, r *http.Request) {
	if a.svc.OIDC == nil {
		writeError(w, http.StatusNotFound, "single sign-on is not configured")
		return
	}
	u, err := a.svc.OIDC.Start(r.Context())
	if err != nil {
		a.fail(w, err)
		return
	}
	http.Redirect(w, r, u, http.StatusFound)
}

func (a *accessAPI) oidcCallback(w http.ResponseWriter, r *http.Request) {
	if a.svc.OIDC == nil {
		writeError(w, http.StatusNotFound, "single sign-on is not configured")
		return
	}
	q := r.URL.Query()
	secret, s, err := a.svc.OIDC.Callback(r.Context(), q.Get("state"), q.Get("code"), "", r.RemoteAddr)
	if err != nil {
		a.fail(w, err)
		return
	}
	a.setSession(w, secret, s)
	http.Redirect(w, r, "/console/", http.StatusFound)
}

func (a *accessAPI) logout(w http.ResponseWriter, r *http.Request) {
	id, _ := IdentityFrom(r.Context())
	if id.Method == AuthToken {
		writeError(w, http.StatusBadRequest, "tokens are revoked, not signed out: DELETE /api/v1/tokens/{id}")
		return
	}
	if err := a.svc.Users.Logout(r.Context(), id.TokenID); err != nil {
		a.fail(w, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: a.svc.SecureCookies, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

func (a *accessAPI) session(w http.ResponseWriter, r *http.Request) {
	id, _ := IdentityFrom(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{"subject": id.Subject, "tenant": id.Tenant, "role": id.Role,
		"method": id.Method.String(), "verified_at": id.VerifiedAt})
}

func (a *accessAPI) stepUp(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Password string `json:"password"`
		TOTP     string `json:"totp"`
	}
	if !decodeAccessBody(w, r, &in) {
		return
	}
	id, _ := IdentityFrom(r.Context())
	if id.Method == AuthToken {
		writeError(w, http.StatusBadRequest, "step-up is for signed-in people, not tokens")
		return
	}
	if err := a.svc.Users.StepUp(r.Context(), id.TokenID, in.Password, in.TOTP); err != nil {
		a.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *accessAPI) listUsers(w http.ResponseWriter, r *http.Request) {
	us, err := a.svc.Users.List(r.Context(), TenantOf(r))
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, us)
}

func (a *accessAPI) createUser(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Username    string `json:"username"`
		DisplayName string `json:"display_name"`
		Password    string `json:"password"`
		OIDCSubject string `json:"oidc_subject"`
		Role        string `json:"role"`
	}
	if !decodeAccessBody(w, r, &in) {
		return
	}
	if !Allowed(in.Role, PermSession) && in.Role != RoleIngest {
		writeError(w, http.StatusBadRequest, "unknown role "+quoteRole(in.Role))
		return
	}
	u, err := a.svc.Users.Create(r.Context(), auth.NewUser{Tenant: TenantOf(r), Username: in.Username,
		DisplayName: in.DisplayName, Password: in.Password, OIDCSubject: in.OIDCSubject, Role: in.Role})
	if err != nil {
		if errors.Is(err, auth.ErrExists) || errors.Is(err, auth.ErrWeakPassword) {
			a.fail(w, err)
			return
		}
		writeError(w, http.StatusBadRequest, "create user: check username, role and password")
		return
	}
	a.record(r, "users.create", u.ID, nil, u)
	writeJSON(w, http.StatusCreated, u)
}

func (a *accessAPI) getUser(w http.ResponseWriter, r *http.Request) {
	u, err := a.svc.Users.Get(r.Context(), TenantOf(r), r.PathValue("id"))
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (a *accessAPI) bindUser(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Role string `json:"role"`
	}
	if !decodeAccessBody(w, r, &in) {
		return
	}
	tenant := TenantOf(r)
	before, err := a.svc.Users.Get(r.Context(), tenant, r.PathValue("id"))
	if err != nil {
		a.fail(w, err)
		return
	}
	if in.Role != "" && !Allowed(in.Role, PermSession) {
		writeError(w, http.StatusBadRequest, "unknown role "+quoteRole(in.Role))
		return
	}
	if err := a.svc.Users.Bind(r.Context(), tenant, before.ID, in.Role); err != nil {
		a.fail(w, err)
		return
	}
	a.record(r, "users.bind", before.ID, before.Roles, map[string]string{tenant: in.Role})
	w.WriteHeader(http.StatusNoContent)
}

func (a *accessAPI) disableUser(w http.ResponseWriter, r *http.Request) {
	u, err := a.svc.Users.Get(r.Context(), TenantOf(r), r.PathValue("id"))
	if err != nil {
		a.fail(w, err)
		return
	}
	if err := a.svc.Users.SetDisabled(r.Context(), u.ID, true); err != nil {
		a.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *accessAPI) roles(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, RoleDefs())
}

// putRole defines or replaces a custom role (installation-wide; bindings
// to it stay per tenant). Secrets stay denied to every custom role.
func (a *accessAPI) putRole(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Description string   `json:"description"`
		Grants      []string `json:"grants"`
		Denies      []string `json:"denies"`
	}
	if !decodeAccessBody(w, r, &in) {
		return
	}
	name := r.PathValue("name")
	if len(in.Grants) == 0 {
		writeError(w, http.StatusBadRequest, "a role needs at least one grant pattern, like \"cases:read\"")
		return
	}
	if err := DefineRole(RoleDef{Name: name, Description: in.Description, Grants: in.Grants, Denies: in.Denies}); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := a.svc.Roles.Save(r.Context(), auth.CustomRole{Name: name, Description: in.Description, Grants: in.Grants, Denies: in.Denies}); err != nil {
		a.fail(w, err)
		return
	}
	for _, d := range RoleDefs() {
		if d.Name == name {
			writeJSON(w, http.StatusOK, d)
			return
		}
	}
}

func (a *accessAPI) deleteRole(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := UndefineRole(name); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := a.svc.Roles.Delete(r.Context(), name); err != nil {
		a.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// LoadCustomRoles defines every stored custom role (at start).
func LoadCustomRoles(ctx context.Context, roles *auth.Roles) error {
	list, err := roles.List(ctx)
	if err != nil {
		return err
	}
	for _, c := range list {
		if err := DefineRole(RoleDef{Name: c.Name, Description: c.Description, Grants: c.Grants, Denies: c.Denies}); err != nil {
			return fmt.Errorf("custom role %s: %w", c.Name, err)
		}
	}
	return nil
}

func (a *accessAPI) listTokens(w http.ResponseWriter, r *http.Request) {
	ts, err := a.svc.Tokens.List(r.Context(), TenantOf(r))
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ts)
}

func (a *accessAPI) getToken(w http.ResponseWriter, r *http.Request) {
	t, err := a.svc.Tokens.Get(r.Context(), TenantOf(r), r.PathValue("id"))
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (a *accessAPI) createToken(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name string `json:"name"`
		Role string `json:"role"`
		TTL  string `json:"ttl"`
	}
	if !decodeAccessBody(w, r, &in) {
		return
	}
	var ttl time.Duration
	if in.TTL != "" {
		var err error
		if ttl, err = time.ParseDuration(in.TTL); err != nil || ttl < 0 {
			writeError(w, http.StatusBadRequest, "ttl: want a duration like 720h")
			return
		}
	}
	if !Allowed(in.Role, PermSession) && in.Role != RoleIngest {
		writeError(w, http.StatusBadRequest, "unknown role "+quoteRole(in.Role))
		return
	}
	secret, t, err := a.svc.Tokens.Create(r.Context(), auth.TokenSpec{Tenant: TenantOf(r), Name: in.Name, Role: in.Role, TTL: ttl})
	if err != nil {
		writeError(w, http.StatusBadRequest, "create token: check name and role")
		return
	}
	a.record(r, "tokens.create", t.ID, nil, t)
	writeJSON(w, http.StatusCreated, map[string]any{"token": t, "secret": secret,
		"note": "the secret is shown only now; only its hash is stored"})
}

func (a *accessAPI) revokeToken(w http.ResponseWriter, r *http.Request) {
	if err := a.svc.Tokens.Revoke(r.Context(), TenantOf(r), r.PathValue("id")); err != nil {
		a.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *accessAPI) auditList(w http.ResponseWriter, r *http.Request) {
	f, ok := a.auditFilter(w, r)
	if !ok {
		return
	}
	if f.Limit == 0 || f.Limit > 10000 {
		f.Limit = 1000
	}
	out := []audit.Record{}
	if err := audit.Scan(r.Context(), a.svc.DB, f, func(rec audit.Record) error { out = append(out, rec); return nil }); err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *accessAPI) auditFilter(w http.ResponseWriter, r *http.Request) (audit.Filter, bool) {
	q := r.URL.Query()
	since, err := ParseTime(q.Get("since"), a.svc.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, "since: "+err.Error())
		return audit.Filter{}, false
	}
	f := audit.Filter{Tenant: TenantOf(r), Since: since}
	if v := q.Get("from"); v != "" {
		if f.From, err = strconv.ParseInt(v, 10, 64); err != nil {
			writeError(w, http.StatusBadRequest, "from: want a sequence number")
			return f, false
		}
	}
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil {
			writeError(w, http.StatusBadRequest, "limit: want a number")
			return f, false
		}
	}
	return f, true
}

func (a *accessAPI) auditExport(w http.ResponseWriter, r *http.Request) {
	f, ok := a.auditFilter(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	if _, err := audit.Export(r.Context(), a.svc.DB, f, w); err != nil {
		a.svc.Log.Error("audit_export_failed", "err", err)
	}
}

func (a *accessAPI) auditCheckpoint(w http.ResponseWriter, r *http.Request) {
	cp, err := a.svc.Audit.Latest(r.Context())
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, cp)
}

func (a *accessAPI) auditProof(w http.ResponseWriter, r *http.Request) {
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil || seq < 0 {
		writeError(w, http.StatusBadRequest, "want a record sequence number")
		return
	}
	p, err := a.svc.Audit.Prove(r.Context(), TenantOf(r), seq)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			a.fail(w, err)
			return
		}
		writeError(w, http.StatusConflict, "no proof yet: the record is newer than the latest checkpoint")
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (a *accessAPI) listCerts(w http.ResponseWriter, r *http.Request) {
	cs, err := a.svc.CA.List(r.Context(), TenantOf(r))
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, cs)
}

func (a *accessAPI) revokeCert(w http.ResponseWriter, r *http.Request) {
	if err := a.svc.CA.Revoke(r.Context(), TenantOf(r), r.PathValue("serial")); err != nil {
		a.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// record appends a domain-level audit record with before/after hashes
// (the guard already recorded the call itself).
func (a *accessAPI) record(r *http.Request, action, subject string, before, after any) {
	if a.svc.Audit == nil {
		return
	}
	id, _ := IdentityFrom(r.Context())
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer cancel()
	if err := a.svc.Audit.Append(ctx, audit.Record{Tenant: id.Tenant, Actor: id.Subject, Action: action, Subject: subject,
		Source: r.RemoteAddr, BeforeHash: audit.HashOf(before), AfterHash: audit.HashOf(after)}); err != nil {
		a.svc.Log.Error("audit_record_failed", "action", action, "err", err)
	}
}
