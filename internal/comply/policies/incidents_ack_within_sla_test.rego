package wacht.checks.incidents_ack_within_sla_test

import data.wacht.checks.incidents_ack_within_sla as check

at := "2026-03-01T12:00:00Z"

test_pass if {
	r := check.results with input as {"at": at, "facts": {"incidents": [{"id": "i1", "priority": "P1", "created": "2026-03-01T08:00:00Z", "acknowledged": "2026-03-01T08:10:00Z", "ack_due": "2026-03-01T08:15:00Z"}]}}
	[x.status | some x in r] == ["pass"]
}

test_fail if {
	r := check.results with input as {"at": at, "facts": {"incidents": [
		{"id": "i1", "priority": "P1", "created": "2026-03-01T08:00:00Z", "acknowledged": "2026-03-01T09:00:00Z", "ack_due": "2026-03-01T08:15:00Z"},
		{"id": "i2", "priority": "P2", "created": "2026-03-01T08:00:00Z", "ack_due": "2026-03-01T09:00:00Z"},
		{"id": "i3", "priority": "P3", "created": "2026-03-01T11:00:00Z", "ack_due": "2026-03-01T15:00:00Z"},
	]}}
	{x.subject: x.status | some x in r} == {"i1": "fail", "i2": "fail"}
}

test_not_applicable if {
	r := check.results with input as {"at": at, "facts": {"incidents": [{"id": "old", "priority": "P1", "created": "2025-01-01T08:00:00Z", "ack_due": "2025-01-01T09:00:00Z"}]}}
	[x.status | some x in r] == ["not_applicable"]
}

test_error if {
	r := check.results with input as {"at": at, "facts": {"incidents": null}}
	[x.status | some x in r] == ["error"]
}
