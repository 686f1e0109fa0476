// Package ueba is `wacht ueba`: entity behaviour analytics. replay runs
// the detectors over recorded or simulated events (NDJSON), explain and
// anomalies ask a running server, eval measures the detectors and the
// risk ledger on the seeded simulator, and rebuild relearns the
// baselines from the event store.
package ueba

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/cmd/wacht/entities"
	simcmd "github.com/wacht-soc/wacht/cmd/wacht/sim"
	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/app"
	"github.com/wacht-soc/wacht/internal/ueba"
	usim "github.com/wacht-soc/wacht/internal/ueba/sim"
)

// NewCommand returns `wacht ueba`.
func NewCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "ueba", Short: "Entity behaviour analytics: replay, explain, eval, rebuild"}
	cmd.AddCommand(replayCommand(g), entities.ExplainCommand(g), entities.AnomaliesCommand(g), evalCommand(g), rebuildCommand(g), allowCommand(g))
	return cmd
}

func replayCommand(g *cli.Globals) *cobra.Command {
	var learning time.Duration
	var geoip, peerFields []string
	var tenant string
	var dailyCap int
	cmd := &cobra.Command{
		Use:   "replay FILE...",
		Short: "Run every detector over NDJSON events (a file, or - for stdin) and print the anomalies",
		Long: "Replay events through fresh detectors (every detector reports; nothing is stored). Events are flat JSON\n" +
			"objects, one a line, as `wacht sim` and `wacht hunt --json` write them, in time order.\n" +
			"Example: wacht sim --seed 3 --users 200 | wacht ueba replay -",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg := ueba.Config{LearningPeriod: learning, PeerFields: peerFields, DailyCap: dailyCap}
			if len(geoip) > 0 {
				geo, err := ueba.OpenGeoIP(geoip...)
				if err != nil {
					return err
				}
				defer geo.Close()
				cfg.Geo = geo
			}
			en := ueba.NewEngine(cfg)
			var batch []*event.Event
			var out []ueba.Anomaly
			events := 0
			counts := map[ueba.Detector]int{}
			enc := json.NewEncoder(os.Stdout)
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			if !g.JSON {
				fmt.Fprintln(w, "TIME\tDETECTOR\tSCORE\tENTITY\tWHAT")
			}
			flush := func() error {
				out = en.Process(batch, out[:0])
				events += len(batch)
				batch = batch[:0]
				for i := range out {
					a := &out[i]
					a.Mode = ueba.ModeProduction
					counts[a.Detector]++
					if g.JSON {
						if err := enc.Encode(a); err != nil {
							return err
						}
						continue
					}
					fmt.Fprintf(w, "%s\t%s\t%.0f\t%s\t%s\n", a.Time.Format("2006-01-02 15:04"), a.Detector, a.Score, a.Entity, a.What)
				}
				return nil
			}
			for _, name := range args {
				var r io.Reader = os.Stdin
				if name != "-" {
					f, err := os.Open(name)
					if err != nil {
						return fmt.Errorf("open %s: %w", name, err)
					}
					defer f.Close()
					r = f
				}
				err := ueba.ReadEvents(r, tenant, func(e *event.Event) error {
					batch = append(batch, e)
					if len(batch) == 1024 {
						return flush()
					}
					return nil
				})
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
			}
			if err := flush(); err != nil {
				return err
			}
			if g.JSON {
				return nil
			}
			if err := w.Flush(); err != nil {
				return err
			}
			var parts []string
			total := 0
			for _, d := range ueba.Detectors {
				if counts[d] > 0 {
					parts = append(parts, fmt.Sprintf("%s %d", d, counts[d]))
					total += counts[d]
				}
			}
			sort.Strings(parts)
			fmt.Fprintf(os.Stderr, "%d events, %d anomalies (%s)\n", events, total, strings.Join(parts, ", "))
			return nil
		},
	}
	f := cmd.Flags()
	f.DurationVar(&learning, "learning", 72*time.Hour, "nothing is reported for this much event time")
	f.IntVar(&dailyCap, "daily-cap", 3, "anomalies per detector and entity per day")
	f.StringSliceVar(&geoip, "geoip", nil, "MaxMind-format .mmdb files (country, ASN) for the new-country and new-network detectors")
	f.StringSliceVar(&peerFields, "peer-field", nil, "event fields naming a host's peer group (host.group, user.department …)")
	f.StringVar(&tenant, "tenant", "default", "tenant of events that name none")
	return cmd
}

