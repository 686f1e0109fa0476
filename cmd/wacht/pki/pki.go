// Package pki is `wacht pki`: the built-in CA that issues client
// certificates for forwarders and agents, and revokes them. Offline, on the
// data directory.
package pki

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/internal/auth"
	"github.com/wacht-soc/wacht/internal/store"
)

// NewCommand returns `wacht pki`.
func NewCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "pki", Short: "Client certificates for forwarders and agents (mTLS)"}
	var name, tenant, out string
	var ttl time.Duration
	issue := &cobra.Command{
		Use:   "issue --name NAME",
		Short: "Issue a client certificate and key (NAME.crt, NAME.key) from the built-in CA",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return fmt.Errorf("--name is required")
			}
			return withCA(cmd.Context(), g, func(ca *auth.CA) error {
				is, err := ca.Issue(cmd.Context(), tenant, name, ttl, out)
				if err != nil {
					return err
				}
				if g.JSON {
					return json.NewEncoder(os.Stdout).Encode(is)
				}
				fmt.Printf("issued %s (serial %s, tenant %s, until %s): %s/%s.crt and %s.key\n",
					is.Name, is.Serial, is.Tenant, is.NotAfter.Format(time.RFC3339), out, name, name)
				return nil
			})
		},
	}
	issue.Flags().StringVar(&name, "name", "", "forwarder or agent name (certificate common name)")
	issue.Flags().StringVar(&tenant, "tenant", "default", "tenant the certificate sends for")
	issue.Flags().StringVar(&out, "out", ".", "directory for NAME.crt and NAME.key")
	issue.Flags().DurationVar(&ttl, "ttl", 365*24*time.Hour, "validity")
	g.DataFlag(issue)

	revoke := &cobra.Command{
		Use:   "revoke SERIAL",
		Short: "Revoke a certificate; listeners refuse it from the next connection",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withCA(cmd.Context(), g, func(ca *auth.CA) error { return ca.Revoke(cmd.Context(), tenant, args[0]) })
		},
	}
	revoke.Flags().StringVar(&tenant, "tenant", "default", "tenant")
	g.DataFlag(revoke)

	list := &cobra.Command{
		Use:   "list",
		Short: "List issued certificates of a tenant",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withCA(cmd.Context(), g, func(ca *auth.CA) error {
				cs, err := ca.List(cmd.Context(), tenant)
				if err != nil {
					return err
				}
				if g.JSON {
					return json.NewEncoder(os.Stdout).Encode(cs)
				}
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SERIAL\tNAME\tNOT AFTER\tREVOKED")
				for _, c := range cs {
					rv := "-"
					if !c.RevokedAt.IsZero() {
						rv = c.RevokedAt.Format(time.RFC3339)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Serial, c.Name, c.NotAfter.Format(time.RFC3339), rv)
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().StringVar(&tenant, "tenant", "default", "tenant")
	g.DataFlag(list)
	cmd.AddCommand(issue, revoke, list)
	return cmd
}

func withCA(ctx context.Context, g *cli.Globals, fn func(*auth.CA) error) error {
	cfg, err := g.Config()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.Data, 0o750); err != nil {
		return err
	}
	db, err := store.Open(ctx, store.Config{Driver: cfg.State.Driver, DSN: cfg.StateDSN()}, cli.Logger(cfg))
	if err != nil {
		return err
	}
	defer db.Close()
	ca, err := auth.OpenCA(cfg.Path("pki"), db, time.Now)
	if err != nil {
		return err
	}
	return fn(ca)
}
