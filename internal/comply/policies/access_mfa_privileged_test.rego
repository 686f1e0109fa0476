package wacht.checks.access_mfa_privileged_test

import data.wacht.checks.access_mfa_privileged as check

test_pass if {
	r := check.results with input as {"at": "2026-03-01T00:00:00Z", "facts": {"accounts": [{"id": "u1", "name": "alice", "role": "admin", "privileged": true, "mfa": true, "disabled": false}]}}
	r == {{"subject": "u1", "status": "pass", "observed": {"name": "alice", "role": "admin", "mfa": true}, "reason": "second factor enrolled"}}
}

test_fail if {
	r := check.results with input as {"at": "2026-03-01T00:00:00Z", "facts": {"accounts": [
		{"id": "u1", "name": "alice", "role": "admin", "privileged": true, "mfa": false, "disabled": false},
		{"id": "u2", "name": "old", "role": "admin", "privileged": true, "mfa": false, "disabled": true},
	]}}
	{x.subject: x.status | some x in r} == {"u1": "fail"}
}

test_not_applicable if {
	r := check.results with input as {"at": "2026-03-01T00:00:00Z", "facts": {"accounts": [{"id": "u3", "name": "rita", "role": "security-analyst", "privileged": false, "mfa": false, "disabled": false}]}}
	[x.status | some x in r] == ["not_applicable"]
}

test_error if {
	r := check.results with input as {"at": "2026-03-01T00:00:00Z", "facts": {}}
	[x.status | some x in r] == ["error"]
}
