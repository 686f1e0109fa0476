package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Cases configures incident response (the `cases:` section): how alerts
// group into incidents and the SLA policy. Every key is optional; what is
// left out keeps the default shown.
//
//	cases:
//	  grouping:
//	    window: 24h          # an alert joins an open incident that took an alert with a shared key this recently
//	    dedup_window: 1h     # a repeat of an alert (same dedup key) this soon raises its count (0s: never)
//	    rule_entity: true    # group alerts of the same rule about the same entity
//	    across_rules: [host, user]  # entity kinds that group alerts of different rules
//	  sla:
//	    targets:             # per priority; a missing or zero duration keeps the default
//	      P1: {acknowledge: 15m, contain: 4h, resolve: 24h}
//	      P2: {acknowledge: 1h, contain: 8h, resolve: 72h}
//	      P3: {acknowledge: 4h, contain: 24h, resolve: 7d}
//	      P4: {acknowledge: 24h, contain: 72h, resolve: 30d}
//	    business_hours:      # optional: SLA clocks run only inside these hours
//	      timezone: Europe/Berlin
//	      days: [mon, tue, wed, thu, fri]
//	      start: "08:00"
//	      end: "18:00"
//	    escalation:          # after the first breach, escalate to each level in turn
//	      - {level: team_lead, after: 0s}
//	      - {level: soc_manager, after: 1h}
//
// The grouping keys are also settable from the environment
// (WACHT_CASES_GROUPING_WINDOW=12h, WACHT_CASES_GROUPING_ACROSS_RULES=host,user).
type Cases struct {
	Grouping CaseGrouping `yaml:"grouping"`
	SLA      CaseSLA      `yaml:"sla"`
}

// CaseGrouping is how alerts join incidents.
type CaseGrouping struct {
	Window      Duration `yaml:"window"`
	DedupWindow Duration `yaml:"dedup_window"`
	RuleEntity  bool     `yaml:"rule_entity"`
	AcrossRules []string `yaml:"across_rules"`
}

// CaseSLA is the SLA policy: targets per priority (P1-P4), an optional
// business-hours calendar and the escalation chain (empty: the default
// chain team_lead, then soc_manager an hour later).
type CaseSLA struct {
	Targets       map[string]CaseTargets `yaml:"targets"`
	BusinessHours *CaseBusinessHours     `yaml:"business_hours"`
	Escalation    []CaseEscalation       `yaml:"escalation"`
}

// CaseTargets are the times to acknowledge, contain and resolve an
// incident of one priority.
type CaseTargets struct {
	Acknowledge Duration `yaml:"acknowledge"`
	Contain     Duration `yaml:"contain"`
	Resolve     Duration `yaml:"resolve"`
}

// CaseBusinessHours is a weekly calendar: days (mon…sun) between start
// and end (HH:MM) in an IANA time zone.
type CaseBusinessHours struct {
	Timezone string   `yaml:"timezone"`
	Days     []string `yaml:"days"`
	Start    string   `yaml:"start"`
	End      string   `yaml:"end"`
}

// CaseEscalation is one level of the escalation chain, reached After the
// first SLA breach of an incident.
type CaseEscalation struct {
	Level string   `yaml:"level"`
	After Duration `yaml:"after"`
}

// DefaultCases is the default `cases:` section.
func DefaultCases() Cases {
	return Cases{Grouping: CaseGrouping{
		Window: Duration(24 * time.Hour), DedupWindow: Duration(time.Hour), RuleEntity: true, AcrossRules: []string{"host", "user"},
	}}
}

// caseEntityKinds are the entity kinds an alert may name (internal/cases
// checks the same list).
var caseEntityKinds = []string{"host", "user", "ip", "process", "hash", "domain", "url", "email", "file", "service", "account", "registry"}

var caseDays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func hhmm(s string) (time.Duration, bool) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, false
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, true
}

// validate reports every problem of the section, each naming its key.
func (c Cases) validate(bad func(key, format string, args ...any)) {
	g := c.Grouping
	if g.Window <= 0 {
		bad("cases.grouping.window", "must be positive, is %s", g.Window)
	}
	if g.DedupWindow < 0 {
		bad("cases.grouping.dedup_window", "must not be negative, is %s", g.DedupWindow)
	}
	for _, k := range g.AcrossRules {
		if !slices.Contains(caseEntityKinds, k) {
			bad("cases.grouping.across_rules", "%q is not one of %s", k, strings.Join(caseEntityKinds, ", "))
		}
	}
	for p, t := range c.SLA.Targets {
		key := "cases.sla.targets." + p
		if p != "P1" && p != "P2" && p != "P3" && p != "P4" {
			bad(key, "unknown priority (want P1, P2, P3 or P4)")
			continue
		}
		for name, d := range map[string]Duration{"acknowledge": t.Acknowledge, "contain": t.Contain, "resolve": t.Resolve} {
			if d < 0 {
				bad(key+"."+name, "must not be negative, is %s", d)
			}
		}
		if t.Acknowledge > 0 && t.Contain > 0 && t.Contain < t.Acknowledge {
			bad(key, "contain (%s) is shorter than acknowledge (%s)", t.Contain, t.Acknowledge)
		}
		if t.Contain > 0 && t.Resolve > 0 && t.Resolve < t.Contain {
			bad(key, "resolve (%s) is shorter than contain (%s)", t.Resolve, t.Contain)
		}
	}
	if bh := c.SLA.BusinessHours; bh != nil {
		if bh.Timezone == "" {
			bad("cases.sla.business_hours.timezone", "required (an IANA zone such as Europe/Berlin, or UTC)")
		} else if _, err := time.LoadLocation(bh.Timezone); err != nil {
			bad("cases.sla.business_hours.timezone", "%q is not a known time zone", bh.Timezone)
		}
		start, okS := hhmm(bh.Start)
		if !okS {
			bad("cases.sla.business_hours.start", "%q is not a time of day HH:MM", bh.Start)
		}
		end, okE := hhmm(bh.End)
		if !okE {
			bad("cases.sla.business_hours.end", "%q is not a time of day HH:MM", bh.End)
		}
		if okS && okE && end <= start {
			bad("cases.sla.business_hours", "end %s is not after start %s", bh.End, bh.Start)
		}
		if len(bh.Days) == 0 {
			bad("cases.sla.business_hours.days", "name at least one day")
		}
		for _, d := range bh.Days {
			if !slices.Contains(caseDays, strings.ToLower(d)) {
				bad("cases.sla.business_hours.days", "%q is not one of %s", d, strings.Join(caseDays, ", "))
			}
		}
	}
	for i, e := range c.SLA.Escalation {
		key := fmt.Sprintf("cases.sla.escalation[%d]", i)
		if strings.TrimSpace(e.Level) == "" {
			bad(key+".level", "required (who is escalated to, e.g. soc_manager)")
		}
		if e.After < 0 {
			bad(key+".after", "must not be negative, is %s", e.After)
		}
		if i > 0 && e.After < c.SLA.Escalation[i-1].After {
			bad(key+".after", "%s comes before the previous level's %s: list levels in order", e.After, c.SLA.Escalation[i-1].After)
		}
	}
}
