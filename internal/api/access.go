package api

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/netip"
	"path"
	"sort"
	"strings"
	"sync"
	"time"
)

// Permission names one right an endpoint requires, as "resource:verb"
// (cases:read, playbooks:approve, events:write). The resource decides which
// SOC role gets it (see socRoles); the verb decides whether it is
// sensitive (see sensitiveVerbs).
type Permission string

// Resource is the part before the colon.
func (p Permission) Resource() string { r, _, _ := strings.Cut(string(p), ":"); return r }

// Verb is the part after the colon ("" when there is none).
func (p Permission) Verb() string { _, v, _ := strings.Cut(string(p), ":"); return v }

// The permissions of the foundation's and the access domain's endpoints.
// Other domains declare theirs next to their routes and register them with
// RegisterPermission.
const (
	PermEventsWrite Permission = "events:write"
	PermEventsRead  Permission = "events:read"
	PermStatusRead  Permission = "status:read"
	// PermDebug guards the profiling endpoints (/debug/pprof/).
	PermDebug Permission = "debug:profile"

	PermUsersRead   Permission = "users:read"
	PermUsersWrite  Permission = "users:write"
	PermRolesRead   Permission = "roles:read"
	PermRolesWrite  Permission = "roles:write"
	PermTokensRead  Permission = "tokens:read"
	PermTokensWrite Permission = "tokens:write"
	PermAuditRead   Permission = "audit:read"
	PermAuditExport Permission = "audit:export"
	PermPKIRead     Permission = "pki:read"
	PermPKIWrite    Permission = "pki:write"
	// PermSession is what every signed-in person has: see and end their
	// own session, change their own password and second factor.
	PermSession Permission = "session:self"
)

// The built-in roles.
const (
	RoleAdmin              = "admin"
	RoleIngest             = "ingest"
	RoleSecurityAnalyst    = "security-analyst"
	RoleIncidentResponder  = "incident-responder"
	RoleSecurityEngineer   = "security-engineer"
	RoleThreatIntelAnalyst = "threat-intel-analyst"
	RoleSOCManager         = "soc-manager"
	RoleAuditor            = "auditor"
)

// AuthMethod is how a caller proved who they are.
type AuthMethod int

// Authentication methods, weakest first.
const (
	AuthNone     AuthMethod = iota
	AuthToken               // API token (machines, shippers)
	AuthPassword            // web session after a password only
	AuthOIDC                // web session through single sign-on
	AuthMFA                 // web session after password and TOTP
)

func (m AuthMethod) String() string {
	switch m {
	case AuthNone:
		return "none"
	case AuthToken:
		return "token"
	case AuthPassword:
		return "password"
	case AuthOIDC:
		return "oidc"
	case AuthMFA:
		return "mfa"
	}
	return "unknown"
}

// Identity is an authenticated caller.
type Identity struct {
	// Subject names the caller (token name, user).
	Subject string
	// TokenID identifies the credential (never the secret): token id or
	// session id.
	TokenID string
	Tenant  string
	Role    string
	// Method is how the caller authenticated; AuthNone from an
	// Authenticator that does not say means AuthToken.
	Method AuthMethod
	// VerifiedAt is when the caller last proved a strong factor (TOTP or
	// re-authentication); sensitive actions need it recent.
	VerifiedAt time.Time
	// UserID is set for people (sessions).
	UserID string
	// CSRF is the anti-forgery secret of a cookie session ("" otherwise).
	CSRF string
}

// Authenticator checks a credential.
type Authenticator interface {
	// Authenticate returns the identity behind a secret token; ErrDenied if
	// it is unknown, expired or revoked.
	Authenticate(ctx context.Context, token string) (Identity, error)
}

// SessionAuthenticator checks a browser session cookie. tenant is the
// tenant the request asks for (X-Wacht-Tenant; "" for the session's
// current one); the identity carries the role bound in that tenant.
type SessionAuthenticator interface {
	AuthenticateSession(ctx context.Context, cookie, tenant string) (Identity, error)
}

// ErrDenied is returned for a bad credential.
var ErrDenied = errors.New("access denied")

// SessionCookie is the name of the web session cookie.
const SessionCookie = "__Host-wacht_session"

// CSRFHeader carries the session's anti-forgery token on state-changing
// requests made with the cookie.
const CSRFHeader = "X-CSRF-Token"

// TenantHeader selects one of the tenants a session's user is bound in.
const TenantHeader = "X-Wacht-Tenant"

