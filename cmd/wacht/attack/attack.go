// Package attack is `wacht attack`: load a MITRE ATT&CK release into the
// data directory (from a file or MITRE's site), show entries, and print the
// coverage matrix of a set of Sigma rules. It works offline; a running
// server picks an imported catalog up at its next start.
package attack

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/internal/attack"
	"github.com/wacht-soc/wacht/internal/detect"
)

// NewCommand returns `wacht attack`.
func NewCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "attack", Short: "MITRE ATT&CK: catalog and rule coverage"}
	cmd.AddCommand(importCmd(g), updateCmd(g), coverageCmd(g), showCmd(g))
	return cmd
}

func save(g *cli.Globals, c *attack.Catalog) error {
	cfg, err := g.Config()
	if err != nil {
		return err
	}
	if err := attack.Save(cfg.Data, c); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "ATT&CK %s saved to %s: %v\n%s\n", c.Version, cfg.Data, c.Counts(), c.Notice)
	return nil
}

func importCmd(g *cli.Globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "import FILE",
		Short: "Load an ATT&CK STIX bundle (.json or .json.gz) into the data directory",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			cat, err := attack.FromBundle(f)
			if err != nil {
				return err
			}
			return save(g, cat)
		},
	}
	g.DataFlag(c)
	return c
}

func updateCmd(g *cli.Globals) *cobra.Command {
	var url string
	c := &cobra.Command{
		Use:   "update",
		Short: "Download MITRE's current Enterprise ATT&CK bundle into the data directory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cat, err := attack.Download(cmd.Context(), &http.Client{Timeout: 5 * time.Minute}, url)
			if err != nil {
				return err
			}
			return save(g, cat)
		},
	}
	c.Flags().StringVar(&url, "url", attack.DefaultURL, "bundle URL")
	g.DataFlag(c)
	return c
}

func catalog(g *cli.Globals) (*attack.Catalog, error) {
	cfg, err := g.Config()
	if err != nil {
		return nil, err
	}
	return attack.Load(cfg.Data)
}

func coverageCmd(g *cli.Globals) *cobra.Command {
	var rules []string
	var detail, starter bool
	c := &cobra.Command{
		Use:   "coverage",
		Short: "Print which ATT&CK techniques the rules cover, by tactic",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cat, err := catalog(g)
			if err != nil {
				return err
			}
			if len(rules) == 0 {
				rules = detect.RulesFromEnv()
			}
			rs, err := detect.Load(detect.LoadOptions{Paths: rules, Starter: starter}, time.Now())
			if err != nil {
				return err
			}
			var in []attack.Rule
			for _, r := range rs.Rules {
				in = append(in, attack.Rule{ID: r.ID, Title: r.Title, Tags: r.Tags})
			}
			cov := cat.Coverage(in)
			if g.JSON {
				return json.NewEncoder(os.Stdout).Encode(cov)
			}
			return cov.WriteTable(os.Stdout, detail)
		},
	}
	c.Flags().StringSliceVar(&rules, "rules", nil, "rule folders or files (default: WACHT_RULES)")
	c.Flags().BoolVar(&starter, "starter", true, "include the embedded starter pack")
	c.Flags().BoolVar(&detail, "detail", false, "list each covered technique with its rules")
	g.DataFlag(c)
	return c
}

func showCmd(g *cli.Globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "show ID|TACTIC",
		Short: "Show an ATT&CK entry (T1059.001, G0007, S0154 …) or a tactic's techniques",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := catalog(g)
			if err != nil {
				return err
			}
			if t, ok := cat.Tactic(args[0]); ok {
				techs := cat.Techniques(t.ShortName)
				if g.JSON {
					return json.NewEncoder(os.Stdout).Encode(map[string]any{"tactic": t, "techniques": techs})
				}
				fmt.Printf("%s %s (%s)\n", t.ID, t.Name, t.ShortName)
				for _, e := range techs {
					fmt.Printf("  %-10s %s\n", e.ID, e.Name)
				}
				return nil
			}
			e, ok := cat.Get(args[0])
			if !ok {
				return fmt.Errorf("%s: not in ATT&CK %s", args[0], cat.Version)
			}
			if g.JSON {
				return json.NewEncoder(os.Stdout).Encode(e)
			}
			fmt.Printf("%s %s (%s)\n", e.ID, e.Name, e.Kind)
			if len(e.Tactics) > 0 {
				fmt.Printf("  tactics:   %s\n", strings.Join(e.Tactics, ", "))
			}
			if e.Parent != "" {
				fmt.Printf("  parent:    %s\n", e.Parent)
			}
			if len(e.Platforms) > 0 {
				fmt.Printf("  platforms: %s\n", strings.Join(e.Platforms, ", "))
			}
			if len(e.Aliases) > 0 {
				fmt.Printf("  aliases:   %s\n", strings.Join(e.Aliases, ", "))
			}
			return nil
		},
	}
	g.DataFlag(c)
	return c
}
