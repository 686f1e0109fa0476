// Package token is `wacht token`: create, list and revoke API tokens. It
// works offline on the data directory, also beside a running server.
package token

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/auth"
	"github.com/wacht-soc/wacht/internal/config"
	"github.com/wacht-soc/wacht/internal/store"
)

// NewCommand returns `wacht token`.
func NewCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage API tokens (offline, on the data directory)"}
	var name, role, tenant string
	var ttl time.Duration
	create := &cobra.Command{
		Use:   "create --name NAME",
		Short: "Create a token; it is printed once and only its hash is stored",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return fmt.Errorf("--name is required")
			}
			if !slices.Contains(api.Roles(), role) {
				return fmt.Errorf("--role %q: want one of %s", role, strings.Join(api.Roles(), ", "))
			}
			return withStore(cmd.Context(), g, func(ts *auth.TokenStore) error {
				secret, tok, err := ts.Create(cmd.Context(), auth.TokenSpec{Tenant: tenant, Name: name, Role: role, TTL: ttl})
				if err != nil {
					return err
				}
				if g.JSON {
					return json.NewEncoder(os.Stdout).Encode(map[string]any{"id": tok.ID, "name": tok.Name, "role": tok.Role, "tenant": tok.Tenant, "token": secret})
				}
				fmt.Fprintf(os.Stderr, "token %q (role %s, tenant %s) created; it is shown only now:\n", tok.Name, tok.Role, tok.Tenant)
				fmt.Println(secret)
				return nil
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", "what the token is for")
	create.Flags().StringVar(&role, "role", "admin", "role: "+strings.Join(api.Roles(), ", "))
	create.Flags().StringVar(&tenant, "tenant", "default", "tenant")
	create.Flags().DurationVar(&ttl, "ttl", 0, "expire after this long (0: never)")
	g.DataFlag(create)

	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens of a tenant (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd.Context(), g, func(ts *auth.TokenStore) error {
				toks, err := ts.List(cmd.Context(), tenant)
				if err != nil {
					return err
				}
				if g.JSON {
					return json.NewEncoder(os.Stdout).Encode(toks)
				}
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tEXPIRES\tREVOKED")
				for _, t := range toks {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, fmtTime(t.CreatedAt), fmtTime(t.ExpiresAt), fmtTime(t.RevokedAt))
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().StringVar(&tenant, "tenant", "default", "tenant")
	g.DataFlag(list)

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd.Context(), g, func(ts *auth.TokenStore) error {
				return ts.Revoke(cmd.Context(), tenant, args[0])
			})
		},
	}
	revoke.Flags().StringVar(&tenant, "tenant", "default", "tenant")
	g.DataFlag(revoke)
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func withStore(ctx context.Context, g *cli.Globals, fn func(*auth.TokenStore) error) error {
	cfg, err := g.Config()
	if err != nil {
		return err
	}
	return WithTokens(ctx, cfg, fn)
}

// WithTokens opens the state store of cfg and runs fn with its token store.
func WithTokens(ctx context.Context, cfg config.Config, fn func(*auth.TokenStore) error) error {
	return WithDB(ctx, cfg, func(db *store.DB) error { return fn(auth.NewTokenStore(db, time.Now)) })
}

// WithDB opens the state store of cfg (applying migrations) and runs fn.
func WithDB(ctx context.Context, cfg config.Config, fn func(*store.DB) error) error {
	if err := os.MkdirAll(cfg.Data, 0o750); err != nil {
		return fmt.Errorf("create data directory %s: %w", cfg.Data, err)
	}
	db, err := store.Open(ctx, store.Config{Driver: cfg.State.Driver, DSN: cfg.StateDSN()}, cli.Logger(cfg))
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(db)
}
