# Each required ATT&CK tactic is covered by at least min_rules loaded rules.
package wacht.checks.detection_attack_coverage

import data.wacht.lib

default_tactics := [
	"initial-access", "execution", "persistence", "privilege-escalation", "defense-evasion",
	"credential-access", "discovery", "lateral-movement", "collection", "command-and-control",
	"exfiltration", "impact",
]

tactics := lib.param("tactics", default_tactics)

min_rules := lib.param("min_rules", 1)

rules_for(t) := n if {
	some c in input.facts.coverage
	c.tactic == t
	n := c.rules
}

else := 0

results contains lib.error("detection coverage not available") if not is_array(object.get(input, ["facts", "coverage"], null))

results contains lib.not_applicable("no tactics required") if {
	is_array(input.facts.coverage)
	count(tactics) == 0
}

results contains r if {
	is_array(input.facts.coverage)
	some t in tactics
	n := rules_for(t)
	r := lib.judge(t, n >= min_rules, {"rules": n, "min_rules": min_rules},
		sprintf("%d rules", [n]),
		sprintf("%d rules, want at least %d", [n, min_rules]))
}
