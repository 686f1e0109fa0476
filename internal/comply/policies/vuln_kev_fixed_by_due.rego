# Findings of known exploited vulnerabilities (CISA KEV) were fixed by
# their due date; an open one passes only while it is not yet due.
package wacht.checks.vuln_kev_fixed_by_due

import data.wacht.lib

kev contains f if {
	some f in input.facts.findings
	f.kev
	object.get(f, "due", "") != ""
}

fixed(f) := object.get(f, "fixed_at", "")

default ok(_) := false

ok(f) if {
	fixed(f) != ""
	lib.before(fixed(f), f.due)
}

ok(f) if {
	fixed(f) == ""
	not lib.past(f.due)
}

results contains lib.error("vulnerability findings not available") if not is_array(object.get(input, ["facts", "findings"], null))

results contains lib.not_applicable("no KEV finding with a due date") if {
	is_array(input.facts.findings)
	count(kev) == 0
}

results contains r if {
	some f in kev
	r := lib.judge(f.id, ok(f), {"asset": f.asset, "vuln": f.vuln, "state": f.state, "due": f.due, "fixed_at": fixed(f)},
		"fixed or not yet due", "not fixed by its due date")
}
