package config

import (
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// Vuln configures vulnerability management (the `vuln:` section). Every
// key is optional; what is left out keeps the default shown.
//
//	vuln:
//	  sla:
//	    profile: cisa-bod-26-04   # or severity: CISA BOD 26-04 timelines for CVEs, severity days otherwise
//	    severity_days: {critical: 7, high: 30, medium: 90, low: 120, info: 0}   # fallback SLA (0: no due date)
//	    priority_days: {act: 0, attend: 0, track_star: 0, track: 0}            # per SSVC decision; > 0 overrides BOD and severity
//	    epss_poc_percentile: 0.9  # EPSS percentile from which exploitation counts as a public proof of concept
//	  rescan_closes_missing: true # a full rescan closes (as fixed) findings of its scope it no longer shows
//	  feeds:
//	    kev_url: https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json
//	    epss_url: https://epss.empiricalsecurity.com/epss_scores-current.csv.gz
//	    update_interval: 0s       # the server downloads both feeds this often (0s: only `wacht vuln feeds update`)
//
// A feed URL may also be an absolute file path (an offline mirror).
// Scalar keys are also settable from the environment
// (WACHT_VULN_RESCAN_CLOSES_MISSING=false, WACHT_VULN_SLA_SEVERITY_DAYS_HIGH=21,
// WACHT_VULN_FEEDS_UPDATE_INTERVAL=24h).
type Vuln struct {
	SLA                 VulnSLA   `yaml:"sla"`
	RescanClosesMissing bool      `yaml:"rescan_closes_missing"`
	Feeds               VulnFeeds `yaml:"feeds"`
}

// VulnSLA is the remediation SLA profile.
type VulnSLA struct {
	Profile      string           `yaml:"profile"`
	SeverityDays VulnSeverityDays `yaml:"severity_days"`
	PriorityDays VulnPriorityDays `yaml:"priority_days"`
	// EPSSPoC is a percentile from 0 to 1.
	EPSSPoC float64 `yaml:"epss_poc_percentile"`
}

// VulnSeverityDays are the days to remediate per severity.
type VulnSeverityDays struct {
	Critical int `yaml:"critical"`
	High     int `yaml:"high"`
	Medium   int `yaml:"medium"`
	Low      int `yaml:"low"`
	Info     int `yaml:"info"`
}

// VulnPriorityDays are the days to remediate per SSVC decision; 0 leaves
// the decision to the BOD 26-04 timeline or the severity days.
type VulnPriorityDays struct {
	Act       int `yaml:"act"`
	Attend    int `yaml:"attend"`
	TrackStar int `yaml:"track_star"`
	Track     int `yaml:"track"`
}

// VulnFeeds are where the KEV catalog and EPSS scores come from.
type VulnFeeds struct {
	KEVURL         string   `yaml:"kev_url"`
	EPSSURL        string   `yaml:"epss_url"`
	UpdateInterval Duration `yaml:"update_interval"`
}

// Default feed locations.
const (
	DefaultKEVURL  = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
	DefaultEPSSURL = "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"
)

// VulnProfiles are the built-in SLA profiles.
var VulnProfiles = []string{"cisa-bod-26-04", "severity"}

// DefaultVuln is the default `vuln:` section.
func DefaultVuln() Vuln {
	return Vuln{
		SLA: VulnSLA{
			Profile:      "cisa-bod-26-04",
			SeverityDays: VulnSeverityDays{Critical: 7, High: 30, Medium: 90, Low: 120},
			EPSSPoC:      0.9,
		},
		RescanClosesMissing: true,
		Feeds:               VulnFeeds{KEVURL: DefaultKEVURL, EPSSURL: DefaultEPSSURL},
	}
}

// maxSLADays bounds configured deadlines (ten years).
const maxSLADays = 3650

// validate reports every problem of the section, each naming its key.
func (v Vuln) validate(bad func(key, format string, args ...any)) {
	known := false
	for _, p := range VulnProfiles {
		known = known || v.SLA.Profile == p
	}
	if !known {
		bad("vuln.sla.profile", "%q is not one of %s", v.SLA.Profile, strings.Join(VulnProfiles, ", "))
	}
	days := func(key string, d int) {
		if d < 0 || d > maxSLADays {
			bad(key, "%d days is not between 0 and %d", d, maxSLADays)
		}
	}
	s := v.SLA.SeverityDays
	for k, d := range map[string]int{"critical": s.Critical, "high": s.High, "medium": s.Medium, "low": s.Low, "info": s.Info} {
		days("vuln.sla.severity_days."+k, d)
	}
	p := v.SLA.PriorityDays
	for k, d := range map[string]int{"act": p.Act, "attend": p.Attend, "track_star": p.TrackStar, "track": p.Track} {
		days("vuln.sla.priority_days."+k, d)
	}
	if s.Critical > 0 && s.High > 0 && s.High < s.Critical {
		bad("vuln.sla.severity_days.high", "%d days is shorter than critical's %d", s.High, s.Critical)
	}
	if v.SLA.EPSSPoC < 0 || v.SLA.EPSSPoC > 1 {
		bad("vuln.sla.epss_poc_percentile", "%v is not between 0 and 1", v.SLA.EPSSPoC)
	}
	for key, u := range map[string]string{"vuln.feeds.kev_url": v.Feeds.KEVURL, "vuln.feeds.epss_url": v.Feeds.EPSSURL} {
		if msg := feedSource(u); msg != "" {
			bad(key, "%q %s", u, msg)
		}
	}
	if iv := time.Duration(v.Feeds.UpdateInterval); iv != 0 && iv < time.Hour {
		bad("vuln.feeds.update_interval", "%s is shorter than an hour (0s turns the updates off)", v.Feeds.UpdateInterval)
	}
}

// feedSource checks a feed location: an http(s) URL with a host or an
// absolute file path. It returns what is wrong, or "".
func feedSource(s string) string {
	switch {
	case s == "":
		return "is empty: want an http(s) URL or an absolute file path"
	case strings.HasPrefix(s, "http://"), strings.HasPrefix(s, "https://"):
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return "is not a valid URL"
		}
	case filepath.IsAbs(s):
	default:
		return "is neither an http(s) URL nor an absolute file path"
	}
	return ""
}
