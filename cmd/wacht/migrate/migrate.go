// Package migrate is `wacht migrate`: show and apply state database
// migrations (they also apply automatically at start, under a lock, after
// a backup of a SQLite file).
package migrate

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	_ "github.com/wacht-soc/wacht/internal/app" // registers every domain's migrations
	"github.com/wacht-soc/wacht/internal/store"
)

// NewCommand returns `wacht migrate`.
func NewCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "migrate", Short: "Show or apply state database migrations"}
	status := &cobra.Command{
		Use:   "status",
		Short: "List every migration and whether it is applied",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.Config()
			if err != nil {
				return err
			}
			db, err := store.Open(cmd.Context(), store.Config{Driver: cfg.State.Driver, DSN: cfg.StateDSN()}, cli.Logger(cfg), store.WithoutMigrate())
			if err != nil {
				return err
			}
			defer db.Close()
			st, err := db.MigrationStatus(cmd.Context())
			if err != nil {
				return err
			}
			if g.JSON {
				return json.NewEncoder(os.Stdout).Encode(st)
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DOMAIN\tVERSION\tNAME\tAPPLIED")
			pending := 0
			for _, m := range st {
				applied := "pending"
				if m.Applied {
					applied = m.AppliedAt.UTC().Format("2006-01-02T15:04:05Z")
				} else {
					pending++
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", m.Domain, m.Version, m.Name, applied)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "%d migrations, %d pending\n", len(st), pending)
			return nil
		},
	}
	up := &cobra.Command{
		Use:   "up",
		Short: "Apply pending migrations (a failed run is undone whole)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.Config()
			if err != nil {
				return err
			}
			db, err := store.Open(cmd.Context(), store.Config{Driver: cfg.State.Driver, DSN: cfg.StateDSN()}, cli.Logger(cfg), store.WithoutMigrate())
			if err != nil {
				return err
			}
			defer db.Close()
			applied, err := db.MigrateUp(cmd.Context())
			if err != nil {
				return err
			}
			if g.JSON {
				return json.NewEncoder(os.Stdout).Encode(applied)
			}
			for _, m := range applied {
				fmt.Printf("applied %s %d %s (%s)\n", m.Domain, m.Version, m.Name, m.Duration)
			}
			fmt.Fprintf(os.Stderr, "%d migrations applied\n", len(applied))
			return nil
		},
	}
	g.DataFlag(status)
	g.DataFlag(up)
	cmd.AddCommand(status, up)
	return cmd
}
