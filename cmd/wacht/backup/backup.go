// Package backup is `wacht backup`: an online copy of the SQLite state
// database. For PostgreSQL use pg_dump (see docs/operations.md).
package backup

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	_ "github.com/wacht-soc/wacht/internal/app" // registers every domain's migrations
	"github.com/wacht-soc/wacht/internal/store"
)

// NewCommand returns `wacht backup`.
func NewCommand(g *cli.Globals) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "backup [--out FILE]",
		Short: "Copy the state database into a file while wacht runs (SQLite)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.Config()
			if err != nil {
				return err
			}
			if out == "" {
				out = cfg.Path("backup-" + time.Now().UTC().Format("20060102T150405Z") + ".db")
			}
			db, err := store.Open(cmd.Context(), store.Config{Driver: cfg.State.Driver, DSN: cfg.StateDSN()}, cli.Logger(cfg), store.WithoutMigrate())
			if err != nil {
				return err
			}
			defer db.Close()
			if err := db.Backup(cmd.Context(), out); err != nil {
				return err
			}
			fmt.Fprintln(os.Stderr, "state database backed up to", out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "backup file (default DATA/backup-<time>.db)")
	g.DataFlag(cmd)
	return cmd
}
