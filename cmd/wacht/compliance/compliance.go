// Package compliance is `wacht compliance` (frameworks, checks, evaluate,
// waivers, assessments, SoA, reports, imports, exports) and
// `wacht evidence verify`. Commands work on the data directory, beside a
// running server too (the state store takes concurrent writers); verify
// needs nothing but the bundle.
package compliance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/app"
	"github.com/wacht-soc/wacht/internal/comply"
	"github.com/wacht-soc/wacht/internal/store"
)

type cmdState struct {
	g      *cli.Globals
	tenant string
	as     string
}

// NewCommand returns `wacht compliance`.
func NewCommand(g *cli.Globals) *cobra.Command {
	st := &cmdState{g: g}
	cmd := &cobra.Command{Use: "compliance", Short: "Compliance from wacht's own evidence: ISO 27001, NIS2, GDPR, TISAX"}
	cmd.PersistentFlags().StringVar(&st.tenant, "tenant", "default", "tenant")
	cmd.PersistentFlags().StringVar(&st.as, "as", defaultActor(), "who acts (recorded on waivers, evidence and the audit trail)")
	// --data on every subcommand (cli.DataFlag registers a local flag).
	cmd.PersistentFlags().StringVar(&g.Data, "data", "", "data directory (env WACHT_DATA; default ./wacht-data)")
	cmd.AddCommand(st.frameworks(), st.checks(), st.evaluate(), st.results(), st.waiver(), st.assess(), st.soa(),
		st.report(), st.export(), st.importCmd(), st.evidence(), st.engagement(), st.dashboard())
	return cmd
}

// NewEvidenceCommand returns `wacht evidence` (verify an exported bundle).
func NewEvidenceCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "evidence", Short: "Evidence bundles for auditors"}
	var key string
	verify := &cobra.Command{
		Use:   "verify BUNDLE.zip",
		Short: "Check an evidence bundle offline: signature, every file's SHA-256, audit checkpoint and inclusion proofs",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			info, err := f.Stat()
			if err != nil {
				return err
			}
			if key != "" {
				if b, err := os.ReadFile(key); err == nil {
					key = strings.TrimSpace(string(b))
				}
			}
			rep, err := comply.VerifyBundle(f, info.Size(), key)
			if err != nil {
				return err
			}
			if g.JSON {
				if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
					return err
				}
			} else {
				printVerify(os.Stdout, rep)
			}
			if !rep.OK {
				return errors.New("bundle does not verify")
			}
			return nil
		},
	}
	verify.Flags().StringVar(&key, "key", "", "verifier key (or a file holding it) to pin; default: the key the bundle carries")
	cmd.AddCommand(verify)
	return cmd
}

func printVerify(w io.Writer, rep comply.VerifyReport) {
	if rep.Manifest != nil {
		fmt.Fprintf(w, "bundle of tenant %s, %s – %s: %d files, %d runs, %d results, %d evidence items, audit checkpoint %d\n",
			rep.Manifest.Tenant, rep.Manifest.From.Format(time.RFC3339), rep.Manifest.To.Format(time.RFC3339), rep.Files,
			rep.Manifest.Runs, rep.Manifest.Results, rep.Manifest.Evidence, rep.Manifest.Checkpoint)
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(w, "FAIL", p)
	}
	if rep.OK {
		pin := "with the key the bundle carries (pin it with --key)"
		if rep.KeyPinned {
			pin = "with the pinned key"
		}
		fmt.Fprintf(w, "OK: signature verified %s, %d inclusion proofs hold\n", pin, rep.Proofs)
	}
}

func defaultActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	return "cli"
}

// with opens the data directory's state store and the compliance service.
func (st *cmdState) with(ctx context.Context, fn func(*comply.Service) error) error {
	cfg, err := st.g.Config()
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
	svc, closeSvc, err := app.NewComply(db, cfg, nil, time.Now, log)
	if err != nil {
		return err
	}
	defer closeSvc()
	return fn(svc)
}

func (st *cmdState) out(v any, text func(w *tabwriter.Writer)) error {
	if st.g.JSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
	text(w)
	return w.Flush()
}

func parseTime(s string) (time.Time, error) {
	return api.ParseTime(s, time.Now())
}

func (st *cmdState) frameworks() *cobra.Command {
	return &cobra.Command{
		Use: "frameworks", Short: "List the catalogs (built in and imported) and how many requirements checks cover",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return st.with(cmd.Context(), func(svc *comply.Service) error {
				fws, err := svc.Frameworks(cmd.Context(), st.tenant)
				if err != nil {
					return err
				}
				return st.out(fws, func(w *tabwriter.Writer) {
					fmt.Fprintln(w, "ID\tNAME\tSOURCE\tREQUIREMENTS\tCOVERED BY CHECKS")
					for _, f := range fws {
						fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\n", f.ID, f.Name, f.Source, f.Requirements, f.Covered)
					}
				})
			})
		},
	}
}

