package cases

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Risk-based priority. An alert's score (0-100) adds four factors, each
// shown in the explanation:
//
//   - rule level: the detection's own judgement (informational 10 …
//     critical 70);
//   - asset criticality (1-5): a crown jewel matters more than a kiosk;
//   - indicator confidence (0-100): how sure threat intel is of a match;
//   - ATT&CK tactic stage: the later in the kill chain, the closer the
//     attacker is to the objective (impact, exfiltration score highest).
//
// An incident takes the highest score of its alerts. Priority bands:
// P1 ≥ 80, P2 ≥ 60, P3 ≥ 35, else P4.

// tacticStage places each ATT&CK Enterprise tactic in the attack's
// progression (1 early … 14 objective).
func tacticStage(tactic string) int {
	switch tactic {
	case "reconnaissance":
		return 1
	case "resource_development":
		return 2
	case "initial_access":
		return 3
	case "execution":
		return 4
	case "persistence":
		return 5
	case "privilege_escalation":
		return 6
	case "defense_evasion":
		return 7
	case "credential_access":
		return 8
	case "discovery":
		return 9
	case "lateral_movement":
		return 10
	case "collection":
		return 11
	case "command_and_control":
		return 12
	case "exfiltration":
		return 13
	case "impact":
		return 14
	}
	return 0
}

var techniqueID = regexp.MustCompile(`^[Tt]\d{4}(\.\d{3})?$`)

// normalizeAttack turns Sigma tags and loose spellings into technique ids
// (T1059.001) and tactic names (lateral_movement), sorted and unique.
func normalizeAttack(tags []string) []string {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		t = strings.TrimSpace(t)
		t = strings.TrimPrefix(strings.TrimPrefix(t, "attack."), "ATTACK.")
		if t == "" {
			continue
		}
		if techniqueID.MatchString(t) {
			out = append(out, strings.ToUpper(t))
			continue
		}
		t = strings.ToLower(strings.NewReplacer("-", "_", " ", "_").Replace(t))
		if tacticStage(t) > 0 {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func severityPoints(s Severity) int {
	switch s {
	case SevInformational:
		return 10
	case SevLow:
		return 25
	case SevMedium:
		return 40
	case SevHigh:
		return 55
	case SevCritical:
		return 70
	}
	return 25
}

// score computes an alert's risk score and its explanation.
func score(sev Severity, assetCriticality, indicatorConfidence int, attack []string) (int, []ScoreFactor) {
	var fs []ScoreFactor
	total := severityPoints(sev)
	fs = append(fs, ScoreFactor{Factor: "rule_level", Value: string(sev), Points: total})
	if assetCriticality > 0 {
		c := min(assetCriticality, 5)
		p := (c - 3) * 5 // 1 → -10, 3 → 0, 5 → +10
		total += p
		fs = append(fs, ScoreFactor{Factor: "asset_criticality", Value: strconv.Itoa(c) + "/5", Points: p})
	} else {
		fs = append(fs, ScoreFactor{Factor: "asset_criticality", Value: "unknown", Points: 0})
	}
	if indicatorConfidence > 0 {
		c := min(indicatorConfidence, 100)
		p := c / 10 // up to +10
		total += p
		fs = append(fs, ScoreFactor{Factor: "indicator_confidence", Value: strconv.Itoa(c), Points: p})
	}
	stage, name := 0, ""
	for _, a := range attack {
		if s := tacticStage(a); s > stage {
			stage, name = s, a
		}
	}
	if stage > 0 {
		p := (stage*15 + 7) / 14 // 1 → 1 … 14 → 15
		total += p
		fs = append(fs, ScoreFactor{Factor: "attack_tactic_stage", Value: name + " (" + strconv.Itoa(stage) + "/14)", Points: p})
	}
	return max(0, min(100, total)), fs
}

// priorityOf maps a score to a priority band.
func priorityOf(score int) Priority {
	switch {
	case score >= 80:
		return P1
	case score >= 60:
		return P2
	case score >= 35:
		return P3
	}
	return P4
}
