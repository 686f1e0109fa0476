// Package vuln is `wacht vuln`: import scanner reports, list and triage
// findings, import the KEV and EPSS feeds. It works on the data directory
// (beside a running server too: the state store takes concurrent writers).
package vuln

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/internal/assets"
	"github.com/wacht-soc/wacht/internal/config"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/vuln"
	"github.com/wacht-soc/wacht/internal/vuln/report"
)

// Default feed locations (vuln.feeds in the configuration overrides them).
const (
	DefaultKEVURL  = vuln.DefaultKEVURL
	DefaultEPSSURL = vuln.DefaultEPSSURL
)

// NewCommand returns `wacht vuln`.
func NewCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "vuln", Short: "Vulnerability management: import scanner reports, triage findings, feeds"}
	var tenant string
	add := func(c *cobra.Command) {
		c.Flags().StringVar(&tenant, "tenant", "default", "tenant")
		g.DataFlag(c)
		cmd.AddCommand(c)
	}

	var assetID, format string
	var partial bool
	imp := &cobra.Command{
		Use:   "import FILE...",
		Short: "Import scanner reports (trivy, grype, sarif, cyclonedx; detected)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withService(cmd.Context(), g, func(svc *vuln.Service, _ *assets.Service) error {
				var all []vuln.ImportResult
				for _, path := range args {
					data, err := os.ReadFile(path)
					if err != nil {
						return err
					}
					rep, err := vuln.ParseReport(data, format)
					if err != nil {
						return fmt.Errorf("%s: %w", path, err)
					}
					p := &cli.Progress{What: "import " + path}
					res, err := svc.Import(cmd.Context(), tenant, rep, vuln.ImportOptions{AssetID: assetID, Partial: partial, Actor: "cli",
						Progress: func(done, total int) { p.Update(int64(done), int64(total)) }})
					p.Done()
					if err != nil {
						return fmt.Errorf("%s: %w", path, err)
					}
					all = append(all, res)
					if !g.JSON {
						fmt.Printf("%s: %s, %d detections → %d findings on %d assets: %d new, %d updated, %d reopened, %d closed as fixed\n",
							path, res.Format, res.Detections, res.Findings, res.Assets, res.Created, res.Updated, res.Reopened, res.Closed)
					}
				}
				if g.JSON {
					return json.NewEncoder(os.Stdout).Encode(all)
				}
				return nil
			})
		},
	}
	imp.Flags().StringVar(&assetID, "asset", "", "attribute every detection to this asset id")
	imp.Flags().StringVar(&format, "format", "auto", "report format: auto, "+strings.Join(vuln.Formats(), ", "))
	imp.Flags().BoolVar(&partial, "partial", false, "the scan did not cover its whole scope: close nothing as fixed")
	add(imp)

	var f listFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List findings, most urgent first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			filter, err := f.filter()
			if err != nil {
				return err
			}
			return withService(cmd.Context(), g, func(svc *vuln.Service, _ *assets.Service) error {
				page, err := svc.List(cmd.Context(), tenant, filter)
				if err != nil {
					return err
				}
				if g.JSON {
					return json.NewEncoder(os.Stdout).Encode(page)
				}
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tPRIORITY\tSEVERITY\tVULN\tCOMPONENT\tSTATE\tDUE\tKEV")
				for _, x := range page.Findings {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%v\n", x.ID, x.Priority, x.Severity, x.VulnID, trunc(x.Component, 40), x.State, day(x.DueAt), x.KEV)
				}
				if page.Next != "" {
					fmt.Fprintf(tw, "… more: --after %s\n", page.Next)
				}
				return tw.Flush()
			})
		},
	}
	f.register(list)
	add(list)

	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a finding with the reasons for its priority",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withService(cmd.Context(), g, func(svc *vuln.Service, _ *assets.Service) error {
				x, err := svc.Get(cmd.Context(), tenant, args[0])
				if err != nil {
					return err
				}
				if g.JSON {
					return json.NewEncoder(os.Stdout).Encode(x)
				}
				fmt.Printf("%s  %s  %s\n  asset %s  component %s  source %s\n  state %s %s\n  severity %s  CVSS3 %.1f  CVSS4 %.1f  EPSS %.4f (p%.2f)  KEV %v\n  priority %s  timeline %s  due %s  breached %v\n",
					x.ID, x.VulnID, x.Title, x.AssetID, x.Component, x.Source, x.State, x.StateReason, x.Severity, x.CVSS3Score, x.CVSS4Score,
					x.EPSS, x.EPSSPercentile, x.KEV, x.Priority, x.Timeline, day(x.DueAt), x.SLABreached)
				for _, r := range x.Reasons {
					fmt.Println("    because", r)
				}
				return nil
			})
		},
	}
	add(show)

	var reason, approver string
	var until time.Duration
	transition := func(use, short string, st vuln.State) *cobra.Command {
		return &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return withService(cmd.Context(), g, func(svc *vuln.Service, _ *assets.Service) error {
					x, err := svc.Get(cmd.Context(), tenant, args[0])
					if err != nil {
						return err
					}
					t := vuln.Transition{State: st, Reason: reason, Approver: approver, Version: x.Version}
					if st == vuln.StateAccepted {
						t.Until = time.Now().Add(until)
					}
					x, err = svc.SetState(cmd.Context(), tenant, args[0], "cli", t)
					if err != nil {
						return err
					}
					if g.JSON {
						return json.NewEncoder(os.Stdout).Encode(x)
					}
					fmt.Printf("%s is %s\n", x.ID, x.State)
					return nil
				})
			},
		}
	}
	accept := transition("accept ID --approver NAME --reason TEXT [--for 90d]", "Accept the risk until an expiry (it reopens then)", vuln.StateAccepted)
	accept.Flags().StringVar(&approver, "approver", "", "who approved the acceptance")
	accept.Flags().DurationVar(&until, "for", 90*24*time.Hour, "how long the acceptance lasts")
	fp := transition("false-positive ID --reason TEXT", "Mark a finding as a false positive", vuln.StateFalsePositive)
	triage := transition("triage ID", "Mark a finding as in triage", vuln.StateInTriage)
	na := transition("not-affected ID --reason JUSTIFICATION", "Mark a finding as not affected (VEX justification)", vuln.StateNotAffected)
	fixed := transition("fixed ID", "Mark a finding as fixed (verified by hand)", vuln.StateFixed)
	reopen := transition("reopen ID", "Reopen a finding", vuln.StateReopened)
	for _, c := range []*cobra.Command{accept, fp, triage, na, fixed, reopen} {
		c.Flags().StringVar(&reason, "reason", "", "why")
		add(c)
	}

	stats := &cobra.Command{
		Use:   "stats",
		Short: "Open findings by priority, MTTR, SLA compliance, KEV exposure",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withService(cmd.Context(), g, func(svc *vuln.Service, _ *assets.Service) error {
				st, err := svc.Stats(cmd.Context(), tenant)
				if err != nil {
					return err
				}
				if g.JSON {
					return json.NewEncoder(os.Stdout).Encode(st)
				}
				fmt.Printf("open %d (act %d, attend %d, track* %d, track %d), overdue %d\nKEV: %d open findings on %d assets\nfixed %d, mean time to remediate %.1f days, SLA compliance %.0f%%\n",
					st.Open, st.ByPriority["act"], st.ByPriority["attend"], st.ByPriority["track*"], st.ByPriority["track"], st.Overdue,
					st.KEVOpen, st.KEVAssets, st.Fixed, st.MTTRDays, st.SLACompliance*100)
				return nil
			})
		},
	}
	add(stats)

	feed := func(use, short string, source func(config.VulnFeeds) string, imp func(*vuln.Service, context.Context, io.Reader) (int, error)) *cobra.Command {
		return &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.MaximumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				cfg, err := g.Config()
				if err != nil {
					return err
				}
				src := source(cfg.Vuln.Feeds)
				if len(args) == 1 {
					src = args[0]
				}
				data, err := Fetch(cmd.Context(), src)
				if err != nil {
					return err
				}
				return withService(cmd.Context(), g, func(svc *vuln.Service, _ *assets.Service) error {
					n, err := imp(svc, cmd.Context(), bytes.NewReader(data))
					if err != nil {
						return err
					}
					if g.JSON {
						return json.NewEncoder(os.Stdout).Encode(map[string]any{"source": src, "entries": n})
					}
					fmt.Fprintf(os.Stderr, "%s: %d entries imported, findings re-prioritized\n", src, n)
					return nil
				})
			},
		}
	}
	add(feed("import-kev [FILE|URL]", "Import CISA's KEV catalog (JSON; default: vuln.feeds.kev_url)",
		func(f config.VulnFeeds) string { return f.KEVURL }, (*vuln.Service).ImportKEV))
	add(feed("import-epss [FILE|URL]", "Import the daily EPSS scores (CSV, gzipped or not; default: vuln.feeds.epss_url)",
		func(f config.VulnFeeds) string { return f.EPSSURL }, (*vuln.Service).ImportEPSS))

	importCVE := &cobra.Command{
		Use:   "import-cve FILE|DIR...",
		Short: "Import CVE JSON 5 records (cvelistV5, CISA vulnrichment): SSVC decision points and CVSS vectors",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var recs []vuln.CVERecord
			for _, root := range args {
				err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
					if err != nil || d.IsDir() || filepath.Ext(path) != ".json" {
						return err
					}
					b, err := os.ReadFile(path)
					if err != nil {
						return err
					}
					r, err := vuln.ParseCVERecord(b)
					if err != nil {
						fmt.Fprintf(os.Stderr, "skip %s: %v\n", path, err)
						return nil
					}
					recs = append(recs, r)
					return nil
				})
				if err != nil {
					return err
				}
			}
			return withService(cmd.Context(), g, func(svc *vuln.Service, _ *assets.Service) error {
				if err := svc.ImportCVERecords(cmd.Context(), recs); err != nil {
					return err
				}
				if g.JSON {
					return json.NewEncoder(os.Stdout).Encode(map[string]int{"records": len(recs)})
				}
				fmt.Fprintf(os.Stderr, "%d CVE records imported, findings re-prioritized\n", len(recs))
				return nil
			})
		},
	}
	add(importCVE)

	var kevURL, epssURL string
	feeds := &cobra.Command{Use: "feeds", Short: "Threat feeds for prioritization"}
	update := &cobra.Command{
		Use:   "update",
		Short: "Download and import KEV and EPSS",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.Config()
			if err != nil {
				return err
			}
			if kevURL == "" {
				kevURL = cfg.Vuln.Feeds.KEVURL
			}
			if epssURL == "" {
				epssURL = cfg.Vuln.Feeds.EPSSURL
			}
			return withService(cmd.Context(), g, func(svc *vuln.Service, _ *assets.Service) error {
				res, err := svc.UpdateFeeds(cmd.Context(), nil, kevURL, epssURL)
				if err != nil {
					return err
				}
				if g.JSON {
					return json.NewEncoder(os.Stdout).Encode(res)
				}
				fmt.Fprintf(os.Stderr, "KEV: %d entries, EPSS: %d scores, findings re-prioritized\n", res.KEV, res.EPSS)
				return nil
			})
		},
	}
	update.Flags().StringVar(&kevURL, "kev-url", "", "KEV catalog URL or file (default: vuln.feeds.kev_url, "+DefaultKEVURL+")")
	update.Flags().StringVar(&epssURL, "epss-url", "", "EPSS scores URL or file (default: vuln.feeds.epss_url, "+DefaultEPSSURL+")")
	update.Flags().StringVar(&tenant, "tenant", "default", "tenant")
	g.DataFlag(update)
	feeds.AddCommand(update)
	cmd.AddCommand(feeds)
	return cmd
}

