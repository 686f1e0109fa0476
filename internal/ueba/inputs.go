package ueba

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// anomalyImpact is the risk a production anomaly of score 100 adds before
// its detector's measured precision and the entity's modifiers.
const anomalyImpact = 40

// entityOfField maps an event field to the entity it names.
func entityOfField(field, v string) (Entity, bool) {
	if v == "" || v == "-" {
		return Entity{}, false
	}
	switch field {
	case "user.name", "user":
		return Entity{KindUser, strings.ToLower(v)}, true
	case "host.name", "host", "hostname":
		return Entity{KindHost, strings.ToLower(v)}, true
	case "source.ip", "ip":
		return Entity{KindIP, v}, true
	}
	return Entity{}, false
}

// addSignals adds signals to the ledger and publishes the alerts they
// raise.
func (s *Service) addSignals(ctx context.Context, tenant string, sigs []Signal) []*RiskAlert {
	now := s.opts.Now()
	var alerts []*RiskAlert
	s.mu.Lock()
	for _, sig := range sigs {
		sig.Modifier = s.modifier(ctx, tenant, sig.Entity)
		if al := s.risk.Add(tenant, sig, now); al != nil {
			alerts = append(alerts, al)
		}
	}
	s.mu.Unlock()
	s.publishAlerts(ctx, alerts)
	return alerts
}

// SightingSignal is a threat-intel indicator seen in an entity's events.
type SightingSignal struct {
	IndicatorID string
	// Type and Value of the indicator (ipv4-addr 203.0.113.9 …).
	Type, Value string
	// Confidence is the indicator's 0-100 (0: unknown, counted as 50).
	Confidence int
	Attack     []string
	// Entities are the sighted event's entity fields (user.name,
	// host.name, source.ip).
	Entities map[string]string
	Time     time.Time
}

// intelImpact is the risk of a sighting of a fully trusted indicator.
const intelImpact = 40

// AddSighting adds an indicator sighting's risk to each entity of the
// event it was seen in.
func (s *Service) AddSighting(ctx context.Context, tenant string, sg SightingSignal) []*RiskAlert {
	conf := float64(sg.Confidence) / 100
	if sg.Confidence <= 0 {
		conf = 0.5
	}
	var sigs []Signal
	for field, v := range sg.Entities {
		ent, ok := entityOfField(field, v)
		if !ok {
			continue
		}
		sigs = append(sigs, Signal{Kind: SignalIntel, Source: sg.IndicatorID, Entity: ent, Time: sg.Time,
			Title:  fmt.Sprintf("indicator %s %s sighted", sg.Type, sg.Value),
			Impact: intelImpact, Confidence: min(conf, 1), Tactics: tacticsOf(sg.Attack)})
	}
	return s.addSignals(ctx, tenant, sigs)
}

// ExposureSignal is a vulnerability or exposure of an asset.
type ExposureSignal struct {
	// Host is the asset's host name or address.
	Host string
	// VulnID names the vulnerability (CVE-…); Title says what it is.
	VulnID, Title string
	// Severity 1 low … 4 critical.
	Severity int
	// KEV: known exploited; EPSS the exploit prediction score (0-1).
	KEV  bool
	EPSS float64
	// Internet: the asset is reachable from the internet.
	Internet bool
	// SLABreached: the fix is overdue.
	SLABreached bool
	Time        time.Time
}

// exposureImpact is the risk per severity (none, low … critical).
var exposureImpact = [...]float64{0, 5, 10, 20, 30}

// AddExposure adds an asset's vulnerability risk: impact by severity,
// raised for known exploitation, internet exposure and an overdue fix;
// confidence from EPSS.
func (s *Service) AddExposure(ctx context.Context, tenant string, x ExposureSignal) []*RiskAlert {
	ent := Entity{KindHost, strings.ToLower(x.Host)}
	if looksLikeIP(x.Host) {
		ent = Entity{KindIP, x.Host}
	}
	if x.Host == "" {
		return nil
	}
	impact := exposureImpact[min(max(x.Severity, 0), 4)]
	var why []string
	if x.KEV {
		impact *= 1.5
		why = append(why, "known exploited")
	}
	if x.Internet {
		impact *= 1.5
		why = append(why, "internet-exposed")
	}
	if x.SLABreached {
		impact *= 1.2
		why = append(why, "fix overdue")
	}
	conf := 0.5 + 0.5*min(max(x.EPSS, 0), 1)
	if x.KEV {
		conf = 1
	}
	title := x.VulnID
	if x.Title != "" {
		title += ": " + x.Title
	}
	if len(why) > 0 {
		title += " (" + strings.Join(why, ", ") + ")"
	}
	return s.addSignals(ctx, tenant, []Signal{{Kind: SignalVuln, Source: x.VulnID, Title: title, Entity: ent, Time: x.Time,
		Impact: impact, Confidence: conf}})
}

func looksLikeIP(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == ':' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return strings.Count(s, ".") == 3 || strings.Contains(s, ":")
}

// tacticsOf keeps the ATT&CK tactic names of tags ("attack.execution"),
// dropping technique ids.
func tacticsOf(tags []string) []string {
	var out []string
	for _, a := range tags {
		a = strings.TrimPrefix(strings.ToLower(a), "attack.")
		if a == "" || (a[0] == 't' && len(a) > 1 && a[1] >= '0' && a[1] <= '9') || (a[0] == 'g' && len(a) > 1 && a[1] >= '0' && a[1] <= '9') {
			continue
		}
		out = append(out, a)
	}
	return out
}
