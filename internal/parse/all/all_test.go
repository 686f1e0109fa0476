package all_test

import (
	"testing"

	"github.com/wacht-soc/wacht/internal/parse"
	_ "github.com/wacht-soc/wacht/internal/parse/all"
)

func TestAllRegistered(t *testing.T) {
	for _, name := range []string{"rfc5424", "rfc3164", "syslog", "json", "winlog", "cef", "leef", "kv", "auditd", "cloudtrail", "okta", "azuread", "gcpaudit", "githubaudit", "suricata", "evtx", "zeek", "zeekjson", "w3c", "accesslog"} {
		if _, ok := parse.Lookup(name); !ok {
			t.Errorf("%s not registered", name)
		}
	}
}
