package app

import (
	"context"
	"encoding/json"
	"sort"
	"strings"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/cases"
	"github.com/wacht-soc/wacht/internal/detect"
	"github.com/wacht-soc/wacht/internal/intel"
)

func init() { registerModule("alerting", 21, startAlerting) }

// startAlerting turns detections (detection.matched) and threat-intel
// sightings (indicator.sighted) into alerts: the detectors stay ignorant
// of cases, and cases of detectors. Alerts are raised in batches so a
// burst of matches costs one transaction, not one per match.
func startAlerting(ctx context.Context, env *Env) (func(), error) {
	log := env.Log.With("module", "alerting")
	svc := cases.New(env.DB, cases.Options{Bus: env.Bus, Now: env.Now, Log: log})
	det := env.Bus.Subscribe(detect.TopicMatched, 8192)
	sig := env.Bus.Subscribe(intel.EventSighted, 8192)
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			var e bus.Event
			var ok bool
			select {
			case <-ctx.Done():
				return
			case e, ok = <-det.C():
			case e, ok = <-sig.C():
			}
			if !ok {
				return
			}
			in, fine := alertFor(e)
			if !fine {
				continue
			}
			if _, err := svc.RaiseAlert(ctx, e.Tenant, in); err != nil && ctx.Err() == nil {
				log.Error("raise_alert_failed", "rule", in.RuleID, "err", err)
			}
		}
	}()
	return func() { cancel(); <-done; det.Close(); sig.Close() }, nil
}

// alertFor maps a domain event to an alert.
func alertFor(e bus.Event) (cases.AlertInput, bool) {
	switch d := e.Data.(type) {
	case *detect.Detection:
		return detectionAlert(*d), true
	case detect.Detection:
		return detectionAlert(d), true
	case *intel.Sighted:
		return sightingAlert(*d), true
	case intel.Sighted:
		return sightingAlert(d), true
	}
	return cases.AlertInput{}, false
}

func detectionAlert(d detect.Detection) cases.AlertInput {
	sev, err := cases.ParseSeverity(d.Level.String())
	if err != nil {
		sev = cases.SevMedium
	}
	in := cases.AlertInput{
		Source: "sigma", RuleID: d.RuleID, RuleTitle: d.Title, Severity: sev,
		Attack: d.Attack, Entities: entitiesOf(d.Entities), DedupKey: d.DedupKey, EventTime: d.Time,
	}
	for _, ev := range d.Events {
		in.Events = append(in.Events, json.RawMessage(ev.AppendJSON(nil)))
	}
	return in
}

func sightingAlert(s intel.Sighted) cases.AlertInput {
	sev := cases.SevMedium
	if s.Indicator.Confidence >= 80 {
		sev = cases.SevHigh
	}
	in := cases.AlertInput{
		Source: "intel", RuleID: "intel:" + s.Indicator.Type.String(),
		RuleTitle:           "Threat-intel indicator seen: " + s.Indicator.Type.String() + " " + s.Indicator.Value,
		Severity:            sev,
		Attack:              s.Indicator.Attack,
		IndicatorConfidence: s.Indicator.Confidence,
		DedupKey:            "intel:" + s.Indicator.ID + ":" + s.Sighting.Observed,
		EventTime:           s.Sighting.Time,
		Description:         s.Indicator.Description,
	}
	if s.Event != nil {
		in.Entities = entitiesOf(entityFields(s.Event))
		in.Events = []json.RawMessage{json.RawMessage(s.Event.AppendJSON(nil))}
	}
	return in
}

// entityFields picks the normalized entity fields of an event.
func entityFields(ev *event.Event) map[string]string {
	out := map[string]string{}
	for _, f := range ev.Fields {
		if _, ok := entityKind(f.Name); ok {
			out[f.Name] = f.Value.String()
		}
	}
	return out
}

// entityKind maps a normalized field to a case entity kind.
func entityKind(field string) (string, bool) {
	switch {
	case field == "host.name" || field == "host.hostname":
		return "host", true
	case field == "user.name" || field == "user.target.name":
		return "user", true
	case field == "source.ip" || field == "destination.ip" || field == "client.ip" || field == "host.ip":
		return "ip", true
	case field == "process.executable" || field == "process.name":
		return "process", true
	case strings.HasPrefix(field, "file.hash."):
		return "hash", true
	case field == "url.full" || field == "url.original":
		return "url", true
	case field == "dns.question.name" || field == "url.domain" || field == "destination.domain":
		return "domain", true
	}
	return "", false
}

func entitiesOf(m map[string]string) []cases.Entity {
	seen := map[cases.Entity]bool{}
	var out []cases.Entity
	for field, v := range m {
		kind, ok := entityKind(field)
		if !ok || v == "" {
			continue
		}
		e := cases.Entity{Kind: kind, Value: v}
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}
