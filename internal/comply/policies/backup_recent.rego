# Every backup target had a successful run within max_age_days.
package wacht.checks.backup_recent

import data.wacht.lib

max_days := lib.param("max_age_days", 7)

last(b) := object.get(b, "last_success", "")

default fresh(_) := false

fresh(b) if {
	last(b) != ""
	lib.hours_since(last(b)) <= max_days * 24
}

results contains lib.error("backup records not available") if not is_array(object.get(input, ["facts", "backups"], null))

results contains lib.not_applicable("no backup target reported") if {
	is_array(input.facts.backups)
	count(input.facts.backups) == 0
}

results contains r if {
	some b in input.facts.backups
	r := lib.judge(b.target, fresh(b), {"last_success": last(b), "max_age_days": max_days},
		"recent successful backup", sprintf("no successful backup in %d days", [max_days]))
}
