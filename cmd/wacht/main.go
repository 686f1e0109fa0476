// Command wacht is the Security Operations platform: collect, store, search
// and detect, in one binary. See `wacht help`.
package main

import (
	"github.com/wacht-soc/wacht/cmd/wacht/assets"
	"github.com/wacht-soc/wacht/cmd/wacht/attack"
	"github.com/wacht-soc/wacht/cmd/wacht/cases"
	"github.com/wacht-soc/wacht/cmd/wacht/compliance"
	"github.com/wacht-soc/wacht/cmd/wacht/intel"
	"github.com/wacht-soc/wacht/cmd/wacht/playbooks"
	"github.com/wacht-soc/wacht/cmd/wacht/rules"
	"github.com/wacht-soc/wacht/cmd/wacht/scan"
	"github.com/wacht-soc/wacht/cmd/wacht/vuln"
	"os"

	auditcmd "github.com/wacht-soc/wacht/cmd/wacht/audit"
	"github.com/wacht-soc/wacht/cmd/wacht/backup"
	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/cmd/wacht/configcmd"
	"github.com/wacht-soc/wacht/cmd/wacht/demo"
	"github.com/wacht-soc/wacht/cmd/wacht/entities"
	"github.com/wacht-soc/wacht/cmd/wacht/hunt"
	"github.com/wacht-soc/wacht/cmd/wacht/ingest"
	"github.com/wacht-soc/wacht/cmd/wacht/migrate"
	"github.com/wacht-soc/wacht/cmd/wacht/parsecmd"
	"github.com/wacht-soc/wacht/cmd/wacht/pki"
	"github.com/wacht-soc/wacht/cmd/wacht/risk"
	"github.com/wacht-soc/wacht/cmd/wacht/serve"
	"github.com/wacht-soc/wacht/cmd/wacht/sim"
	"github.com/wacht-soc/wacht/cmd/wacht/status"
	"github.com/wacht-soc/wacht/cmd/wacht/storecmd"
	"github.com/wacht-soc/wacht/cmd/wacht/token"
	uebacmd "github.com/wacht-soc/wacht/cmd/wacht/ueba"
	"github.com/wacht-soc/wacht/cmd/wacht/users"
)

func main() {
	g := cli.NewGlobals()
	root := g.Root()
	root.AddCommand(
		serve.NewCommand(g),
		demo.NewCommand(g),
		hunt.NewCommand(g),
		ingest.NewCommand(g),
		parsecmd.NewCommand(g),
		token.NewCommand(g),
		status.NewCommand(g),
		configcmd.NewCommand(g),
		migrate.NewCommand(g),
		backup.NewCommand(g),
		storecmd.NewCommand(g),
		users.NewCommand(g),
		auditcmd.NewCommand(g),
		pki.NewCommand(g),
		entities.NewCommand(g),
		uebacmd.NewCommand(g),
		risk.NewCommand(g),
		sim.NewCommand(g),
		cases.NewCommand(g),
		cases.NewAlertsCommand(g),
		rules.NewCommand(g),
		scan.NewCommand(g),
		intel.NewCommand(g),
		attack.NewCommand(g),
		vuln.NewCommand(g),
		assets.NewCommand(g),
		playbooks.NewCommand(g),
		compliance.NewCommand(g),
		compliance.NewEvidenceCommand(g),
	)
	os.Exit(cli.Execute(root))
}
