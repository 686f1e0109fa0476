// Package storecmd is `wacht store`: move an installation's state between
// backends (`wacht store copy --from sqlite:PATH --to postgres://…`).
package storecmd

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	_ "github.com/wacht-soc/wacht/internal/app" // registers every domain's migrations
	"github.com/wacht-soc/wacht/internal/config"
	"github.com/wacht-soc/wacht/internal/store"
)

// NewCommand returns `wacht store`.
func NewCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "store", Short: "State database tools"}
	var from, to string
	cp := &cobra.Command{
		Use:   "copy --from sqlite:PATH --to postgres://…",
		Short: "Copy every table to another backend, verified by row counts and checksums",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" || to == "" {
				return fmt.Errorf("--from and --to are required")
			}
			src, err := store.ParseURL(from)
			if err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			dst, err := store.ParseURL(to)
			if err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			fmt.Fprintf(os.Stderr, "copying %s → %s\n", src, dst)
			reports, err := store.Copy(cmd.Context(), src, dst, cli.Logger(config.Default()))
			if err != nil {
				return err
			}
			if g.JSON {
				return json.NewEncoder(os.Stdout).Encode(reports)
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TABLE\tROWS\tCHECKSUM")
			for _, r := range reports {
				fmt.Fprintf(tw, "%s\t%d\t%s\n", r.Table, r.Rows, r.Checksum)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintln(os.Stderr, "copy verified: row counts and checksums match")
			return nil
		},
	}
	cp.Flags().StringVar(&from, "from", "", "source: sqlite:PATH or postgres://…")
	cp.Flags().StringVar(&to, "to", "", "destination: sqlite:PATH or postgres://… (tables must be empty)")
	cmd.AddCommand(cp)
	return cmd
}
