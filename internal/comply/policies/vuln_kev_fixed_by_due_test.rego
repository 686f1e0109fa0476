package wacht.checks.vuln_kev_fixed_by_due_test

import data.wacht.checks.vuln_kev_fixed_by_due as check

at := "2026-03-10T00:00:00Z"

test_pass if {
	r := check.results with input as {"at": at, "facts": {"findings": [
		{"id": "f1", "asset": "a", "vuln": "CVE-2024-1", "kev": true, "state": "fixed", "due": "2026-03-05T00:00:00Z", "fixed_at": "2026-03-04T00:00:00Z"},
		{"id": "f2", "asset": "a", "vuln": "CVE-2024-2", "kev": true, "state": "open", "due": "2026-03-20T00:00:00Z"},
	]}}
	{x.subject: x.status | some x in r} == {"f1": "pass", "f2": "pass"}
}

test_fail if {
	r := check.results with input as {"at": at, "facts": {"findings": [
		{"id": "f1", "asset": "a", "vuln": "CVE-2024-1", "kev": true, "state": "fixed", "due": "2026-03-05T00:00:00Z", "fixed_at": "2026-03-06T00:00:00Z"},
		{"id": "f2", "asset": "a", "vuln": "CVE-2024-2", "kev": true, "state": "open", "due": "2026-03-01T00:00:00Z"},
		{"id": "f3", "asset": "a", "vuln": "CVE-2024-3", "kev": false, "state": "open", "due": "2026-03-01T00:00:00Z"},
	]}}
	{x.subject: x.status | some x in r} == {"f1": "fail", "f2": "fail"}
}

test_not_applicable if {
	r := check.results with input as {"at": at, "facts": {"findings": [{"id": "f3", "asset": "a", "vuln": "CVE-2024-3", "kev": false, "state": "open"}]}}
	[x.status | some x in r] == ["not_applicable"]
}

test_error if {
	r := check.results with input as {"at": at, "facts": {"findings": null}}
	[x.status | some x in r] == ["error"]
}
