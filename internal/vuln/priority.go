package vuln

import (
	"fmt"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/assets"
	"github.com/wacht-soc/wacht/internal/vuln/report"
)

// Decision is CISA's SSVC coordinator outcome.
type Decision string

// SSVC outcomes, least urgent first.
const (
	DecisionNone      Decision = ""
	DecisionTrack     Decision = "track"
	DecisionTrackStar Decision = "track*"
	DecisionAttend    Decision = "attend"
	DecisionAct       Decision = "act"
)

// Rank orders decisions for sorting (higher is more urgent).
func (d Decision) Rank() int {
	switch d {
	case DecisionAct:
		return 4
	case DecisionAttend:
		return 3
	case DecisionTrackStar:
		return 2
	case DecisionTrack:
		return 1
	case DecisionNone:
		return 0
	}
	return 0
}

// Exploitation is SSVC's decision point.
type Exploitation int

// Exploitation values.
const (
	ExploitNone Exploitation = iota
	ExploitPoC
	ExploitActive
)

// Impact is SSVC's mission and well-being impact.
type Impact int

// Impact values.
const (
	ImpactLow Impact = iota
	ImpactMedium
	ImpactHigh
)

// Inputs are the SSVC decision points of one finding.
type Inputs struct {
	Exploitation    Exploitation
	Automatable     bool
	TotalImpact     bool
	Mission         Impact
	InKEV           bool
	PubliclyExposed bool
}

// Coordinator is CISA's SSVC coordinator tree (version 2.0.3).
//
// Reading of the table: with no known exploitation, only an automatable
// or total-impact flaw on a high-impact mission gets more than track; a
// public proof of concept adds track* for medium missions with total
// impact; active exploitation acts on high missions with total impact or
// automation and attends to the rest of medium/high.
func Coordinator(in Inputs) Decision {
	m := in.Mission
	switch in.Exploitation {
	case ExploitNone:
		if m == ImpactHigh {
			switch {
			case in.Automatable:
				return DecisionAttend
			case in.TotalImpact:
				return DecisionTrackStar
			}
		}
		return DecisionTrack
	case ExploitPoC:
		switch m {
		case ImpactHigh:
			if in.Automatable || in.TotalImpact {
				return DecisionAttend
			}
			return DecisionTrackStar
		case ImpactMedium:
			if in.TotalImpact {
				return DecisionTrackStar
			}
		}
		return DecisionTrack
	case ExploitActive:
		if in.Automatable {
			if m == ImpactLow || (m == ImpactMedium && !in.TotalImpact) {
				return DecisionAttend
			}
			return DecisionAct
		}
		switch m {
		case ImpactHigh:
			if in.TotalImpact {
				return DecisionAct
			}
			return DecisionAttend
		case ImpactMedium:
			if in.TotalImpact {
				return DecisionAttend
			}
		}
		return DecisionTrack
	}
	return DecisionTrack
}

// Timeline is a CISA BOD 26-04 remediation timeline.
type Timeline string

// Timelines, least urgent first.
const (
	TimelineUpgrade   Timeline = "FSU" // fix on system upgrade
	Timeline60Days    Timeline = "60D"
	Timeline14Days    Timeline = "14D"
	Timeline3Days     Timeline = "3D"
	Timeline3DaysFore Timeline = "3DF" // and forensic investigation
)

// Days is the deadline of the timeline; 0 for fix on system upgrade.
func (t Timeline) Days() int {
	switch t {
	case Timeline60Days:
		return 60
	case Timeline14Days:
		return 14
	case Timeline3Days, Timeline3DaysFore:
		return 3
	case TimelineUpgrade:
		return 0
	}
	return 0
}

// String is the table's wording.
func (t Timeline) String() string {
	switch t {
	case TimelineUpgrade:
		return "fix on system upgrade"
	case Timeline60Days:
		return "60 days"
	case Timeline14Days:
		return "14 days"
	case Timeline3Days:
		return "3 days"
	case Timeline3DaysFore:
		return "3 days & forensic investigation"
	}
	return string(t)
}

