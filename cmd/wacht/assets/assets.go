// Package assets is `wacht assets`: list, show, import and export the asset
// inventory on the data directory.
package assets

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	vulncmd "github.com/wacht-soc/wacht/cmd/wacht/vuln"
	"github.com/wacht-soc/wacht/internal/assets"
	"github.com/wacht-soc/wacht/internal/vuln"
)

// NewCommand returns `wacht assets`.
func NewCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "assets", Short: "Asset inventory: list, show, import and export (CSV)"}
	var tenant, kind, query string
	var limit int
	add := func(c *cobra.Command) {
		c.Flags().StringVar(&tenant, "tenant", "default", "tenant")
		g.DataFlag(c)
		cmd.AddCommand(c)
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List assets",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return vulncmd.WithServices(cmd.Context(), g, func(_ *vuln.Service, inv *assets.Service) error {
				as, err := inv.List(cmd.Context(), tenant, assets.Filter{Kind: assets.Kind(kind), Query: query, Limit: limit})
				if err != nil {
					return err
				}
				if g.JSON {
					return json.NewEncoder(os.Stdout).Encode(as)
				}
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tKIND\tNAME\tOWNER\tCRITICALITY\tEXPOSURE\tLAST SEEN")
				for _, a := range as {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", a.ID, a.Kind, a.Name, a.Owner, a.Criticality, a.Exposure, a.LastSeen.Format("2006-01-02 15:04"))
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().StringVar(&kind, "kind", "", "host, vm, container_image, application, cloud_resource, service")
	list.Flags().StringVar(&query, "q", "", "match name, owner or team")
	list.Flags().IntVar(&limit, "limit", 1000, "at most this many")
	add(list)

	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show an asset with its identifiers",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return vulncmd.WithServices(cmd.Context(), g, func(_ *vuln.Service, inv *assets.Service) error {
				a, err := inv.Get(cmd.Context(), tenant, args[0])
				if err != nil {
					return err
				}
				enc := json.NewEncoder(os.Stdout)
				if !g.JSON {
					enc.SetIndent("", "  ")
				}
				return enc.Encode(a)
			})
		},
	}
	add(show)

	imp := &cobra.Command{
		Use:   "import FILE.csv",
		Short: "Import assets from CSV (merged by identifiers; columns as in export)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			return vulncmd.WithServices(cmd.Context(), g, func(_ *vuln.Service, inv *assets.Service) error {
				res, err := inv.ImportCSV(cmd.Context(), tenant, f)
				if err != nil {
					return err
				}
				if g.JSON {
					return json.NewEncoder(os.Stdout).Encode(res)
				}
				fmt.Printf("%d created, %d updated\n", res.Created, res.Updated)
				return nil
			})
		},
	}
	add(imp)

	export := &cobra.Command{
		Use:   "export",
		Short: "Export assets as CSV on stdout",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return vulncmd.WithServices(cmd.Context(), g, func(_ *vuln.Service, inv *assets.Service) error {
				return inv.ExportCSV(cmd.Context(), tenant, os.Stdout)
			})
		},
	}
	add(export)
	add(setCommand(g, &tenant))

	merge := &cobra.Command{
		Use:   "merge FROM INTO",
		Short: "Merge asset FROM into asset INTO (identifiers, findings and missing attributes move)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return vulncmd.WithServices(cmd.Context(), g, func(_ *vuln.Service, inv *assets.Service) error {
				if err := inv.Merge(cmd.Context(), tenant, args[0], args[1]); err != nil {
					return err
				}
				a, err := inv.Get(cmd.Context(), tenant, args[1])
				if err != nil {
					return err
				}
				if g.JSON {
					return json.NewEncoder(os.Stdout).Encode(a)
				}
				fmt.Printf("%s merged into %s (%d identifiers)\n", args[0], a.ID, len(a.Identifiers))
				return nil
			})
		},
	}
	add(merge)
	return cmd
}

// setCommand is `wacht assets set ID --owner … --criticality …`: only the
// flags given change.
func setCommand(g *cli.Globals, tenant *string) *cobra.Command {
	var owner, team, service, env, kind, exposure, dataClass, prevalence, lifecycle, name string
	var tags []string
	var crit int
	c := &cobra.Command{
		Use:   "set ID",
		Short: "Edit an asset: owner, team, business service, environment, criticality, exposure, classification, tags…",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p assets.Patch
			fl := cmd.Flags()
			str := func(flag string, v *string) *string {
				if fl.Changed(flag) {
					return v
				}
				return nil
			}
			p.Name, p.Owner, p.Team, p.BusinessService = str("name", &name), str("owner", &owner), str("team", &team), str("business-service", &service)
			p.Environment, p.DataClass, p.MissionPrevalence, p.Lifecycle = str("environment", &env), str("data-classification", &dataClass),
				str("mission-prevalence", &prevalence), str("lifecycle", &lifecycle)
			if fl.Changed("kind") {
				k := assets.Kind(kind)
				p.Kind = &k
			}
			if fl.Changed("exposure") {
				e := assets.Exposure(exposure)
				p.Exposure = &e
			}
			if fl.Changed("criticality") {
				c := assets.Criticality(crit)
				p.Criticality = &c
			}
			if fl.Changed("tags") {
				p.Tags = &tags
			}
			return vulncmd.WithServices(cmd.Context(), g, func(_ *vuln.Service, inv *assets.Service) error {
				a, err := inv.Get(cmd.Context(), *tenant, args[0])
				if err != nil {
					return err
				}
				if a, err = inv.Update(cmd.Context(), *tenant, a.ID, a.Version, p); err != nil {
					return err
				}
				if g.JSON {
					return json.NewEncoder(os.Stdout).Encode(a)
				}
				fmt.Printf("%s updated (version %d)\n", a.ID, a.Version)
				return nil
			})
		},
	}
	f := c.Flags()
	f.StringVar(&name, "name", "", "display name")
	f.StringVar(&kind, "kind", "", "host, vm, container_image, application, cloud_resource, service")
	f.StringVar(&owner, "owner", "", "owner")
	f.StringVar(&team, "team", "", "owning team")
	f.StringVar(&service, "business-service", "", "business service")
	f.StringVar(&env, "environment", "", "environment (prod, staging…)")
	f.IntVar(&crit, "criticality", 0, "1 (low) to 4 (critical), 0 unrated")
	f.StringVar(&exposure, "exposure", "", "internet, partner, internal or isolated")
	f.StringVar(&dataClass, "data-classification", "", "data classification")
	f.StringVar(&prevalence, "mission-prevalence", "", "SSVC mission prevalence: minimal, support or essential")
	f.StringVar(&lifecycle, "lifecycle", "", "lifecycle (production, retired…)")
	f.StringSliceVar(&tags, "tags", nil, "tags, comma-separated (replaces the tags)")
	return c
}