// ---------------------------------------------------------------------------
// Roles: data, not code.

// RoleDef is a role as data: the permissions it grants as patterns over
// "resource:verb" (path.Match syntax: "cases:*", "*:read"), minus those it
// denies, which win.
type RoleDef struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Grants      []string `json:"grants"`
	Denies      []string `json:"denies,omitempty"`
	BuiltIn     bool     `json:"built_in"`
}

// secretResources hold credentials; only admin reads them, and roles that
// "read everything" still do not.
var secretResources = []string{"secrets:*", "*:secret", "*:secrets", "connectors:credentials"}

// socRoles are the built-in roles, one per SOC job. Domain packages do not
// need to name them: a permission's resource and verb place it. Naming a
// role in RegisterPermission grants in addition.
var socRoles = []RoleDef{
	{Name: RoleAdmin, Description: "users, tenants, settings; every permission", Grants: []string{"*"}},
	{Name: RoleIngest, Description: "shippers and forwarders: send events only", Grants: []string{"events:write"}},
	{Name: RoleSecurityAnalyst, Description: "read events and alerts, triage, comment, hunt",
		Grants: []string{"session:self", "status:read", "events:read", "alerts:*", "hunt:*", "search:*",
			"cases:read", "cases:comment", "incidents:read", "incidents:comment", "*:triage", "intel:read",
			"indicators:read", "assets:read", "vulns:read", "attack:read", "rules:read", "detections:read"},
		Denies: []string{"alerts:delete", "alerts:export"}},
	{Name: RoleIncidentResponder, Description: "manage incidents, run and approve playbooks",
		Grants: []string{"session:self", "status:read", "events:read", "alerts:*", "cases:*", "incidents:*",
			"evidence:*", "hunt:*", "search:*", "playbooks:read", "playbooks:run", "playbooks:approve",
			"runs:*", "approvals:*", "intel:read", "indicators:read", "assets:read", "vulns:read", "attack:read",
			"rules:read", "*:triage", "*:comment"}},
	{Name: RoleSecurityEngineer, Description: "rules, parsers, playbooks, connectors, ingest settings",
		Grants: []string{"session:self", "status:read", "events:read", "rules:*", "detections:*", "sigma:*",
			"parsers:*", "playbooks:*", "connectors:*", "ingest:*", "pipelines:*", "hunt:*", "search:*",
			"alerts:read", "attack:*", "pki:read", "assets:read"},
		Denies: []string{"playbooks:approve", "connectors:credentials"}},
	{Name: RoleThreatIntelAnalyst, Description: "indicators, feeds, TAXII collections",
		Grants: []string{"session:self", "status:read", "events:read", "intel:*", "indicators:*", "feeds:*",
			"taxii:*", "attack:read", "hunt:*", "search:*", "alerts:read"}},
	{Name: RoleSOCManager, Description: "assign, SLA policies, reports, metrics; read everything in their tenants",
		Grants: []string{"session:self", "*:read", "*:assign", "sla:*", "reports:*", "metrics:*", "*:comment"},
		Denies: []string{"audit:*"}},
	{Name: RoleAuditor, Description: "read-only, including the audit trail and compliance; never secrets",
		Grants: []string{"session:self", "*:read", "audit:*", "compliance:read", "compliance:export", "evidence:read"}},
}

// roleSet is the role registry: built-in and custom roles, and explicit grants
// from RegisterPermission. Decisions are cached per (role, permission).
type roleSet struct {
	mu       sync.RWMutex
	defs     map[string]RoleDef
	explicit map[string]map[Permission]bool
	perms    map[Permission]bool // every registered permission
	cache    map[roleperm]bool
}

type roleperm struct {
	role string
	perm Permission
}

var accessRoles = newRoleSet()

func newRoleSet() *roleSet {
	rs := &roleSet{defs: map[string]RoleDef{}, explicit: map[string]map[Permission]bool{},
		perms: map[Permission]bool{}, cache: map[roleperm]bool{}}
	for _, d := range socRoles {
		d.BuiltIn = true
		if d.Name != RoleAdmin {
			d.Denies = append(append([]string(nil), d.Denies...), secretResources...)
		}
		rs.defs[d.Name] = d
	}
	return rs
}