// BOD2604 is the decision table of CISA BOD 26-04 (version 1.0.0) over
// KEV membership, public exposure, automatable and technical impact.
//
// Reading of the table: count the aggravating inputs among KEV, exposed,
// automatable and total impact. None: fix on upgrade; total impact alone
// too. One: 14 days if it is KEV, else 60 days. Two: 14 days, except
// exposed-and-automatable (3 days)... see the cases below, which follow the
// table row by row.
func BOD2604(in Inputs) Timeline {
	k, e, a, t := in.InKEV, in.PubliclyExposed, in.Automatable, in.TotalImpact
	switch {
	case k && t && (e || a):
		return Timeline3DaysFore
	case k && e && a:
		return Timeline3Days
	case !k && e && a && t:
		return Timeline3Days
	case k:
		return Timeline14Days
	case e && (a || t):
		return Timeline14Days
	case e || a:
		return Timeline60Days
	default:
		return TimelineUpgrade
	}
}

// Profile sets remediation deadlines.
type Profile struct {
	Name string `json:"name"`
	// UseBOD applies CISA BOD 26-04 timelines to CVEs; findings it leaves
	// to "fix on system upgrade", and non-CVE findings, use SeverityDays.
	UseBOD bool `json:"use_bod"`
	// SeverityDays maps severity to days (the fallback SLA).
	SeverityDays map[report.Severity]int `json:"severity_days"`
	// PriorityDays maps SSVC decisions to days; a decision listed with
	// more than 0 days sets the due date before BOD 26-04 and severity.
	PriorityDays map[Decision]int `json:"priority_days,omitempty"`
	// EPSSPoC is the EPSS percentile from which exploitation counts as a
	// public proof of concept (default 0.9).
	EPSSPoC float64 `json:"epss_poc"`
}

// DefaultProfile is BOD 26-04 with the 7 / 30 / 90 / 120 day severity SLA
// as fallback.
func DefaultProfile() Profile {
	return Profile{Name: "cisa-bod-26-04", UseBOD: true, EPSSPoC: 0.9, SeverityDays: map[report.Severity]int{
		report.SeverityCritical: 7, report.SeverityHigh: 30, report.SeverityMedium: 90, report.SeverityLow: 120,
	}}
}

// SeverityProfile uses only the severity SLA.
func SeverityProfile() Profile {
	p := DefaultProfile()
	p.Name, p.UseBOD = "severity", false
	return p
}

// Prioritized is the outcome with its reasons.
type Prioritized struct {
	Decision Decision
	Timeline Timeline
	Due      time.Time
	Reasons  []string
}

