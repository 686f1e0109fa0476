# Every enabled privileged account uses a second factor.
package wacht.checks.access_mfa_privileged

import data.wacht.lib

privileged contains a if {
	some a in input.facts.accounts
	a.privileged
	not a.disabled
}

results contains lib.error("accounts not available") if not is_array(object.get(input, ["facts", "accounts"], null))

results contains lib.not_applicable("no enabled privileged account") if {
	is_array(input.facts.accounts)
	count(privileged) == 0
}

results contains r if {
	some a in privileged
	r := lib.judge(a.id, a.mfa, {"name": a.name, "role": a.role, "mfa": a.mfa}, "second factor enrolled", "no second factor")
}
