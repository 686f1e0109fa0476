# Every critical asset sent events within the last max_silence_hours.
package wacht.checks.logging_critical_assets

import data.wacht.lib

max_hours := lib.param("max_silence_hours", 24)

critical := [a | some a in input.facts.assets; a.critical]

results contains lib.error("asset inventory not available") if not is_array(object.get(input, ["facts", "assets"], null))

results contains lib.not_applicable("no critical assets in the inventory") if {
	is_array(input.facts.assets)
	count(critical) == 0
}

results contains r if {
	some a in critical
	a.last_event == ""
	r := lib.judge(a.id, false, {"name": a.name, "last_event": null, "max_hours": max_hours}, "", "never sent events")
}

# Pass and fail are separate rules so that the reason is formatted only
# for failing subjects (this check runs over every asset).
results contains r if {
	some a in critical
	a.last_event != ""
	h := lib.hours_since(a.last_event)
	h <= max_hours
	r := {"subject": a.id, "status": "pass", "observed": {"name": a.name, "last_event": a.last_event, "hours_silent": h, "max_hours": max_hours}, "reason": "sent events within the limit"}
}

results contains r if {
	some a in critical
	a.last_event != ""
	h := lib.hours_since(a.last_event)
	h > max_hours
	r := {"subject": a.id, "status": "fail", "observed": {"name": a.name, "last_event": a.last_event, "hours_silent": h, "max_hours": max_hours}, "reason": sprintf("silent for %d h (allowed %d h)", [h, max_hours])}
}
