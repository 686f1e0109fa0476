package vuln

import (
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/assets"
	"github.com/wacht-soc/wacht/internal/vuln/report"
)

func TestProfiles(t *testing.T) {
	first := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := func(p Profile, fd Finding, a *assets.Asset, wantDays int, wantDecision Decision) {
		t.Helper()
		fd.FirstSeen = first
		got := p.Prioritize(&fd, a)
		days := 0
		if !got.Due.IsZero() {
			days = int(got.Due.Sub(first) / (24 * time.Hour))
		}
		if days != wantDays || got.Decision != wantDecision {
			t.Fatalf("%s %s: %d days %s, want %d %s (reasons %q)", p.Name, fd.VulnID, days, got.Decision, wantDays, wantDecision, got.Reasons)
		}
	}
	cisa, _ := ProfileNamed("")
	sev, _ := ProfileNamed("severity")
	exposed := &assets.Asset{Exposure: assets.ExposureInternet, Criticality: 4}
	// Not exploited, internal, partial impact: BOD says fix on upgrade;
	// the severity fallback gives a high 30 days.
	f(cisa, Finding{VulnID: "CVE-2024-1", Severity: report.SeverityHigh}, nil, 30, DecisionTrack)
	// KEV on an internet-facing, critical asset with a network vector:
	// 3 days & forensics, act.
	kev := Finding{VulnID: "CVE-2024-2", Severity: report.SeverityMedium, KEV: true, CVSS3Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:N"}
	f(cisa, kev, exposed, 3, DecisionAct)
	// The severity profile ignores all that: medium is 90 days.
	f(sev, kev, exposed, 90, DecisionAct)
	// A non-CVE finding (a SAST rule) uses the severity SLA.
	f(cisa, Finding{VulnID: "python.lang.security.eval", Severity: report.SeverityCritical}, nil, 7, DecisionTrack)
	// High EPSS percentile counts as a public proof of concept.
	f(cisa, Finding{VulnID: "CVE-2024-3", Severity: report.SeverityLow, EPSS: 0.4, EPSSPercentile: 0.97}, &assets.Asset{Criticality: 4}, 120, DecisionTrackStar)
	// Mission prevalence raises the mission impact the criticality gives:
	// an essential low-criticality asset with a public exploit on an
	// automatable flaw is high impact (attend), a minimal one stays low.
	auto := Finding{VulnID: "CVE-2024-4", Severity: report.SeverityHigh, ExploitAvailable: true, CVSS3Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:N"}
	f(cisa, auto, &assets.Asset{Criticality: 1, MissionPrevalence: assets.PrevalenceEssential}, 60, DecisionAttend)
	f(cisa, auto, &assets.Asset{Criticality: 1, MissionPrevalence: assets.PrevalenceMinimal}, 60, DecisionTrack)
	if _, err := ProfileNamed("fastest"); err == nil {
		t.Fatal("unknown profile accepted")
	}
	bad := DefaultProfile()
	bad.EPSSPoC = 2
	if bad.Validate() == nil {
		t.Fatal("epss_poc 2 accepted")
	}
}