func (st *cmdState) checks() *cobra.Command {
	cmd := &cobra.Command{
		Use: "checks", Short: "List the checks and the requirements each maps to",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return st.with(cmd.Context(), func(svc *comply.Service) error {
				b, err := svc.Bundle(cmd.Context(), st.tenant)
				if err != nil {
					return err
				}
				return st.out(map[string]any{"policy_hash": b.Hash(), "checks": b.Checks}, func(w *tabwriter.Writer) {
					fmt.Fprintf(w, "policy bundle %s\n", b.Hash())
					fmt.Fprintln(w, "CHECK\tTITLE\tREQUIREMENTS")
					for _, c := range b.Checks {
						var reqs []string
						for _, m := range c.Maps {
							reqs = append(reqs, m.Framework+":"+m.Requirement)
						}
						fmt.Fprintf(w, "%s\t%s\t%s\n", c.ID, c.Title, strings.Join(reqs, " "))
					}
				})
			})
		},
	}
	cmd.AddCommand(&cobra.Command{
		Use: "test", Short: "Run the Rego unit tests of every check (pass, fail, not-applicable, error fixtures)",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return st.with(cmd.Context(), func(svc *comply.Service) error {
				res, err := svc.TestChecks(cmd.Context(), st.tenant)
				if err != nil {
					return err
				}
				failed := 0
				for _, r := range res {
					if !r.Pass && !r.Skipped {
						failed++
					}
				}
				if err := st.out(res, func(w *tabwriter.Writer) {
					for _, r := range res {
						verdict := "PASS"
						if !r.Pass {
							verdict = "FAIL " + r.Error
						}
						fmt.Fprintf(w, "%s.%s\t%s\n", r.Package, r.Name, verdict)
					}
					fmt.Fprintf(w, "%d tests, %d failed\n", len(res), failed)
				}); err != nil {
					return err
				}
				if failed > 0 {
					return fmt.Errorf("%d policy tests failed", failed)
				}
				return nil
			})
		},
	})
	set := &cobra.Command{
		Use: "set CHECK KEY=VALUE...", Short: "Set the tenant's targets for a check's parameters (VALUE is JSON; null restores the default)",
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			params := map[string]any{}
			for _, kv := range args[1:] {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return fmt.Errorf("%q: want KEY=VALUE", kv)
				}
				var val any
				if err := json.Unmarshal([]byte(v), &val); err != nil {
					val = v // a bare word is a string
				}
				params[k] = val
			}
			return st.with(cmd.Context(), func(svc *comply.Service) error {
				c, err := svc.SetParams(cmd.Context(), st.tenant, args[0], params, st.as)
				if err != nil {
					return err
				}
				return st.out(c, func(w *tabwriter.Writer) { fmt.Fprintf(w, "%s parameters: %v\n", c.ID, c.Params) })
			})
		},
	}
	cmd.AddCommand(set)
	var file, id string
	upload := &cobra.Command{
		Use: "upload --id NAME --file BUNDLE.json", Short: "Add the tenant's own checks (JSON: checks and Rego modules; their tests must pass)",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			raw, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			var b comply.Bundle
			if err := json.Unmarshal(raw, &b); err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			return st.with(cmd.Context(), func(svc *comply.Service) error {
				tb, tests, err := svc.SaveBundle(cmd.Context(), st.tenant, id, &b, st.as)
				if err != nil {
					return err
				}
				return st.out(tb, func(w *tabwriter.Writer) {
					fmt.Fprintf(w, "bundle %s saved (%s), %d checks, %d policy tests passed\n", tb.ID, tb.Hash, len(b.Checks), len(tests))
				})
			})
		},
	}
	upload.Flags().StringVar(&file, "file", "", "bundle JSON")
	upload.Flags().StringVar(&id, "id", "", "bundle id")
	_ = upload.MarkFlagRequired("file")
	_ = upload.MarkFlagRequired("id")
	cmd.AddCommand(upload)
	return cmd
}

func (st *cmdState) evaluate() *cobra.Command {
	var at string
	cmd := &cobra.Command{
		Use: "evaluate [--at TIME]", Short: "Evaluate every check now, or re-evaluate history at a past time",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t := time.Now()
			if at != "" {
				var err error
				if t, err = parseTime(at); err != nil {
					return err
				}
			}
			return st.with(cmd.Context(), func(svc *comply.Service) error {
				run, res, err := svc.Evaluate(cmd.Context(), st.tenant, t, comply.CauseDemand, st.as)
				if err != nil {
					return err
				}
				return st.out(map[string]any{"run": run, "results": res}, func(w *tabwriter.Writer) {
					fmt.Fprintf(w, "run %s at %s: %d results, %d failing (policies %s, facts %s)\n", run.ID,
						run.At.Format(time.RFC3339), run.Results, run.Failing, run.PolicyHash[:12], run.FactsHash[:12])
					printResults(w, res)
				})
			})
		},
	}
	cmd.Flags().StringVar(&at, "at", "", "evaluation time (RFC 3339 or a duration ago like 7d)")
	return cmd
}

func printResults(w *tabwriter.Writer, res []comply.Result) {
	fmt.Fprintln(w, "CHECK\tSUBJECT\tSTATUS\tREASON")
	for _, r := range res {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.Check, r.Subject, r.Status, r.Reason)
	}
}

func (st *cmdState) results() *cobra.Command {
	var check, status, run string
	cmd := &cobra.Command{
		Use: "results", Short: "Show the results of the newest run (or --run)",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return st.with(cmd.Context(), func(svc *comply.Service) error {
				if run == "" {
					r, err := svc.LatestRun(cmd.Context(), st.tenant, time.Time{})
					if err != nil {
						return err
					}
					run = r.ID
				}
				res, err := svc.Results(cmd.Context(), st.tenant, comply.ResultFilter{RunID: run, Check: check, Status: comply.Status(status)})
				if err != nil {
					return err
				}
				return st.out(res, func(w *tabwriter.Writer) { printResults(w, res) })
			})
		},
	}
	cmd.Flags().StringVar(&check, "check", "", "only this check")
	cmd.Flags().StringVar(&status, "status", "", "only this status (pass, fail, waived, error, not_applicable)")
	cmd.Flags().StringVar(&run, "run", "", "run id (default: newest)")
	return cmd
}
