package wacht.checks.audit_log_verifies_test

import data.wacht.checks.audit_log_verifies as check

test_pass if {
	r := check.results with input as {"at": "2026-03-01T00:00:00Z", "facts": {"audit": {"verified": true, "records": 10, "latest_checkpoint": 10}}}
	[x.status | some x in r] == ["pass"]
}

test_fail if {
	r := check.results with input as {"at": "2026-03-01T00:00:00Z", "facts": {"audit": {"verified": false, "records": 10, "latest_checkpoint": 8, "broken": "record 3: hash mismatch"}}}
	[x.reason | some x in r] == ["broken: record 3: hash mismatch"]
}

# The audit trail always applies: there is no not-applicable case, so the
# fixture checks that an empty log still yields a judgement, never N/A.
test_not_applicable if {
	r := check.results with input as {"at": "2026-03-01T00:00:00Z", "facts": {"audit": {"verified": true, "records": 0, "latest_checkpoint": 0}}}
	[x.status | some x in r] == ["pass"]
}

test_error if {
	r := check.results with input as {"at": "2026-03-01T00:00:00Z", "facts": {"audit": null}}
	[x.status | some x in r] == ["error"]
}
