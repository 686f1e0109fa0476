package console

import (
	"net/url"
	"strings"

	"github.com/wacht-soc/wacht/internal/api"
)

// Field value actions beyond the hunt's filters: threat-intel lookup,
// "add as observable" and "create exception".

func queryEscape(s string) string { return url.QueryEscape(s) }

// intelURL is the intel page looking value up.
func intelURL(value string) string {
	return api.ConsolePrefix + "intel?" + url.Values{"lookup": {value}}.Encode()
}

// observeURL is the page that adds value as an observable to an
// incident the user chooses.
func observeURL(kind, value string) string {
	return api.ConsolePrefix + "observe?" + url.Values{"kind": {kind}, "value": {value}}.Encode()
}

// exceptionURL is the form that makes an exception for field = value
// from an alert.
func exceptionURL(alertID, field, value string) string {
	return api.ConsolePrefix + "exceptions/new?" + url.Values{"alert": {alertID}, "field": {field}, "value": {value}}.Encode()
}

// obsKind is the observable kind of an event field or entity kind.
func obsKind(field string) string {
	f := strings.ToLower(field)
	switch {
	case f == "host" || strings.HasPrefix(f, "host."):
		return "host"
	case f == "user" || f == "account" || strings.HasPrefix(f, "user."):
		return "user"
	case strings.HasSuffix(f, ".ip") || f == "ip" || strings.HasSuffix(f, "_ip") || strings.HasSuffix(f, ".address"):
		return "ip"
	case strings.Contains(f, "domain") || strings.HasSuffix(f, ".hostname"):
		return "domain"
	case strings.HasPrefix(f, "url") || strings.Contains(f, ".url"):
		return "url"
	case strings.Contains(f, "hash") || strings.HasSuffix(f, ".sha256") || strings.HasSuffix(f, ".md5") || strings.HasSuffix(f, ".sha1"):
		return "hash"
	case strings.Contains(f, "email"):
		return "email"
	case strings.HasPrefix(f, "file."):
		return "file"
	case strings.HasPrefix(f, "process."):
		return "process"
	}
	return "other"
}

// withObs puts the incident page's one-click "add as observable" on a
// field value (when the role may change the incident).
func withObs(fv fieldValue, incident string, can bool, kind string) fieldValue {
	if can && incident != "" {
		fv.A.ObsIncident, fv.A.ObsKind = incident, obsKind(kind)
	}
	return fv
}

// withException adds "create exception" for a value of an alert.
func withException(fv fieldValue, alertID string, can bool) fieldValue {
	if can && alertID != "" {
		fv.A.Exception = exceptionURL(alertID, fv.Name, fv.Value)
	}
	return fv
}

// obsRows is what the incident page's alert table needs.
type obsRows struct {
	Incident string
	CanObs   bool
	Alerts   any
}