// Prioritize decides a finding's priority and due date from its
// enrichment and its asset.
func (p Profile) Prioritize(f *Finding, a *assets.Asset) Prioritized {
	var in Inputs
	var why []string
	switch {
	case f.KEV:
		in.Exploitation, in.InKEV = ExploitActive, true
		why = append(why, "in CISA KEV: exploitation active")
	case f.ExploitAvailable:
		in.Exploitation = ExploitPoC
		why = append(why, "scanner reports a public exploit: exploitation poc")
	case f.EPSSPercentile >= p.EPSSPoC && f.EPSS > 0:
		in.Exploitation = ExploitPoC
		why = append(why, fmt.Sprintf("EPSS %.3f (percentile %.2f ≥ %.2f): exploitation poc", f.EPSS, f.EPSSPercentile, p.EPSSPoC))
	case f.cve == nil || f.cve.Exploitation == "" || f.cve.Exploitation == "none":
		why = append(why, "no known exploitation")
	}
	if c := f.cve; c != nil && c.Exploitation != "" {
		// CISA's own SSVC assessment of the CVE (ADP Vulnrichment).
		switch c.Exploitation {
		case "active":
			if in.Exploitation != ExploitActive {
				in.Exploitation = ExploitActive
				why = append(why, "CISA SSVC: exploitation active")
			}
		case "poc":
			if in.Exploitation < ExploitPoC {
				in.Exploitation = ExploitPoC
				why = append(why, "CISA SSVC: exploitation poc")
			}
		}
	}
	vec := f.CVSS3Vector
	if vec == "" {
		vec = f.CVSS4Vector
	}
	m := vectorMetrics(vec)
	switch {
	case f.cve != nil && f.cve.Automatable != "":
		in.Automatable = f.cve.Automatable == "yes"
		why = append(why, "CISA SSVC: automatable "+f.cve.Automatable)
	case m["AV"] == "N" && m["AC"] == "L" && m["PR"] == "N" && m["UI"] == "N":
		in.Automatable = true
		why = append(why, "CVSS AV:N/AC:L/PR:N/UI:N: automatable")
	}
	switch {
	case f.cve != nil && f.cve.TechnicalImpact != "":
		in.TotalImpact = f.cve.TechnicalImpact == "total"
		why = append(why, "CISA SSVC: technical impact "+f.cve.TechnicalImpact)
	case m["C"] == "H" && m["I"] == "H" && m["A"] == "H", m["VC"] == "H" && m["VI"] == "H" && m["VA"] == "H":
		in.TotalImpact = true
		why = append(why, "confidentiality, integrity and availability high: technical impact total")
	}
	crit := assets.Criticality(0)
	if a != nil {
		crit = a.Criticality
		in.PubliclyExposed = a.Exposure.PubliclyExposed()
		if in.PubliclyExposed {
			why = append(why, "asset is internet-facing: publicly exposed")
		}
	}
	switch {
	case crit >= 4:
		in.Mission = ImpactHigh
	case crit == 3, crit == 0:
		in.Mission = ImpactMedium
	default:
		in.Mission = ImpactLow
	}
	impact := [...]string{"low", "medium", "high"}
	why = append(why, fmt.Sprintf("asset criticality %d: mission impact %s", crit, impact[in.Mission]))
	if a != nil && a.MissionPrevalence != "" {
		// SSVC: an essential asset is high mission impact, a supporting
		// one at least medium; the higher of the two readings counts.
		prev := ImpactLow
		switch a.MissionPrevalence {
		case assets.PrevalenceEssential:
			prev = ImpactHigh
		case assets.PrevalenceSupport:
			prev = ImpactMedium
		}
		if prev > in.Mission {
			in.Mission = prev
			why = append(why, fmt.Sprintf("mission prevalence %s: mission impact %s", a.MissionPrevalence, impact[prev]))
		}
	}
	out := Prioritized{Decision: Coordinator(in)}
	why = append(why, "SSVC coordinator: "+string(out.Decision))
	days := 0
	if d := p.PriorityDays[out.Decision]; d > 0 {
		days = d
		why = append(why, fmt.Sprintf("SLA profile %s: %s within %d days", p.Name, out.Decision, d))
	}
	if p.UseBOD && strings.HasPrefix(f.VulnID, "CVE-") {
		out.Timeline = BOD2604(in)
		if days == 0 {
			days = out.Timeline.Days()
			why = append(why, "BOD 26-04: "+out.Timeline.String())
		}
	}
	if days == 0 {
		if d, ok := p.SeverityDays[f.Severity]; ok && d > 0 {
			days = d
			why = append(why, fmt.Sprintf("severity %s: %d days", f.Severity, d))
		}
	}
	if days > 0 {
		out.Due = f.FirstSeen.Add(time.Duration(days) * 24 * time.Hour)
	}
	out.Reasons = why
	return out
}

// vectorMetrics splits a CVSS vector into metric → value.
func vectorMetrics(v string) map[string]string {
	m := map[string]string{}
	for _, part := range strings.Split(v, "/") {
		if k, val, ok := strings.Cut(part, ":"); ok && k != "CVSS" {
			m[k] = val
		}
	}
	return m
}

// ProfileNamed returns a built-in profile: "cisa-bod-26-04" (the default,
// also for "") or "severity".
func ProfileNamed(name string) (Profile, error) {
	switch name {
	case "", "cisa-bod-26-04":
		return DefaultProfile(), nil
	case "severity":
		return SeverityProfile(), nil
	}
	return Profile{}, errorf("sla profile %q: want cisa-bod-26-04 or severity", name)
}

// Validate checks a configured profile.
func (p Profile) Validate() error {
	for sev, d := range p.SeverityDays {
		if d < 0 || d > 3650 {
			return errorf("sla profile %s: %d days for %s", p.Name, d, sev)
		}
	}
	for d, n := range p.PriorityDays {
		if !d.Valid() || d == DecisionNone || n < 0 || n > 3650 {
			return errorf("sla profile %s: %d days for decision %q", p.Name, n, d)
		}
	}
	if p.EPSSPoC < 0 || p.EPSSPoC > 1 {
		return errorf("sla profile %s: epss_poc %v, want 0 to 1", p.Name, p.EPSSPoC)
	}
	return nil
}
