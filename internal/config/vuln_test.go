package config

import (
	"strings"
	"testing"
	"time"
)

func TestVulnSection(t *testing.T) {
	p := write(t, `vuln:
  sla:
    profile: severity
    severity_days: {critical: 3, high: 14}
    priority_days: {act: 2, track_star: 45}
    epss_poc_percentile: 0.95
  rescan_closes_missing: false
  feeds:
    kev_url: http://127.0.0.1:9/kev.json
    epss_url: /srv/mirror/epss.csv.gz
    update_interval: 1d
`)
	c, err := Load(p, []string{"WACHT_VULN_SLA_SEVERITY_DAYS_LOW=200", "WACHT_VULN_FEEDS_UPDATE_INTERVAL=12h"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	v := c.Vuln
	// Keys left out keep their defaults (medium 90).
	if v.SLA.Profile != "severity" || v.SLA.SeverityDays != (VulnSeverityDays{Critical: 3, High: 14, Medium: 90, Low: 200}) ||
		v.SLA.PriorityDays != (VulnPriorityDays{Act: 2, TrackStar: 45}) || v.SLA.EPSSPoC != 0.95 || v.RescanClosesMissing ||
		v.Feeds.KEVURL != "http://127.0.0.1:9/kev.json" || v.Feeds.EPSSURL != "/srv/mirror/epss.csv.gz" ||
		time.Duration(v.Feeds.UpdateInterval) != 12*time.Hour {
		t.Fatalf("got %+v", v)
	}
	d := Default().Vuln
	if !d.RescanClosesMissing || d.SLA.SeverityDays != (VulnSeverityDays{Critical: 7, High: 30, Medium: 90, Low: 120}) || d.Feeds.UpdateInterval != 0 {
		t.Fatalf("defaults %+v", d)
	}
}

func TestVulnSectionStrict(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"vuln:\n  sla:\n    profile: fastest\n", "vuln.sla.profile"},
		{"vuln:\n  sla:\n    severity_days: {critical: -1}\n", "vuln.sla.severity_days.critical"},
		{"vuln:\n  sla:\n    severity_days: {critical: 10, high: 5}\n", "vuln.sla.severity_days.high"},
		{"vuln:\n  sla:\n    severity_days: {urgent: 1}\n", "urgent"},
		{"vuln:\n  sla:\n    priority_days: {act: 4000}\n", "vuln.sla.priority_days.act"},
		{"vuln:\n  sla:\n    epss_poc_percentile: 90\n", "vuln.sla.epss_poc_percentile"},
		{"vuln:\n  feeds:\n    kev_url: ftp://x/kev.json\n", "vuln.feeds.kev_url"},
		{"vuln:\n  feeds:\n    epss_url: relative/epss.csv\n", "vuln.feeds.epss_url"},
		{"vuln:\n  feeds:\n    kev_url: \"http://\"\n", "vuln.feeds.kev_url"},
		{"vuln:\n  feeds:\n    update_interval: 5m\n", "vuln.feeds.update_interval"},
		{"vuln:\n  rescan_closes_missing: sometimes\n", "line 2"},
		{"vuln:\n  sla_profile: severity\n", "sla_profile"},
	} {
		c, err := Load(write(t, tc.file), nil)
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to mention %q", tc.file, err, tc.want)
		}
	}
	if _, err := Load("", []string{"WACHT_VULN_SLA_PROFILES=x"}); err == nil {
		t.Error("unknown environment key accepted")
	}
}
