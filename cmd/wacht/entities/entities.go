// Package entities is `wacht entities`: the riskiest users, hosts and
// addresses with the contributions that make their scores, one entity's
// explanation, and the behaviour anomalies. The same commands are also
// `wacht risk top`, `wacht ueba explain` and `wacht ueba anomalies`; this
// noun stays as their alias.
package entities

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/internal/ueba"
)

// NewCommand returns `wacht entities`.
func NewCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "entities", Short: "Entity risk and behaviour anomalies (also: wacht risk, wacht ueba)"}
	cmd.AddCommand(TopCommand(g), ExplainCommand(g), AnomaliesCommand(g))
	return cmd
}

// Get fetches path from the server into v, or copies the answer to
// stdout with --json (done is then true).
func Get(cmd *cobra.Command, g *cli.Globals, path string, v any) (bool, error) {
	c, err := g.Client()
	if err != nil {
		return false, err
	}
	body, err := c.Get(cmd.Context(), path)
	if err != nil {
		return false, err
	}
	defer body.Close()
	if g.JSON {
		_, err = io.Copy(os.Stdout, body)
		return true, err
	}
	return false, json.NewDecoder(body).Decode(v)
}

// TopCommand is `top`: the riskiest entities.
func TopCommand(g *cli.Globals) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "top",
		Short: "List the riskiest entities with what contributed to their scores",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out []ueba.EntityRisk
			if done, err := Get(cmd, g, "/api/v1/entities?limit="+strconv.Itoa(limit), &out); done || err != nil {
				return err
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "SCORE\tNORM\tENTITY\tTOP CONTRIBUTIONS")
			for _, r := range out {
				var parts []string
				for i, c := range r.Contributions {
					if i == 3 {
						break
					}
					parts = append(parts, fmt.Sprintf("%s %s %.1f", c.Kind, c.Source, c.Points))
				}
				fmt.Fprintf(w, "%.1f\t%.0f\t%s\t%s\n", r.Score, r.Normalized, r.Entity, strings.Join(parts, "; "))
			}
			return w.Flush()
		},
	}
	g.ServerFlags(cmd)
	cmd.Flags().IntVar(&limit, "limit", 20, "at most this many entities")
	return cmd
}

// ExplainCommand is `explain KIND VALUE`.
func ExplainCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "explain KIND VALUE",
		Short: "Explain one entity's score: contributions, baseline and recent anomalies (KIND: user, host, ip, process, cloud, source)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p ueba.EntityProfile
			if done, err := Get(cmd, g, "/api/v1/entities/"+url.PathEscape(args[0])+"/"+url.PathEscape(args[1]), &p); done || err != nil {
				return err
			}
			fmt.Printf("%s  risk %.1f\n", p.Risk.Entity, p.Risk.Score)
			if !p.FirstSeen.IsZero() {
				fmt.Printf("seen %s … %s, hourly median %.1f events\n", p.FirstSeen.Format("2006-01-02 15:04"), p.LastSeen.Format("2006-01-02 15:04"), p.HourlyMedian)
			}
			if len(p.Risk.Tactics) > 0 {
				fmt.Printf("ATT&CK tactics: %s\n", strings.Join(p.Risk.Tactics, ", "))
			}
			for _, c := range p.Risk.Contributions {
				capped := ""
				if c.Capped {
					capped = " (capped)"
				}
				fmt.Printf("  %+7.1f  %s %s ×%d%s  %s\n", c.Points, c.Kind, c.Source, c.Count, capped, c.Title)
			}
			for _, a := range p.Anomalies {
				fmt.Printf("anomaly %s [%s, %s] score %.0f: %s\n    observed %s; baseline %s\n", a.Time.Format("2006-01-02 15:04"),
					a.Detector, a.Mode, a.Score, a.What, a.Observed, a.Baseline)
			}
			return nil
		},
	}
	g.ServerFlags(cmd)
	return cmd
}

// AnomaliesCommand is `anomalies`.
func AnomaliesCommand(g *cli.Globals) *cobra.Command {
	var detector string
	var limit int
	cmd := &cobra.Command{
		Use:   "anomalies",
		Short: "List behaviour anomalies, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := url.Values{"limit": {strconv.Itoa(limit)}}
			if detector != "" {
				v.Set("detector", detector)
			}
			var out []ueba.Anomaly
			if done, err := Get(cmd, g, "/api/v1/anomalies?"+v.Encode(), &out); done || err != nil {
				return err
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "TIME\tDETECTOR\tMODE\tSCORE\tENTITY\tWHAT")
			for _, a := range out {
				fmt.Fprintf(w, "%s\t%s\t%s\t%.0f\t%s\t%s\n", a.Time.Format("2006-01-02 15:04"), a.Detector, a.Mode, a.Score, a.Entity, a.What)
			}
			return w.Flush()
		},
	}
	g.ServerFlags(cmd)
	cmd.Flags().StringVar(&detector, "detector", "", "only this detector (new_process, new_logon_source, rare_process, time_of_week, volume_entity, volume_source, fan_out, new_country, new_asn, rare_in_peers)")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many")
	return cmd
}
