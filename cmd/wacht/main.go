// Command wacht is the Security Operations platform: collect, store, search
// and detect, in one binary. See `wacht help`.
package main

import (
	"os"

	"github.com/wacht-soc/wacht/cmd/wacht/backup"
	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/cmd/wacht/configcmd"
	"github.com/wacht-soc/wacht/cmd/wacht/demo"
	"github.com/wacht-soc/wacht/cmd/wacht/hunt"
	"github.com/wacht-soc/wacht/cmd/wacht/migrate"
	"github.com/wacht-soc/wacht/cmd/wacht/serve"
	"github.com/wacht-soc/wacht/cmd/wacht/status"
	"github.com/wacht-soc/wacht/cmd/wacht/storecmd"
	"github.com/wacht-soc/wacht/cmd/wacht/token"
)

func main() {
	g := cli.NewGlobals()
	root := g.Root()
	root.AddCommand(
		serve.NewCommand(g),
		demo.NewCommand(g),
		hunt.NewCommand(g),
		token.NewCommand(g),
		status.NewCommand(g),
		configcmd.NewCommand(g),
		migrate.NewCommand(g),
		backup.NewCommand(g),
		storecmd.NewCommand(g),
	)
	os.Exit(cli.Execute(root))
}
