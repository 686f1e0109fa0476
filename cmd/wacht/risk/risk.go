// Package risk is `wacht risk`: the riskiest entities with the
// contributions that made their scores, and an incident's calibrated
// likelihood with its reasons.
package risk

import (
	"fmt"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/cmd/wacht/entities"
	"github.com/wacht-soc/wacht/internal/ueba"
)

// NewCommand returns `wacht risk`.
func NewCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "risk", Short: "Entity risk and incident likelihood"}
	cmd.AddCommand(entities.TopCommand(g), likelihoodCommand(g))
	return cmd
}

func likelihoodCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "likelihood INCIDENT",
		Short: "The probability that an incident is real, with its reasons and the model's calibration",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var l ueba.Likelihood
			if done, err := entities.Get(cmd, g, "/api/v1/risk/incidents/"+url.PathEscape(args[0])+"/likelihood", &l); done || err != nil {
				return err
			}
			fmt.Printf("incident %s: %.1f%% (%s, %d labelled cases, %d true)\n", l.IncidentID, 100*l.Probability, l.Method, l.Labelled, l.Positives)
			fmt.Printf("calibration: Brier %.3f, ECE %.3f over %d cases\n", l.Calibration.Brier, l.Calibration.ECE, l.Calibration.N)
			for _, r := range l.Reasons {
				detail := ""
				if r.Detail != "" {
					detail = "  " + r.Detail
				}
				fmt.Printf("  %-14s value %-8.3g effect %+.3f%s\n", r.Feature, r.Value, r.Effect, detail)
			}
			return nil
		},
	}
	g.ServerFlags(cmd)
	return cmd
}