// targets are the targets on the simulator.
func targets(r usim.Report) []string {
	var miss []string
	if r.Recall < 0.9 {
		miss = append(miss, fmt.Sprintf("scenario recall %.3f < 0.9", r.Recall))
	}
	if r.RecallLowAndSlow < 0.6 {
		miss = append(miss, fmt.Sprintf("low-and-slow recall %.3f < 0.6", r.RecallLowAndSlow))
	}
	if r.IncidentsPer1000 > 1 {
		miss = append(miss, fmt.Sprintf("%.3f false risk incidents per day per 1,000 entities > 1", r.IncidentsPer1000))
	}
	if time.Duration(r.MedianTTD) > time.Hour {
		miss = append(miss, fmt.Sprintf("median time to detect %s > 1h", time.Duration(r.MedianTTD)))
	}
	if r.Calibration.ECE > 0.05 {
		miss = append(miss, fmt.Sprintf("calibration error %.4f > 0.05", r.Calibration.ECE))
	}
	return miss
}

func evalCommand(g *cli.Globals) *cobra.Command {
	var c usim.Config
	var seeds int
	var check, noGeo, noPeers, noDets bool
	var loadTraces func() error
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Measure the detectors and risk-based alerting on the seeded simulator",
		Long: "Simulate (see `wacht sim`), run every detector in production and the risk ledger over the events and the\n" +
			"simulated SOC's detections, and print scenario recall (overall and low-and-slow), entity-day precision,\n" +
			"precision@10, false risk incidents per day per 1,000 entities, median and p90 time to detect, and the\n" +
			"calibration error of the 7-day incident likelihood. --check exits 1 when a target is missed.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := loadTraces(); err != nil {
				return err
			}
			var miss []string
			var reports []usim.Report
			for i := range max(seeds, 1) {
				cc := c
				cc.Seed = c.Seed + uint64(i)
				r, err := usim.Evaluate(cc, usim.EvalOptions{NoGeo: noGeo, NoPeers: noPeers, NoDetections: noDets})
				if err != nil {
					return err
				}
				reports = append(reports, r)
				if !g.JSON {
					r.Print(os.Stdout)
				}
				for _, m := range targets(r) {
					miss = append(miss, fmt.Sprintf("seed %d: %s", cc.Seed, m))
				}
			}
			if g.JSON {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(reports); err != nil {
					return err
				}
			}
			if check && len(miss) > 0 {
				return fmt.Errorf("targets missed: %s", strings.Join(miss, "; "))
			}
			return nil
		},
	}
	loadTraces = simcmd.ConfigFlags(cmd, &c)
	cmd.Flags().IntVar(&seeds, "seeds", 1, "evaluate this many seeds from --seed on")
	cmd.Flags().BoolVar(&check, "check", false, "exit 1 when a target is missed")
	cmd.Flags().BoolVar(&noGeo, "no-geoip", false, "run without the simulated GeoIP data")
	cmd.Flags().BoolVar(&noPeers, "no-peers", false, "run without peer groups")
	cmd.Flags().BoolVar(&noDets, "no-detections", false, "leave out the simulated Sigma detections (risk from anomalies alone)")
	return cmd
}

func rebuildCommand(g *cli.Globals) *cobra.Command {
	var days int
	var tenants []string
	cmd := &cobra.Command{
		Use:   "rebuild",
		Short: "Relearn the behaviour baselines from the last days of stored events (server stopped)",
		Long: "Replay the last --days of each tenant's stored events through the detectors in learning mode and save the\n" +
			"result as the tenant's snapshot. It opens the data directory's event store, so a server using the same\n" +
			"embedded store must be stopped (a running server relearns by itself when it starts without a snapshot).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.Config()
			if err != nil {
				return err
			}
			if days == 0 {
				days = cfg.UEBA.Rebuild.Days
			}
			res, err := app.RebuildUEBA(cmd.Context(), cfg, cli.Logger(cfg), tenants, days)
			for _, r := range res {
				if g.JSON {
					_ = json.NewEncoder(os.Stdout).Encode(r)
					continue
				}
				fmt.Printf("%s: %d events from %s to %s, %d entities, %d first-seen pairs\n", r.Tenant, r.Events,
					r.From.Format(time.RFC3339), r.To.Format(time.RFC3339), r.Entities, r.Pairs)
			}
			return err
		},
	}
	g.DataFlag(cmd)
	cmd.Flags().IntVar(&days, "days", 0, "days of events to relearn from (default ueba.rebuild.days)")
	cmd.Flags().StringSliceVar(&tenants, "tenant", nil, "tenants to rebuild (default ueba.rebuild.tenants)")
	return cmd
}
