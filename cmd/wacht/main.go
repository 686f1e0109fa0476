// Command wacht is the Security Operations platform: collect, store, search
// and detect, in one binary. See `wacht help`.
package main

import (
	"os"

	auditcmd "github.com/wacht-soc/wacht/cmd/wacht/audit"
	"github.com/wacht-soc/wacht/cmd/wacht/backup"
	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/cmd/wacht/configcmd"
	"github.com/wacht-soc/wacht/cmd/wacht/demo"
	"github.com/wacht-soc/wacht/cmd/wacht/hunt"
	"github.com/wacht-soc/wacht/cmd/wacht/ingest"
	"github.com/wacht-soc/wacht/cmd/wacht/migrate"
	"github.com/wacht-soc/wacht/cmd/wacht/pki"
	"github.com/wacht-soc/wacht/cmd/wacht/serve"
	"github.com/wacht-soc/wacht/cmd/wacht/status"
	"github.com/wacht-soc/wacht/cmd/wacht/storecmd"
	"github.com/wacht-soc/wacht/cmd/wacht/token"
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
		token.NewCommand(g),
		status.NewCommand(g),
		configcmd.NewCommand(g),
		migrate.NewCommand(g),
		backup.NewCommand(g),
		storecmd.NewCommand(g),
		users.NewCommand(g),
		auditcmd.NewCommand(g),
		pki.NewCommand(g),
	)
	os.Exit(cli.Execute(root))
}
