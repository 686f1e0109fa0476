# Incidents created in the last window_days were acknowledged within their
# SLA. An incident still inside its SLA is not judged yet.
package wacht.checks.incidents_ack_within_sla

import data.wacht.lib

window_days := lib.param("window_days", 90)

in_window(i) if lib.hours_since(i.created) <= window_days * 24

judged contains i if {
	some i in input.facts.incidents
	i.ack_due != ""
	in_window(i)
	i.acknowledged != ""
}

judged contains i if {
	some i in input.facts.incidents
	i.ack_due != ""
	in_window(i)
	object.get(i, "acknowledged", "") == ""
	lib.past(i.ack_due)
}

default in_time(_) := false

in_time(i) if lib.before(i.acknowledged, i.ack_due)

results contains lib.error("incidents not available") if not is_array(object.get(input, ["facts", "incidents"], null))

results contains lib.not_applicable("no incident with an acknowledgement SLA in the window") if {
	is_array(input.facts.incidents)
	count(judged) == 0
}

results contains r if {
	some i in judged
	ack := object.get(i, "acknowledged", "")
	r := lib.judge(i.id, in_time(i), {"priority": i.priority, "acknowledged": ack, "ack_due": i.ack_due},
		"acknowledged within SLA",
		"acknowledgement SLA missed")
}
