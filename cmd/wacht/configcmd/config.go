// Package configcmd is `wacht config`: check and show the configuration.
package configcmd

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/internal/store"
)

// NewCommand returns `wacht config`.
func NewCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Check or show the configuration"}
	check := &cobra.Command{
		Use:   "check",
		Short: "Validate the configuration file and environment and print the result",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.Config()
			if err != nil {
				return err
			}
			cfg.State.DSN = store.RedactDSN(cfg.State.DSN)
			b, err := yaml.Marshal(cfg)
			if err != nil {
				return err
			}
			fmt.Fprintln(os.Stderr, "configuration is valid")
			_, err = os.Stdout.Write(b)
			return err
		},
	}
	g.DataFlag(check)
	cmd.AddCommand(check)
	return cmd
}
