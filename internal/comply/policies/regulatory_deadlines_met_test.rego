package wacht.checks.regulatory_deadlines_met_test

import data.wacht.checks.regulatory_deadlines_met as check

at := "2026-03-05T00:00:00Z"

test_pass if {
	r := check.results with input as {"at": at, "facts": {"deadlines": [{"incident": "i1", "regime": "gdpr", "stage": "authority_notification", "due": "2026-03-04T00:00:00Z", "submitted": "2026-03-03T00:00:00Z"}]}}
	[x.status | some x in r] == ["pass"]
	[x.subject | some x in r] == ["i1/gdpr/authority_notification"]
}

test_fail if {
	r := check.results with input as {"at": at, "facts": {"deadlines": [
		{"incident": "i1", "regime": "nis2", "stage": "early_warning", "due": "2026-03-01T00:00:00Z", "submitted": "2026-03-02T00:00:00Z"},
		{"incident": "i2", "regime": "nis2", "stage": "early_warning", "due": "2026-03-01T00:00:00Z"},
		{"incident": "i3", "regime": "nis2", "stage": "final_report", "due": "2026-04-01T00:00:00Z"},
	]}}
	{x.subject: x.status | some x in r} == {"i1/nis2/early_warning": "fail", "i2/nis2/early_warning": "fail"}
}

test_not_applicable if {
	r := check.results with input as {"at": at, "facts": {"deadlines": []}}
	[x.status | some x in r] == ["not_applicable"]
}

test_error if {
	r := check.results with input as {"at": at, "facts": {}}
	[x.status | some x in r] == ["error"]
}
