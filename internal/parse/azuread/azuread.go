// Package azuread parses Microsoft Entra ID (Azure AD) sign-in and audit
// logs, both as Azure Monitor diagnostic records ({time, category,
// operationName, properties: {…}}) and as Microsoft Graph objects
// (signIn with createdDateTime, directoryAudit with activityDateTime).
// The logsource is azure/signinlogs or azure/auditlogs.
package azuread

import (
	"strings"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse/jsonsource"
	"github.com/wacht-soc/wacht/internal/parse/normalize"
)

// Spec is the Azure AD source.
func Spec() jsonsource.Spec {
	return jsonsource.Spec{
		Name:        "azuread",
		Version:     "1",
		Description: "Azure AD / Entra ID sign-in and audit logs (Azure Monitor or Graph shape)",
		TimeKeys:    []string{"time", "createdDateTime", "activityDateTime", "properties.createdDateTime", "properties.activityDateTime"},
		MessageKeys: []string{"operationName"},
		LogSourceFrom: func(ev *event.Event) event.LogSource {
			c := strings.ToLower(ev.GetString("category"))
			switch {
			case strings.Contains(c, "signin"):
				return normalize.Source("azuread-signin")
			case c == "auditlogs" || c == "policy" || c == "usermanagement" || ev.GetString("activityDisplayName") != "" || ev.GetString("properties.activityDisplayName") != "":
				return normalize.Source("azuread-audit")
			case ev.GetString("createdDateTime") != "" || ev.GetString("properties.createdDateTime") != "":
				return normalize.Source("azuread-signin")
			}
			return normalize.Source("azuread-audit")
		},
		Entities: [][]string{
			{normalize.UserName, "properties.userPrincipalName", "userPrincipalName", "properties.initiatedBy.user.userPrincipalName", "initiatedBy.user.userPrincipalName", "identity"},
			{normalize.SourceIP, "callerIpAddress", "properties.ipAddress", "ipAddress", "properties.initiatedBy.user.ipAddress"},
			{normalize.EventAction, "operationName", "activityDisplayName", "properties.activityDisplayName"},
			{"cloud.account.id", "tenantId"},
		},
		Finish: func(ev *event.Event) {
			if ev.Message == "" {
				ev.Message = ev.GetString(normalize.EventAction)
			}
			for _, k := range []string{"properties.status.errorCode", "status.errorCode"} {
				if v, ok := ev.Get(k); ok {
					if n, _ := v.Int(); n == 0 {
						ev.Add(normalize.EventOutcome, event.String("success"))
					} else {
						ev.Add(normalize.EventOutcome, event.String("failure"))
					}
					return
				}
			}
			if r := strings.ToLower(ev.GetString("properties.result") + ev.GetString("result")); r == "success" || r == "failure" {
				ev.Add(normalize.EventOutcome, event.String(r))
			}
		},
	}
}

func init() { jsonsource.Register(Spec()) }
