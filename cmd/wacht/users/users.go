// Package users is `wacht users`: create local users, bind roles per
// tenant, enroll TOTP, unlock. Offline, on the data directory.
package users

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/auth"
	"github.com/wacht-soc/wacht/internal/store"
)

// NewCommand returns `wacht users`.
func NewCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "users", Short: "Manage people who sign in (offline, on the data directory)"}
	var tenant, role, oidcSubject string
	add := &cobra.Command{
		Use:   "add USERNAME",
		Short: "Create a user; the password is read from stdin (one line)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw := ""
			if oidcSubject == "" {
				fmt.Fprintln(os.Stderr, "password (at least 12 characters):")
				line, err := bufio.NewReader(os.Stdin).ReadString('\n')
				if err != nil && line == "" {
					return fmt.Errorf("read password from stdin: %w", err)
				}
				pw = strings.TrimRight(line, "\r\n")
			}
			return withUsers(cmd.Context(), g, func(u *auth.Users) error {
				usr, err := u.Create(cmd.Context(), auth.NewUser{Tenant: tenant, Username: args[0], Password: pw, OIDCSubject: oidcSubject, Role: role})
				if err != nil {
					return err
				}
				fmt.Printf("user %s (%s) created with role %s in tenant %s\n", usr.Username, usr.ID, role, tenant)
				return nil
			})
		},
	}
	add.Flags().StringVar(&tenant, "tenant", "default", "home tenant")
	add.Flags().StringVar(&role, "role", api.RoleSecurityAnalyst, "role: "+strings.Join(api.Roles(), ", "))
	add.Flags().StringVar(&oidcSubject, "oidc-subject", "", "sign in through OIDC as this subject (sub, or email:ADDRESS)")
	g.DataFlag(add)

	bind := &cobra.Command{
		Use:   "bind USERNAME --tenant T --role R",
		Short: "Give a user a role in a tenant (--role '' removes it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withUsers(cmd.Context(), g, func(u *auth.Users) error {
				usr, err := u.ByUsername(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return u.Bind(cmd.Context(), tenant, usr.ID, role)
			})
		},
	}
	bind.Flags().StringVar(&tenant, "tenant", "default", "tenant")
	bind.Flags().StringVar(&role, "role", "", "role")
	g.DataFlag(bind)

	totp := &cobra.Command{
		Use:   "totp USERNAME",
		Short: "Enroll a new TOTP secret; prints the otpauth:// URL once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withUsers(cmd.Context(), g, func(u *auth.Users) error {
				usr, err := u.ByUsername(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				secret, err := u.EnrollTOTP(cmd.Context(), usr.ID)
				if err != nil {
					return err
				}
				fmt.Println(auth.TOTPURL("wacht", usr.Username, secret))
				return nil
			})
		},
	}
	g.DataFlag(totp)

	unlock := &cobra.Command{
		Use:   "unlock USERNAME",
		Short: "Clear failed sign-ins",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withUsers(cmd.Context(), g, func(u *auth.Users) error { return u.Unlock(cmd.Context(), args[0]) })
		},
	}
	g.DataFlag(unlock)

	list := &cobra.Command{
		Use:   "list",
		Short: "List users with a role in a tenant",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withUsers(cmd.Context(), g, func(u *auth.Users) error {
				us, err := u.List(cmd.Context(), tenant)
				if err != nil {
					return err
				}
				if g.JSON {
					return json.NewEncoder(os.Stdout).Encode(us)
				}
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tUSERNAME\tROLE\tTOTP\tDISABLED")
				for _, x := range us {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%v\n", x.ID, x.Username, x.Roles[tenant], x.TOTP, x.Disabled)
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().StringVar(&tenant, "tenant", "default", "tenant")
	g.DataFlag(list)
	cmd.AddCommand(add, bind, totp, unlock, list)
	return cmd
}

func withUsers(ctx context.Context, g *cli.Globals, fn func(*auth.Users) error) error {
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
	return fn(auth.NewUsers(db, auth.UsersOptions{Now: time.Now,
		ValidRole: func(r string) bool { return r == "" || api.Allowed(r, api.PermSession) || r == api.RoleIngest }}))
}
