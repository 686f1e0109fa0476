// Package rules is `wacht rules`: check, test and list Sigma rules offline,
// and read rule health, reload rules and run retro-hunts on a server.
package rules

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/internal/detect"
	"github.com/wacht-soc/wacht/sigma"
)

// NewCommand returns `wacht rules`.
func NewCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "Check, test and list Sigma rules; rule health, reload and retro-hunts on a server",
	}
	cmd.AddCommand(checkCommand(g), testCommand(g), listCommand(g), statusCommand(g), reloadCommand(g), HuntCommand(g))
	return cmd
}

// compileFlags are the flags that decide how rules compile.
type compileFlags struct {
	placeholders string
	unknown      string
}

func (f *compileFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.placeholders, "placeholders", "", "YAML file of expand placeholder values (name: [values])")
	cmd.Flags().StringVar(&f.unknown, "unknown-placeholder", "reject", "a placeholder without values: reject (rule unsupported), wildcard or nomatch")
}

// Options reads the flags into compile options.
func (f *compileFlags) options() (sigma.Options, error) {
	var o sigma.Options
	switch f.unknown {
	case "reject", "":
		o.UnknownPlaceholder = sigma.PlaceholderReject
	case "wildcard":
		o.UnknownPlaceholder = sigma.PlaceholderWildcard
	case "nomatch":
		o.UnknownPlaceholder = sigma.PlaceholderNoMatch
	default:
		return o, fmt.Errorf("--unknown-placeholder %q: want reject, wildcard or nomatch", f.unknown)
	}
	if f.placeholders != "" {
		data, err := os.ReadFile(f.placeholders)
		if err != nil {
			return o, fmt.Errorf("read placeholders: %w", err)
		}
		if err := yaml.Unmarshal(data, &o.Placeholders); err != nil {
			return o, fmt.Errorf("read placeholders %s: %w", f.placeholders, err)
		}
	}
	return o, nil
}

func checkCommand(g *cli.Globals) *cobra.Command {
	var cf compileFlags
	cmd := &cobra.Command{
		Use:   "check PATH...",
		Short: "Parse and compile rules; list invalid and unsupported ones (exit 1 when any is invalid)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := cf.options()
			if err != nil {
				return err
			}
			rs, err := detect.Load(detect.LoadOptions{Paths: args, Sigma: opts}, time.Now())
			if err != nil {
				return err
			}
			total, ok, unsup, invalid := rs.Counts()
			out := cmd.OutOrStdout()
			if g.JSON {
				enc := json.NewEncoder(out)
				_ = enc.Encode(map[string]any{"rules": total, "ok": ok, "unsupported": unsup, "invalid": invalid,
					"problems": rs.Problems, "took_ms": rs.Took.Milliseconds()})
			} else {
				for _, p := range rs.Problems {
					id := ""
					if p.RuleID != "" {
						id = " (" + p.RuleID + ")"
					}
					fmt.Fprintf(out, "%s%s: %s: %s\n", p.File, id, p.Kind, p.Reason)
				}
				fmt.Fprintf(out, "%d rules: %d ok, %d unsupported, %d invalid (%v)\n", total, ok, unsup, invalid, rs.Took.Round(time.Millisecond))
			}
			if invalid > 0 {
				return fmt.Errorf("%d invalid rules", invalid)
			}
			return nil
		},
	}
	cf.add(cmd)
	return cmd
}

