package config

import (
	"strings"
	"testing"
	"time"
)

func TestCasesSection(t *testing.T) {
	p := write(t, `cases:
  grouping:
    window: 12h
    across_rules: [host]
  sla:
    targets:
      P1: {acknowledge: 10m, resolve: 2d}
    business_hours: {timezone: Europe/Berlin, days: [mon, tue, wed, thu, fri], start: "08:00", end: "18:00"}
    escalation:
      - {level: team_lead, after: 0s}
      - {level: soc_manager, after: 2h}
`)
	c, err := Load(p, []string{"WACHT_CASES_GROUPING_DEDUP_WINDOW=30m"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	g := c.Cases.Grouping
	// Keys left out keep their defaults.
	if time.Duration(g.Window) != 12*time.Hour || time.Duration(g.DedupWindow) != 30*time.Minute || !g.RuleEntity || strings.Join(g.AcrossRules, ",") != "host" {
		t.Fatalf("grouping %+v", g)
	}
	p1 := c.Cases.SLA.Targets["P1"]
	if time.Duration(p1.Acknowledge) != 10*time.Minute || p1.Contain != 0 || time.Duration(p1.Resolve) != 48*time.Hour {
		t.Fatalf("P1 targets %+v", p1)
	}
	if bh := c.Cases.SLA.BusinessHours; bh == nil || bh.Timezone != "Europe/Berlin" || len(bh.Days) != 5 {
		t.Fatalf("business hours %+v", bh)
	}
	if e := c.Cases.SLA.Escalation; len(e) != 2 || e[1].Level != "soc_manager" || time.Duration(e[1].After) != 2*time.Hour {
		t.Fatalf("escalation %+v", e)
	}
}

func TestCasesSectionErrors(t *testing.T) {
	for name, tc := range map[string]struct{ file, want string }{
		"unknown key":        {"cases:\n  grouping:\n    windw: 1h\n", "field windw not found"},
		"zero window":        {"cases:\n  grouping:\n    window: 0s\n", "cases.grouping.window: must be positive"},
		"negative dedup":     {"cases:\n  grouping:\n    dedup_window: -1m\n", "cases.grouping.dedup_window"},
		"bad entity kind":    {"cases:\n  grouping:\n    across_rules: [hostname]\n", `cases.grouping.across_rules: "hostname"`},
		"bad priority":       {"cases:\n  sla:\n    targets:\n      P5: {acknowledge: 1h}\n", "cases.sla.targets.P5: unknown priority"},
		"negative target":    {"cases:\n  sla:\n    targets:\n      P2: {contain: -1h}\n", "cases.sla.targets.P2.contain"},
		"resolve too soon":   {"cases:\n  sla:\n    targets:\n      P2: {contain: 8h, resolve: 1h}\n", "resolve (1h0m0s) is shorter than contain"},
		"bad duration":       {"cases:\n  sla:\n    targets:\n      P2: {contain: soon}\n", `"soon" is not a duration`},
		"unknown zone":       {"cases:\n  sla:\n    business_hours: {timezone: Mars/Olympus, days: [mon], start: \"08:00\", end: \"17:00\"}\n", "cases.sla.business_hours.timezone"},
		"bad day":            {"cases:\n  sla:\n    business_hours: {timezone: UTC, days: [funday], start: \"08:00\", end: \"17:00\"}\n", `cases.sla.business_hours.days: "funday"`},
		"no days":            {"cases:\n  sla:\n    business_hours: {timezone: UTC, start: \"08:00\", end: \"17:00\"}\n", "cases.sla.business_hours.days: name at least one day"},
		"bad time":           {"cases:\n  sla:\n    business_hours: {timezone: UTC, days: [mon], start: \"8am\", end: \"17:00\"}\n", "cases.sla.business_hours.start"},
		"end before start":   {"cases:\n  sla:\n    business_hours: {timezone: UTC, days: [mon], start: \"17:00\", end: \"08:00\"}\n", "end 08:00 is not after start 17:00"},
		"escalation level":   {"cases:\n  sla:\n    escalation:\n      - {after: 1h}\n", "cases.sla.escalation[0].level: required"},
		"escalation order":   {"cases:\n  sla:\n    escalation:\n      - {level: a, after: 2h}\n      - {level: b, after: 1h}\n", "cases.sla.escalation[1].after"},
		"escalation unknown": {"cases:\n  sla:\n    escalation:\n      - {level: a, when: 1h}\n", "field when not found"},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := Load(write(t, tc.file), nil)
			if err == nil {
				err = c.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
	// Structured keys cannot come from the environment, and say so.
	if _, err := Load("", []string{"WACHT_CASES_SLA_ESCALATION=a"}); err == nil || !strings.Contains(err.Error(), "cannot be set from the environment") {
		t.Fatalf("escalation from the environment: %v", err)
	}
}
