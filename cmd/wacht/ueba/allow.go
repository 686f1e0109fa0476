package ueba

import (
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/internal/ueba"
)

// allowCommand is `wacht ueba allow`: the allow-list of a running server.
func allowCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "allow", Short: "Allow-list entities for a detector (or all) with a reason and an expiry"}
	var detector, reason string
	var expires time.Duration
	add := &cobra.Command{
		Use:   "add KIND VALUE --reason TEXT --for DURATION [--detector NAME]",
		Short: "Exempt an entity (host, user, ip …): its anomalies are recorded but add no risk",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, err := ueba.ParseEntityKind(args[0])
			if err != nil {
				return err
			}
			in := map[string]any{"entity": ueba.Entity{Kind: kind, Value: args[1]}, "reason": reason,
				"expires_at": time.Now().Add(expires).UTC()}
			if detector != "" {
				in["detector"] = detector
			}
			var e ueba.AllowEntry
			if err := g.Call(cmd.Context(), "POST", "/api/v1/anomalies/allowlist", in, &e); err != nil || g.JSON {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s until %s\n", e.ID, e.Entity, e.ExpiresAt.Format(time.RFC3339))
			return nil
		},
	}
	g.ServerFlags(add)
	add.Flags().StringVar(&reason, "reason", "", "why (required)")
	add.Flags().DurationVar(&expires, "for", 30*24*time.Hour, "how long (at most 366 days)")
	add.Flags().StringVar(&detector, "detector", "", "one detector (default: all)")
	list := &cobra.Command{
		Use: "list", Short: "List the entries in force", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Entries []ueba.AllowEntry `json:"entries"`
			}
			if err := g.Call(cmd.Context(), "GET", "/api/v1/anomalies/allowlist", nil, &out); err != nil || g.JSON {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tENTITY\tDETECTOR\tEXPIRES\tBY\tREASON")
			for _, e := range out.Entries {
				det := "all"
				if e.Detector != 0 {
					det = e.Detector.String()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.Entity, det, e.ExpiresAt.Format(time.RFC3339), e.CreatedBy, strings.ReplaceAll(e.Reason, "\t", " "))
			}
			return tw.Flush()
		},
	}
	g.ServerFlags(list)
	rm := &cobra.Command{
		Use: "rm ID", Short: "Remove an entry", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.Call(cmd.Context(), "DELETE", "/api/v1/anomalies/allowlist/"+url.PathEscape(args[0]), nil, nil)
		},
	}
	g.ServerFlags(rm)
	cmd.AddCommand(add, list, rm)
	return cmd
}