func init() {
	for _, p := range []Permission{PermEventsWrite, PermEventsRead, PermStatusRead, PermUsersRead, PermUsersWrite,
		PermRolesRead, PermRolesWrite, PermTokensRead, PermTokensWrite, PermAuditRead, PermAuditExport,
		PermPKIRead, PermPKIWrite, PermSession} {
		RegisterPermission(p)
	}
	RegisterPermission(PermEventsWrite, RoleAdmin, RoleIngest)
	RegisterPermission(PermDebug, RoleAdmin)
}

// RegisterPermission declares perm and grants it to each named role
// beyond what the role's patterns grant (creating an unknown role as a
// custom role). Call it from init, next to the routes that need perm.
func RegisterPermission(perm Permission, roleNames ...string) {
	accessRoles.mu.Lock()
	defer accessRoles.mu.Unlock()
	accessRoles.perms[perm] = true
	for _, r := range roleNames {
		if _, ok := accessRoles.defs[r]; !ok {
			accessRoles.defs[r] = RoleDef{Name: r, Description: "custom role"}
		}
		if accessRoles.explicit[r] == nil {
			accessRoles.explicit[r] = map[Permission]bool{}
		}
		accessRoles.explicit[r][perm] = true
	}
	clear(accessRoles.cache)
}

// DefineRole adds or replaces a custom role. Built-in roles cannot be
// redefined.
func DefineRole(d RoleDef) error {
	if d.Name == "" || strings.ContainsAny(d.Name, " :\t\n") {
		return errors.New("role name must be a non-empty word")
	}
	for _, g := range append(append([]string(nil), d.Grants...), d.Denies...) {
		if _, err := path.Match(g, "x:y"); err != nil {
			return errors.New("role pattern " + g + ": " + err.Error())
		}
	}
	accessRoles.mu.Lock()
	defer accessRoles.mu.Unlock()
	if old, ok := accessRoles.defs[d.Name]; ok && old.BuiltIn {
		return errors.New("role " + d.Name + " is built in")
	}
	d.BuiltIn = false
	d.Denies = append(append([]string(nil), d.Denies...), secretResources...)
	accessRoles.defs[d.Name] = d
	clear(accessRoles.cache)
	return nil
}

// UndefineRole removes a custom role; built-in roles stay.
func UndefineRole(name string) error {
	accessRoles.mu.Lock()
	defer accessRoles.mu.Unlock()
	d, ok := accessRoles.defs[name]
	switch {
	case !ok:
		return errors.New("role " + name + " does not exist")
	case d.BuiltIn:
		return errors.New("role " + name + " is built in")
	}
	delete(accessRoles.defs, name)
	delete(accessRoles.explicit, name)
	clear(accessRoles.cache)
	return nil
}

