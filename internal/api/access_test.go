package api

import (
	"net/http"
	"testing"
	"time"
)

func TestDecideDenyByDefaultAndStepUp(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f := func(id Identity, perm Permission, wantAllow bool, wantStatus int) {
		t.Helper()
		d := Decide(Request{Identity: id, Perm: perm, Time: now})
		if d.Allow != wantAllow || (!wantAllow && d.Status != wantStatus) {
			t.Errorf("%+v %s: %+v, want allow=%v status %d", id, perm, d, wantAllow, wantStatus)
		}
	}
	analyst := Identity{Tenant: "acme", Role: RoleSecurityAnalyst, Method: AuthToken}
	f(analyst, PermEventsRead, true, 0)
	f(analyst, "", false, http.StatusForbidden)                  // route without permission
	f(analyst, "nobody:registered", false, http.StatusForbidden) // unregistered
	f(analyst, PermUsersWrite, false, http.StatusForbidden)
	f(Identity{Tenant: "acme", Role: "no-such-role"}, PermEventsRead, false, http.StatusForbidden)
	f(Identity{Role: RoleAdmin}, PermEventsRead, false, http.StatusForbidden) // no tenant
	admin := Identity{Tenant: "acme", Role: RoleAdmin, Method: AuthPassword}
	f(admin, PermUsersRead, true, 0)
	f(admin, PermUsersWrite, false, http.StatusUnauthorized) // step-up needed
	admin.VerifiedAt = now.Add(-5 * time.Minute)
	f(admin, PermUsersWrite, true, 0)
	admin.VerifiedAt = now.Add(-StepUpWindow - time.Second)
	f(admin, PermAuditExport, false, http.StatusUnauthorized)
	// Roles from their SOC jobs.
	RegisterPermission("playbooks:approve")
	RegisterPermission("indicators:write")
	RegisterPermission("secrets:read")
	RegisterPermission("rules:write")
	for _, c := range []struct {
		role string
		perm Permission
		want bool
	}{
		{RoleIncidentResponder, "playbooks:approve", true},
		{RoleSecurityEngineer, "playbooks:approve", false},
		{RoleSecurityEngineer, "rules:write", true},
		{RoleThreatIntelAnalyst, "indicators:write", true},
		{RoleSecurityAnalyst, "indicators:write", false},
		{RoleAuditor, PermAuditRead, true},
		{RoleAuditor, "secrets:read", false},
		{RoleSOCManager, "secrets:read", false},
		{RoleSOCManager, PermAuditRead, false},
		{RoleAdmin, "secrets:read", true},
		{RoleIngest, PermEventsRead, false},
		{RoleIngest, PermEventsWrite, true},
	} {
		if got := Allowed(c.role, c.perm); got != c.want {
			t.Errorf("Allowed(%s, %s) = %v, want %v", c.role, c.perm, got, c.want)
		}
	}
	if err := DefineRole(RoleDef{Name: "tier1", Grants: []string{"alerts:read", "*:secret"}}); err != nil {
		t.Fatal(err)
	}
	RegisterPermission("alerts:read")
	RegisterPermission("vault:secret")
	if !Allowed("tier1", "alerts:read") || Allowed("tier1", "vault:secret") {
		t.Error("custom role: wrong grants (secrets must stay denied)")
	}
	if DefineRole(RoleDef{Name: RoleAdmin}) == nil {
		t.Error("built-in role redefined")
	}
}

func BenchmarkDecide(b *testing.B) {
	id := Identity{Tenant: "acme", Role: RoleSecurityAnalyst, Method: AuthToken}
	now := time.Now()
	for b.Loop() {
		if !Decide(Request{Identity: id, Perm: PermEventsRead, Time: now}).Allow {
			b.Fatal("denied")
		}
	}
}
