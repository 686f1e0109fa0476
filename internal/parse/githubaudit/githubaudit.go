// Package githubaudit parses GitHub organization and enterprise audit log
// events (the audit-log API and streaming shape: action, actor, created_at
// or @timestamp in milliseconds).
package githubaudit

import (
	"github.com/wacht-soc/wacht/internal/parse/jsonsource"
	"github.com/wacht-soc/wacht/internal/parse/normalize"
)

// Spec is the GitHub audit source.
func Spec() jsonsource.Spec {
	return jsonsource.Spec{
		Name:        "githubaudit",
		Version:     "1",
		Description: "GitHub audit log events",
		TimeKeys:    []string{"@timestamp", "created_at", "timestamp"},
		MessageKeys: []string{"action", "repo"},
		LogSource:   normalize.Source("github-audit"),
		Entities: [][]string{
			{normalize.UserName, "actor"},
			{normalize.SourceIP, "actor_ip"},
			{normalize.EventAction, "action"},
			{"organization.name", "org"},
		},
	}
}

func init() { jsonsource.Register(Spec()) }
