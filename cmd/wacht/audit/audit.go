// Package audit is `wacht audit`: verify the audit trail's hash chain and
// signed checkpoints, and export records for auditors. It works offline on
// the data directory (or a copy of the state database) and needs only the
// public verifier key.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/audit"
	"github.com/wacht-soc/wacht/internal/store"
)

// NewCommand returns `wacht audit`.
func NewCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Verify and export the tamper-evident audit trail"}
	var keyPath string
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Walk the chain and checkpoints; name the first broken link (exit 1)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withDB(cmd.Context(), g, func(db *store.DB, dataDir string) error {
				if keyPath == "" {
					keyPath = filepath.Join(dataDir, "audit", audit.VerifierKeyFile)
				}
				vkey, err := os.ReadFile(keyPath)
				if err != nil {
					return fmt.Errorf("read verifier key: %w", err)
				}
				rep, err := audit.Verify(cmd.Context(), db, strings.TrimSpace(string(vkey)))
				if err != nil {
					return err
				}
				if g.JSON {
					_ = json.NewEncoder(os.Stdout).Encode(rep)
				}
				if rep.Broken != nil {
					return rep.Broken
				}
				if !g.JSON {
					fmt.Printf("audit trail intact: %d records, %d signed checkpoints (latest covers %d)\n",
						rep.Records, rep.Checkpoints, rep.LatestCheckpoint)
				}
				return nil
			})
		},
	}
	verify.Flags().StringVar(&keyPath, "key", "", "verifier public key (default DATA/audit/"+audit.VerifierKeyFile+")")
	g.DataFlag(verify)

	var since, tenant string
	export := &cobra.Command{
		Use:   "export",
		Short: "Write audit records as JSON lines (with their hashes) to stdout",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := api.ParseTime(since, time.Now())
			if err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			return withDB(cmd.Context(), g, func(db *store.DB, _ string) error {
				n, err := audit.Export(cmd.Context(), db, audit.Filter{Tenant: tenant, Since: t}, os.Stdout)
				fmt.Fprintf(os.Stderr, "%d records\n", n)
				return err
			})
		},
	}
	export.Flags().StringVar(&since, "since", "", "RFC 3339 time or a duration ago (24h, 7d)")
	export.Flags().StringVar(&tenant, "tenant", "", "only this tenant's records")
	g.DataFlag(export)
	cmd.AddCommand(verify, export)
	return cmd
}

func withDB(ctx context.Context, g *cli.Globals, fn func(*store.DB, string) error) error {
	cfg, err := g.Config()
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, store.Config{Driver: cfg.State.Driver, DSN: cfg.StateDSN()}, cli.Logger(cfg), store.WithoutMigrate())
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(db, cfg.Data)
}
