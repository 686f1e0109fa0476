package wacht.checks.logging_critical_assets_test

import data.wacht.checks.logging_critical_assets as check

at := "2026-03-01T12:00:00Z"

test_pass if {
	r := check.results with input as {"at": at, "facts": {"assets": [{"id": "a1", "name": "dc01", "critical": true, "last_event": "2026-03-01T10:00:00Z"}]}}
	r == {{"subject": "a1", "status": "pass", "observed": {"name": "dc01", "last_event": "2026-03-01T10:00:00Z", "hours_silent": 2, "max_hours": 24}, "reason": "sent events within the limit"}}
}

test_fail if {
	r := check.results with input as {"at": at, "facts": {"assets": [
		{"id": "a1", "name": "dc01", "critical": true, "last_event": "2026-02-27T10:00:00Z"},
		{"id": "a2", "name": "fw", "critical": true, "last_event": ""},
		{"id": "a3", "name": "laptop", "critical": false, "last_event": ""},
	]}}
	[x.status | some x in r] == ["fail", "fail"]
	some x in r
	x.subject == "a2"
	x.reason == "never sent events"
}

test_param_override if {
	r := check.results with input as {"at": at, "params": {"max_silence_hours": 1}, "facts": {"assets": [{"id": "a1", "name": "dc01", "critical": true, "last_event": "2026-03-01T10:00:00Z"}]}}
	[x.status | some x in r] == ["fail"]
}

test_not_applicable if {
	r := check.results with input as {"at": at, "facts": {"assets": [{"id": "a3", "name": "laptop", "critical": false, "last_event": ""}]}}
	[x.status | some x in r] == ["not_applicable"]
}

test_error if {
	r := check.results with input as {"at": at, "facts": {"assets": null}}
	[x.status | some x in r] == ["error"]
}