// RoleDefs lists the roles with their patterns, sorted by name.
func RoleDefs() []RoleDef {
	accessRoles.mu.RLock()
	defer accessRoles.mu.RUnlock()
	out := make([]RoleDef, 0, len(accessRoles.defs))
	for _, d := range accessRoles.defs {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Roles lists the role names, sorted.
func Roles() []string {
	defs := RoleDefs()
	out := make([]string, len(defs))
	for i, d := range defs {
		out[i] = d.Name
	}
	return out
}

// Permissions lists the registered permissions, sorted.
func Permissions() []Permission {
	accessRoles.mu.RLock()
	defer accessRoles.mu.RUnlock()
	out := make([]Permission, 0, len(accessRoles.perms))
	for p := range accessRoles.perms {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Registered reports whether perm was declared with RegisterPermission.
func Registered(perm Permission) bool {
	accessRoles.mu.RLock()
	defer accessRoles.mu.RUnlock()
	return accessRoles.perms[perm]
}

// Allowed reports whether role grants perm. Deny by default: an unknown
// role, an empty or unregistered permission grant nothing.
func Allowed(role string, perm Permission) bool {
	k := roleperm{role, perm}
	accessRoles.mu.RLock()
	v, ok := accessRoles.cache[k]
	accessRoles.mu.RUnlock()
	if ok {
		return v
	}
	accessRoles.mu.Lock()
	defer accessRoles.mu.Unlock()
	v = accessRoles.decide(role, perm)
	accessRoles.cache[k] = v
	return v
}

func (rs *roleSet) decide(role string, perm Permission) bool {
	if perm == "" || !rs.perms[perm] {
		return false
	}
	d, ok := rs.defs[role]
	if !ok {
		return false
	}
	match := func(pats []string) bool {
		for _, p := range pats {
			if ok, _ := path.Match(p, string(perm)); ok {
				return true
			}
		}
		return false
	}
	if match(d.Denies) {
		return false
	}
	return rs.explicit[role][perm] || match(d.Grants)
}

// ---------------------------------------------------------------------------
// The policy decision point.

// sensitiveVerbs need a recent strong authentication (MFA step-up) from a
// person: approvals, deletion, export, role and user changes.
var sensitiveVerbs = map[string]bool{"approve": true, "delete": true, "export": true}

// sensitiveResources are sensitive on every write.
var sensitiveResources = map[string]bool{"roles": true, "users": true, "tokens": true, "pki": true, "tenants": true}

// StepUpWindow is how recently a person must have proved a second factor
// (or re-authenticated) before a sensitive action.
const StepUpWindow = 10 * time.Minute

// Sensitive reports whether perm needs step-up authentication.
func Sensitive(perm Permission) bool {
	v := perm.Verb()
	return sensitiveVerbs[v] || (sensitiveResources[perm.Resource()] && v != "read")
}

// Request is the context a decision is made in.
type Request struct {
	Identity Identity
	Perm     Permission
	Method   string
	Source   netip.Addr
	Time     time.Time
}

// Decision is the outcome: Allow, or the HTTP status and a user-safe
// reason.
type Decision struct {
	Allow  bool
	Status int
	Reason string
	// StepUp: allowed by role, but the caller must re-authenticate with a
	// second factor first.
	StepUp bool
}

// Decide is the one policy decision point every request passes. Deny by
// default.
func Decide(req Request) Decision {
	id := req.Identity
	switch {
	case req.Perm == "" || !Registered(req.Perm):
		return Decision{Status: http.StatusForbidden, Reason: "endpoint has no registered permission"}
	case id.Tenant == "":
		return Decision{Status: http.StatusForbidden, Reason: "no tenant"}
	case !Allowed(id.Role, req.Perm):
		return Decision{Status: http.StatusForbidden, Reason: "role " + quoteRole(id.Role) + " may not " + string(req.Perm)}
	}
	if Sensitive(req.Perm) {
		switch id.Method {
		case AuthToken, AuthNone:
			// Tokens are scoped by role, expire and are revocable: no
			// second factor to ask for.
		case AuthPassword, AuthOIDC, AuthMFA:
			if id.VerifiedAt.IsZero() || req.Time.Sub(id.VerifiedAt) > StepUpWindow {
				return Decision{Status: http.StatusUnauthorized, StepUp: true,
					Reason: string(req.Perm) + " needs a recent second factor: POST /api/v1/auth/step-up"}
			}
		}
	}
	return Decision{Allow: true, Status: http.StatusOK}
}

func quoteRole(s string) string { return `"` + s + `"` }

// ---------------------------------------------------------------------------
// Hooks the access module installs.

// AuditEntry is what the guard records for a state-changing call, a denied
// call, or a read of sensitive data.
type AuditEntry struct {
	Time     time.Time
	Identity Identity
	Method   string
	Path     string
	Route    string
	Perm     Permission
	Status   int
	Source   string
	// RequestHash is the SHA-256 (hex) of the request body ("" if none).
	RequestHash string
	Denied      string
}

// AccessHooks are what the access module plugs into the guard.
type AccessHooks struct {
	Sessions SessionAuthenticator
	// Audit records an entry; it must not fail the request (it logs).
	Audit func(ctx context.Context, e AuditEntry)
	// Now is the clock of decisions (time.Now when nil).
	Now func() time.Time
}

// UseAccess installs hooks before the server serves.
func (s *Server) UseAccess(h AccessHooks) { s.access = h }

type identityKey struct{}

// IdentityFrom returns the identity of an authenticated request.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// tokenFrom extracts the secret from the schemes shippers use: Bearer,
// Splunk (HEC), ApiKey (Elastic; the key itself or base64 "id:key"), and
// Basic with the token as password.
func tokenFrom(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, val, ok := strings.Cut(h, " ")
	if !ok {
		return ""
	}
	val = strings.TrimSpace(val)
	switch strings.ToLower(scheme) {
	case "bearer", "splunk":
		return val
	case "apikey":
		if b, err := base64.StdEncoding.DecodeString(val); err == nil {
			if _, key, ok := strings.Cut(string(b), ":"); ok {
				return key
			}
		}
		return val
	case "basic":
		if _, pw, ok := r.BasicAuth(); ok {
			return pw
		}
	}
	return ""
}

// SourceAddr is the peer address of a request (the connection's, never a
// forwarded header, which a client could forge).
func SourceAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
