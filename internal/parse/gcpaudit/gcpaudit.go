// Package gcpaudit parses Google Cloud audit log entries (LogEntry with an
// AuditLog protoPayload), as exported by Cloud Logging sinks.
package gcpaudit

import (
	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse/jsonsource"
	"github.com/wacht-soc/wacht/internal/parse/normalize"
)

// Spec is the GCP audit source.
func Spec() jsonsource.Spec {
	return jsonsource.Spec{
		Name:        "gcpaudit",
		Version:     "1",
		Description: "Google Cloud audit log entries (protoPayload AuditLog)",
		// p_event_time is where Panther's samples keep the time.
		TimeKeys:    []string{"timestamp", "receiveTimestamp", "p_event_time"},
		MessageKeys: []string{"protoPayload.serviceName", "protoPayload.methodName"},
		LogSource:   normalize.Source("gcp-audit"),
		Entities: [][]string{
			{normalize.UserName, "protoPayload.authenticationInfo.principalEmail"},
			{normalize.SourceIP, "protoPayload.requestMetadata.callerIp"},
			{"user_agent.original", "protoPayload.requestMetadata.callerSuppliedUserAgent"},
			{normalize.EventAction, "protoPayload.methodName"},
			{"cloud.project.id", "resource.labels.project_id"},
		},
		Finish: func(ev *event.Event) {
			if v, ok := ev.Get("protoPayload.status.code"); ok {
				if n, _ := v.Int(); n != 0 {
					ev.Add(normalize.EventOutcome, event.String("failure"))
					return
				}
			}
			ev.Add(normalize.EventOutcome, event.String("success"))
		},
	}
}

func init() { jsonsource.Register(Spec()) }
