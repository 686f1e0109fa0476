# Regulatory notifications (NIS2 Art. 23, GDPR Art. 33/34, DORA) were
# submitted by their due time. A stage not yet due is not judged.
package wacht.checks.regulatory_deadlines_met

import data.wacht.lib

subject(d) := sprintf("%s/%s/%s", [d.incident, d.regime, d.stage])

judged contains d if {
	some d in input.facts.deadlines
	object.get(d, "submitted", "") != ""
}

judged contains d if {
	some d in input.facts.deadlines
	object.get(d, "submitted", "") == ""
	lib.past(d.due)
}

default in_time(_) := false

in_time(d) if lib.before(d.submitted, d.due)

results contains lib.error("regulatory deadlines not available") if not is_array(object.get(input, ["facts", "deadlines"], null))

results contains lib.not_applicable("no regulatory notification due") if {
	is_array(input.facts.deadlines)
	count(judged) == 0
}

results contains r if {
	some d in judged
	r := lib.judge(subject(d), in_time(d),
		{"regime": d.regime, "stage": d.stage, "due": d.due, "submitted": object.get(d, "submitted", "")},
		"submitted in time", "deadline missed")
}
