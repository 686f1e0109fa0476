package wacht.checks.backup_recent_test

import data.wacht.checks.backup_recent as check

at := "2026-03-10T00:00:00Z"

test_pass if {
	r := check.results with input as {"at": at, "facts": {"backups": [{"target": "state-db", "last_success": "2026-03-09T00:00:00Z"}]}}
	[x.status | some x in r] == ["pass"]
}

test_fail if {
	r := check.results with input as {"at": at, "facts": {"backups": [{"target": "state-db", "last_success": "2026-02-01T00:00:00Z"}, {"target": "events"}]}}
	{x.subject: x.status | some x in r} == {"state-db": "fail", "events": "fail"}
}

test_not_applicable if {
	r := check.results with input as {"at": at, "facts": {"backups": []}}
	[x.status | some x in r] == ["not_applicable"]
}

test_error if {
	r := check.results with input as {"at": at, "facts": {}}
	[x.status | some x in r] == ["error"]
}
