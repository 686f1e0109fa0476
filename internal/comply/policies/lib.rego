# Helpers shared by wacht's checks. Every check reads input.at (RFC 3339),
# never the wall clock, so that the same facts give the same results and
# history can be re-evaluated.
package wacht.lib

at_ns := time.parse_rfc3339_ns(input.at)

# param returns the tenant's value for a check parameter or the default.
param(name, def) := object.get(object.get(input, "params", {}), name, def)

# hours_since is the whole hours between ts and the evaluation time.
hours_since(ts) := floor((at_ns - time.parse_rfc3339_ns(ts)) / 3600000000000)

# before reports whether RFC 3339 time a is not after b.
before(a, b) if time.parse_rfc3339_ns(a) <= time.parse_rfc3339_ns(b)

# past reports whether ts lies before the evaluation time.
past(ts) if time.parse_rfc3339_ns(ts) < at_ns

error(reason) := {"subject": "*", "status": "error", "observed": {}, "reason": reason}

not_applicable(reason) := {"subject": "*", "status": "not_applicable", "observed": {}, "reason": reason}

judge(subject, ok, observed, pass_reason, _) := {"subject": subject, "status": "pass", "observed": observed, "reason": pass_reason} if ok

judge(subject, ok, observed, _, fail_reason) := {"subject": subject, "status": "fail", "observed": observed, "reason": fail_reason} if not ok
