package wacht.checks.detection_attack_coverage_test

import data.wacht.checks.detection_attack_coverage as check

test_pass if {
	r := check.results with input as {"at": "2026-03-01T00:00:00Z", "params": {"tactics": ["execution"]}, "facts": {"coverage": [{"tactic": "execution", "rules": 4, "techniques": 3}]}}
	r == {{"subject": "execution", "status": "pass", "observed": {"rules": 4, "min_rules": 1}, "reason": "4 rules"}}
}

test_fail if {
	r := check.results with input as {"at": "2026-03-01T00:00:00Z", "facts": {"coverage": [{"tactic": "execution", "rules": 4, "techniques": 3}]}}
	count(r) == 12
	count([x | some x in r; x.status == "fail"]) == 11
}

test_not_applicable if {
	r := check.results with input as {"at": "2026-03-01T00:00:00Z", "params": {"tactics": []}, "facts": {"coverage": []}}
	[x.status | some x in r] == ["not_applicable"]
}

test_error if {
	r := check.results with input as {"at": "2026-03-01T00:00:00Z", "facts": {}}
	[x.status | some x in r] == ["error"]
}
