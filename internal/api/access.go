package api

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"sort"
	"strings"
	"sync"
)

// Permission names one right an endpoint requires.
type Permission string

// The permissions of the foundation's endpoints. The access issue adds the
// rest with its roles.
const (
	PermEventsWrite Permission = "events:write"
	PermEventsRead  Permission = "events:read"
	PermStatusRead  Permission = "status:read"
)

// Identity is an authenticated caller.
type Identity struct {
	// Subject names the caller (token name, user).
	Subject string
	// TokenID identifies the credential (never the secret).
	TokenID string
	Tenant  string
	Role    string
}

// Authenticator checks a credential.
type Authenticator interface {
	// Authenticate returns the identity behind a secret token; ErrDenied if
	// it is unknown, expired or revoked.
	Authenticate(ctx context.Context, token string) (Identity, error)
}

// ErrDenied is returned for a bad credential.
var ErrDenied = errors.New("access denied")

// roles maps each role to its permissions. Deny by default: a role or
// permission not registered grants nothing. Domain API files register their
// permissions in init with RegisterPermission; the access issue replaces the
// three foundation roles with the SOC roles.
var (
	rolesMu sync.RWMutex
	roles   = map[string]map[Permission]bool{}
)

func init() {
	RegisterPermission(PermEventsWrite, "admin", "ingest")
	RegisterPermission(PermEventsRead, "admin", "reader")
	RegisterPermission(PermStatusRead, "admin", "reader")
}

// RegisterPermission grants perm to each named role (creating the role).
// Call it from init; it is a registry, not run-time configuration.
func RegisterPermission(perm Permission, roleNames ...string) {
	rolesMu.Lock()
	defer rolesMu.Unlock()
	for _, r := range roleNames {
		if roles[r] == nil {
			roles[r] = map[Permission]bool{}
		}
		roles[r][perm] = true
	}
}

// Roles lists the role names, sorted.
func Roles() []string {
	rolesMu.RLock()
	defer rolesMu.RUnlock()
	out := make([]string, 0, len(roles))
	for r := range roles {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// Allowed reports whether role grants perm.
func Allowed(role string, perm Permission) bool {
	rolesMu.RLock()
	defer rolesMu.RUnlock()
	return roles[role][perm]
}

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
