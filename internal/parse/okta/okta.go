// Package okta parses the Okta System Log (the /api/v1/logs event shape).
package okta

import (
	"strings"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse/jsonsource"
	"github.com/wacht-soc/wacht/internal/parse/normalize"
)

// Spec is the Okta source.
func Spec() jsonsource.Spec {
	return jsonsource.Spec{
		Name:        "okta",
		Version:     "1",
		Description: "Okta System Log events",
		TimeKeys:    []string{"published"},
		MessageKeys: []string{"displayMessage"},
		LogSource:   normalize.Source("okta"),
		Entities: [][]string{
			{normalize.UserName, "actor.alternateId"},
			{normalize.SourceIP, "client.ipAddress"},
			{"user_agent.original", "client.userAgent.rawUserAgent"},
			{normalize.EventAction, "eventType"},
		},
		Finish: func(ev *event.Event) {
			if r := ev.GetString("outcome.result"); r != "" {
				ev.Add(normalize.EventOutcome, event.String(strings.ToLower(r)))
			}
		},
	}
}

func init() { jsonsource.Register(Spec()) }