type listFlags struct {
	state, severity, priority, asset, vulnID, after string
	kev, overdue                                    bool
	limit                                           int
}

func (f *listFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.state, "state", "open,in_triage,reopened", "states, comma-separated (\"\": all)")
	c.Flags().StringVar(&f.severity, "severity", "", "minimum severity")
	c.Flags().StringVar(&f.priority, "priority", "", "act, attend, track* or track")
	c.Flags().StringVar(&f.asset, "asset", "", "asset id")
	c.Flags().StringVar(&f.vulnID, "vuln", "", "vulnerability id (CVE-…)")
	c.Flags().StringVar(&f.after, "after", "", "cursor from the previous page")
	c.Flags().BoolVar(&f.kev, "kev", false, "only findings in CISA KEV")
	c.Flags().BoolVar(&f.overdue, "overdue", false, "only findings past their due date")
	c.Flags().IntVar(&f.limit, "limit", 50, "page size (≤ 1000)")
}

func (f *listFlags) filter() (vuln.Filter, error) {
	out := vuln.Filter{Priority: vuln.Decision(f.priority), AssetID: f.asset, VulnID: f.vulnID, After: f.after, KEV: f.kev, Overdue: f.overdue, Limit: f.limit}
	for _, s := range strings.Split(f.state, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out.States = append(out.States, vuln.State(s))
		}
	}
	if f.severity != "" {
		if out.MinSeverity = report.ParseSeverity(f.severity); out.MinSeverity == report.SeverityUnknown {
			return out, fmt.Errorf("--severity %q: want critical, high, medium, low or info", f.severity)
		}
	}
	return out, nil
}

// Fetch reads a feed from a file or an http(s) URL, un-gzipping it when it
// is compressed.
func Fetch(ctx context.Context, src string) ([]byte, error) { return vuln.FetchFeed(ctx, nil, src) }

func withService(ctx context.Context, g *cli.Globals, fn func(*vuln.Service, *assets.Service) error) error {
	cfg, err := g.Config()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.Data, 0o750); err != nil {
		return fmt.Errorf("create data directory %s: %w", cfg.Data, err)
	}
	log := cli.Logger(cfg)
	db, err := store.Open(ctx, store.Config{Driver: cfg.State.Driver, DSN: cfg.StateDSN()}, log)
	if err != nil {
		return err
	}
	defer db.Close()
	opts, err := vuln.OptionsFromConfig(cfg.Vuln)
	if err != nil {
		return err
	}
	opts.Log = log
	inv := assets.New(db, nil, time.Now, log)
	return fn(vuln.New(db, inv, nil, opts), inv)
}

// WithServices opens the state store of the configuration and runs fn
// (the assets command shares it).
func WithServices(ctx context.Context, g *cli.Globals, fn func(*vuln.Service, *assets.Service) error) error {
	return withService(ctx, g, fn)
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format("2006-01-02")
}
