package cases

import (
	"fmt"
	"strings"
	"time"
)

// Config is the `cases:` section of the configuration file (read and
// checked by internal/config's Cases, mapped here by internal/app):
// grouping and the SLA policy. Zero values keep the defaults.
//
//	cases:
//	  grouping: {window: 24h, dedup_window: 1h, rule_entity: true, across_rules: [host, user]}
//	  sla:
//	    targets:
//	      P1: {acknowledge: 15m, contain: 4h, resolve: 24h}
//	    business_hours: {timezone: Europe/Berlin, days: [mon, tue, wed, thu, fri], start: "08:00", end: "18:00"}
//	    escalation: [{level: team_lead, after: 0s}, {level: soc_manager, after: 1h}]
type Config struct {
	Grouping *Grouping `yaml:"grouping" json:"grouping,omitempty"`
	SLA      SLAConfig `yaml:"sla" json:"sla"`
}

// SLAConfig is the SLA policy as configured.
type SLAConfig struct {
	Targets       map[Priority]Targets `yaml:"targets" json:"targets,omitempty"`
	BusinessHours *BusinessHoursConfig `yaml:"business_hours" json:"business_hours,omitempty"`
	Escalation    []EscalationStep     `yaml:"escalation" json:"escalation,omitempty"`
}

// BusinessHoursConfig is a weekly calendar as configured.
type BusinessHoursConfig struct {
	Timezone string   `yaml:"timezone" json:"timezone"`
	Days     []string `yaml:"days" json:"days"`
	Start    string   `yaml:"start" json:"start"`
	End      string   `yaml:"end" json:"end"`
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

func clockTime(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("time of day %q: want HH:MM", s)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// Options turns the configuration into service options, checking it.
func (c Config) Options() (Options, error) {
	var o Options
	if c.Grouping != nil {
		g := *c.Grouping
		if g.Window < 0 || g.DedupWindow < 0 {
			return o, fmt.Errorf("cases.grouping: windows must not be negative")
		}
		for _, k := range g.AcrossRules {
			if !entityKinds[k] {
				return o, fmt.Errorf("cases.grouping.across_rules: unknown entity kind %q", k)
			}
		}
		o.Grouping = &g
	}
	pol := DefaultSLAPolicy()
	for p, t := range c.SLA.Targets {
		if !p.Valid() {
			return o, fmt.Errorf("cases.sla.targets: unknown priority %q (want P1-P4)", p)
		}
		if t.Acknowledge < 0 || t.Contain < 0 || t.Resolve < 0 {
			return o, fmt.Errorf("cases.sla.targets.%s: durations must not be negative", p)
		}
		pol.Targets[p] = t
	}
	if c.SLA.Escalation != nil {
		pol.Escalation = c.SLA.Escalation
		for i := 1; i < len(pol.Escalation); i++ {
			if pol.Escalation[i].After < pol.Escalation[i-1].After {
				return o, fmt.Errorf("cases.sla.escalation: steps must be in order of after")
			}
		}
	}
	if bh := c.SLA.BusinessHours; bh != nil {
		loc, err := time.LoadLocation(bh.Timezone)
		if err != nil {
			return o, fmt.Errorf("cases.sla.business_hours.timezone: %w", err)
		}
		cal := &BusinessHours{Location: loc}
		if cal.Start, err = clockTime(bh.Start); err != nil {
			return o, fmt.Errorf("cases.sla.business_hours.start: %w", err)
		}
		if cal.End, err = clockTime(bh.End); err != nil {
			return o, fmt.Errorf("cases.sla.business_hours.end: %w", err)
		}
		if cal.End <= cal.Start {
			return o, fmt.Errorf("cases.sla.business_hours: end must be after start")
		}
		if len(bh.Days) == 0 {
			return o, fmt.Errorf("cases.sla.business_hours.days: name at least one day")
		}
		for _, d := range bh.Days {
			wd, ok := weekdays[strings.ToLower(d)[:min(3, len(d))]]
			if !ok {
				return o, fmt.Errorf("cases.sla.business_hours.days: unknown day %q", d)
			}
			cal.Days[wd] = true
		}
		pol.Calendar = cal
	}
	o.SLA = &pol
	return o, nil
}