func testCommand(g *cli.Globals) *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "test DIR...",
		Short: "Run rule tests written as data: <case>/{rule.yml, events.jsonl, want.json}",
		Long: `Run rule tests written as data. Each case is a folder with rule.yml (Sigma
documents), events.jsonl (one flat JSON object per line; _time, _msg and
_logsource.product/category/service set the event's time, message and
logsource) and want.json:

  {"matches": {"<rule id>": [0, 3]}, "placeholders": {"name": ["v"]}, "problems": [], "no_flush": false}

matches lists, per rule, the indexes of the events that make it fire, in
order; rules not listed must not fire. Exit 1 when a case fails.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			var dirs []string
			for _, a := range args {
				d, err := detect.FindCases(a)
				if err != nil {
					return err
				}
				dirs = append(dirs, d...)
			}
			if len(dirs) == 0 {
				return errors.New("no rule tests found (folders with rule.yml and want.json)")
			}
			failed := 0
			var results []detect.CaseResult
			for _, dir := range dirs {
				res, err := detect.RunCase(dir)
				if err != nil {
					res.Failures = append(res.Failures, err.Error())
				}
				results = append(results, res)
				if !res.Passed() {
					failed++
				}
				if g.JSON {
					continue
				}
				switch {
				case !res.Passed():
					fmt.Fprintf(out, "FAIL %s\n", dir)
					for _, f := range res.Failures {
						fmt.Fprintf(out, "     %s\n", f)
					}
				case verbose:
					fmt.Fprintf(out, "ok   %s (%d events)\n", dir, res.Events)
				}
			}
			if g.JSON {
				_ = json.NewEncoder(out).Encode(results)
			} else {
				fmt.Fprintf(out, "%d cases: %d passed, %d failed\n", len(dirs), len(dirs)-failed, failed)
			}
			if failed > 0 {
				return fmt.Errorf("%d rule tests failed", failed)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list passing cases too")
	return cmd
}

func listCommand(g *cli.Globals) *cobra.Command {
	var cf compileFlags
	cmd := &cobra.Command{
		Use:   "list [PATH...]",
		Short: "List rules (the embedded starter pack when no path is given)",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := cf.options()
			if err != nil {
				return err
			}
			rs, err := detect.Load(detect.LoadOptions{Paths: args, Starter: len(args) == 0, Sigma: opts}, time.Now())
			if err != nil {
				return err
			}
			type row struct {
				ID        string   `json:"id"`
				Title     string   `json:"title"`
				Kind      string   `json:"kind"`
				Level     string   `json:"level"`
				LogSource string   `json:"logsource"`
				Attack    []string `json:"attack,omitempty"`
				Author    string   `json:"author,omitempty"`
				File      string   `json:"file"`
			}
			var rows []row
			for _, r := range rs.Rules {
				ls := strings.Trim(strings.Join([]string{r.LogSource.Product, r.LogSource.Category, r.LogSource.Service}, "/"), "/")
				id := r.ID
				if id == "" {
					id = r.Name
				}
				rows = append(rows, row{id, r.Title, r.Kind.String(), r.Level, ls, r.Attack(), r.Author, r.File})
			}
			sort.SliceStable(rows, func(i, j int) bool { return rows[i].File < rows[j].File })
			out := cmd.OutOrStdout()
			if g.JSON {
				enc := json.NewEncoder(out)
				for _, r := range rows {
					_ = enc.Encode(r)
				}
				return nil
			}
			tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "LEVEL\tKIND\tLOGSOURCE\tTITLE\tID")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Level, r.Kind, r.LogSource, r.Title, r.ID)
			}
			_ = tw.Flush()
			total, ok, unsup, invalid := rs.Counts()
			fmt.Fprintf(cmd.ErrOrStderr(), "%d rules: %d ok, %d unsupported, %d invalid\n", total, ok, unsup, invalid)
			return nil
		},
	}
	cf.add(cmd)
	return cmd
}

func statusCommand(g *cli.Globals) *cobra.Command {
	var state string
	var slow bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Rule health on a server: loaded or failed, events evaluated, matches, evaluation time",
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.Client()
			if err != nil {
				return err
			}
			path := "/api/v1/rules?state=" + state
			if slow {
				path += "&slow=1"
			}
			body, err := c.Get(cmd.Context(), path)
			if err != nil {
				return err
			}
			defer body.Close()
			out := cmd.OutOrStdout()
			if g.JSON {
				_, err = io.Copy(out, body)
				return err
			}
			var list []detect.RuleStatus
			if err := json.NewDecoder(body).Decode(&list); err != nil {
				return fmt.Errorf("read rule status: %w", err)
			}
			sort.SliceStable(list, func(i, j int) bool { return list[i].Matches > list[j].Matches })
			tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STATE\tMATCHES\tSUPPRESSED\tCOLLAPSED\tEVALUATED\tEVAL MS\tLEVEL\tTITLE\tID")
			for _, st := range list {
				flag := ""
				if st.Slow {
					flag = " (slow)"
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.1f%s\t%s\t%s\t%s\n", st.State, st.Matches, st.Suppressed, st.Collapsed, st.Evaluated, st.EvalTimeMS, flag, st.Level, st.Title, st.ID)
				if st.Error != "" {
					fmt.Fprintf(tw, "\t\t\t\t\t\t\t  %s\t\n", st.Error)
				}
			}
			return tw.Flush()
		},
	}
	g.ServerFlags(cmd)
	cmd.Flags().StringVar(&state, "state", "", "only rules in this state: loaded, unsupported, invalid")
	cmd.Flags().BoolVar(&slow, "slow", false, "only slow rules")
	return cmd
}

func reloadCommand(g *cli.Globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "reload",
		Short: "Make a server re-read its rule folders now",
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := "/api/v1/rules/reload"
			if force {
				path += "?force=1"
			}
			var res detect.ReloadResult
			if err := post(cmd.Context(), g, path, nil, &res); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if g.JSON {
				return json.NewEncoder(out).Encode(res)
			}
			for _, p := range res.Problems {
				fmt.Fprintf(out, "%s: %s: %s\n", p.File, p.Kind, p.Reason)
			}
			verb := "unchanged"
			if res.Changed {
				verb = "reloaded"
			}
			fmt.Fprintf(out, "%s: %d rules: %d ok, %d unsupported, %d invalid\n", verb, res.Rules, res.OK, res.Unsupported, res.Invalid)
			return nil
		},
	}
	g.ServerFlags(cmd)
	cmd.Flags().BoolVar(&force, "force", false, "recompile even when no file changed")
	return cmd
}

// HuntCommand is `wacht rules hunt`; `wacht hunt --sigma` runs it too.
func HuntCommand(g *cli.Globals) *cobra.Command {
	var since, until string
	var ids []string
	var maxEvents int
	cmd := &cobra.Command{
		Use:   "hunt [RULE.yml...]",
		Short: "Run Sigma rules over a server's stored events (retro-hunt)",
		Long: `Run Sigma rules over stored events: rule files given here and/or loaded rules
