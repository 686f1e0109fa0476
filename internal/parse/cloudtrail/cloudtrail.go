// Package cloudtrail parses AWS CloudTrail events: single events (as
// EventBridge or a JSON-lines export delivers them) and the files of an S3
// trail, whose "Records" array ParseAll splits into events.
package cloudtrail

import (
	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse/jsonsource"
	"github.com/wacht-soc/wacht/internal/parse/normalize"
)

// Spec is the CloudTrail source.
func Spec() jsonsource.Spec {
	return jsonsource.Spec{
		Name:        "cloudtrail",
		Version:     "1",
		Description: "AWS CloudTrail events and trail files (Records array)",
		TimeKeys:    []string{"eventTime"},
		MessageKeys: []string{"eventSource", "eventName", "errorCode"},
		LogSource:   normalize.Source("cloudtrail"),
		Records:     "Records",
		Entities: [][]string{
			{normalize.SourceIP, "sourceIPAddress"},
			{normalize.UserName, "userIdentity.userName", "userIdentity.sessionContext.sessionIssuer.userName", "userIdentity.principalId"},
			{"user_agent.original", "userAgent"},
			{"cloud.account.id", "recipientAccountId", "userIdentity.accountId"},
			{"cloud.region", "awsRegion"},
			{normalize.EventAction, "eventName"},
		},
		Finish: func(ev *event.Event) {
			if _, failed := ev.Get("errorCode"); failed {
				ev.Add(normalize.EventOutcome, event.String("failure"))
			} else {
				ev.Add(normalize.EventOutcome, event.String("success"))
			}
		},
	}
}

func init() { jsonsource.Register(Spec()) }
