# The audit trail verifies: hash chain intact, checkpoints signed and
# consistent with the records.
package wacht.checks.audit_log_verifies

import data.wacht.lib

results contains lib.error("audit trail verification not available") if not is_object(object.get(input, ["facts", "audit"], null))

results contains r if {
	a := input.facts.audit
	is_object(a)
	r := lib.judge("audit-log", a.verified, {"records": a.records, "latest_checkpoint": a.latest_checkpoint, "broken": object.get(a, "broken", "")},
		sprintf("%d records verified", [a.records]),
		sprintf("broken: %s", [object.get(a, "broken", "unknown")]))
}