named with --id. The server narrows the events with a LogsQL query on the
rules' logsources, then evaluates the rules exactly, correlations included.
Results are shown, not raised as alerts.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var text []string
			for _, a := range args {
				b, err := os.ReadFile(a)
				if err != nil {
					return fmt.Errorf("read rule: %w", err)
				}
				text = append(text, strings.TrimSpace(string(b)))
			}
			if len(text) == 0 && len(ids) == 0 {
				return errors.New("give rule files or --id")
			}
			req := map[string]any{"rule_ids": ids, "rule": strings.Join(text, "\n---\n"), "start": since, "end": until, "max_events": maxEvents}
			var res detect.HuntResult
			if err := post(cmd.Context(), g, "/api/v1/rules/hunt", req, &res); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if g.JSON {
				enc := json.NewEncoder(out)
				for _, d := range res.Detections {
					_ = enc.Encode(d)
				}
			} else {
				for _, d := range res.Detections {
					fmt.Fprintf(out, "%s  %-13s %s  %s\n", d.Time.Format(time.RFC3339), d.Level, d.Title, entitiesText(d.Entities))
				}
			}
			for _, p := range res.Problems {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s: %s\n", p.File, p.Kind, p.Reason)
			}
			trunc := ""
			if res.Truncated {
				trunc = " (truncated: raise --max-events or narrow the time range)"
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%d detections over %d events in %.0f ms; prefilter %s%s\n", len(res.Detections), res.Events, res.TookMS, res.Query, trunc)
			return nil
		},
	}
	g.ServerFlags(cmd)
	cmd.Flags().StringVar(&since, "since", "24h", "start: a duration ago (24h, 30d), RFC 3339 or Unix seconds")
	cmd.Flags().StringVar(&until, "until", "", "end (default now)")
	cmd.Flags().StringSliceVar(&ids, "id", nil, "loaded rule ids to run")
	cmd.Flags().IntVar(&maxEvents, "max-events", 0, "read at most this many events (default 100,000)")
	return cmd
}

func entitiesText(ents map[string]string) string {
	keys := make([]string, 0, len(ents))
	for k := range ents {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := ents[k]
		if len(v) > 80 {
			v = v[:77] + "..."
		}
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, " ")
}

// post sends a JSON body (nil: none) and decodes the JSON answer.
func post(ctx context.Context, g *cli.Globals, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	data, err := g.Do(ctx, http.MethodPost, path, "application/json", rd)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	return nil
}
