// Package all registers every format parser by importing it; the binary's
// wiring imports this package once.
package all

import (
	_ "github.com/wacht-soc/wacht/internal/parse/accesslog"
	_ "github.com/wacht-soc/wacht/internal/parse/auditd"
	_ "github.com/wacht-soc/wacht/internal/parse/auto"
	_ "github.com/wacht-soc/wacht/internal/parse/azuread"
	_ "github.com/wacht-soc/wacht/internal/parse/cef"
	_ "github.com/wacht-soc/wacht/internal/parse/cloudtrail"
	_ "github.com/wacht-soc/wacht/internal/parse/evtx"
	_ "github.com/wacht-soc/wacht/internal/parse/gcpaudit"
	_ "github.com/wacht-soc/wacht/internal/parse/githubaudit"
	_ "github.com/wacht-soc/wacht/internal/parse/json"
	_ "github.com/wacht-soc/wacht/internal/parse/kv"
	_ "github.com/wacht-soc/wacht/internal/parse/leef"
	_ "github.com/wacht-soc/wacht/internal/parse/okta"
	_ "github.com/wacht-soc/wacht/internal/parse/rfc3164"
	_ "github.com/wacht-soc/wacht/internal/parse/rfc5424"
	_ "github.com/wacht-soc/wacht/internal/parse/suricata"
	_ "github.com/wacht-soc/wacht/internal/parse/syslog"
	_ "github.com/wacht-soc/wacht/internal/parse/w3c"
	_ "github.com/wacht-soc/wacht/internal/parse/winlog"
	_ "github.com/wacht-soc/wacht/internal/parse/zeek"
)
