// Package playbooks is `wacht playbooks`: validate playbook files offline,
// and apply, list, run, follow and approve playbooks on a running server.
package playbooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/internal/soar"
	_ "github.com/wacht-soc/wacht/internal/soar/actions/all" // actions known to validate
)

// NewCommand returns `wacht playbooks`.
func NewCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "playbooks", Aliases: []string{"playbook"}, Short: "Validate, apply, run and approve SOAR playbooks"}
	cmd.AddCommand(validateCmd())
	for _, c := range []*cobra.Command{listCmd(g), applyCmd(g), showCmd(g), runCmd(g), runsCmd(g), approveCmd(g), retryCmd(g),
		replayCmd(g), cancelCmd(g), schedulesCmd(g), approvalsCmd(g), secretCmd(g)} {
		g.ServerFlags(c)
		cmd.AddCommand(c)
	}
	return cmd
}

func validateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check playbook files (strict: unknown keys, actions, needs, CEL) without a server",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			bad := 0
			for _, f := range args {
				src, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				pb, err := soar.Parse(src)
				var ve *soar.ValidationError
				switch {
				case errors.As(err, &ve):
					bad++
					fmt.Printf("%s: invalid\n", f)
					for _, p := range ve.Problems {
						fmt.Printf("  %s\n", p)
					}
				case err != nil:
					return err
				default:
					fmt.Printf("%s: ok (%s, %d steps)\n", f, pb.Name, len(pb.Steps))
				}
			}
			if bad > 0 {
				return fmt.Errorf("%d of %d files invalid", bad, len(args))
			}
			return nil
		},
	}
}

// call performs one API request; out receives the JSON answer (printed
// as is with --json).
func call(ctx context.Context, g *cli.Globals, method, path, ctype string, body []byte, out any) error {
	b, err := g.Do(ctx, method, path, ctype, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if g.JSON {
		_, err := os.Stdout.Write(b)
		return err
	}
	if out == nil || len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, out)
}

func jsonBody(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func esc(s string) string { return url.PathEscape(s) }

func listCmd(g *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List playbooks (latest versions)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out []soar.PlaybookVersion
			if err := call(cmd.Context(), g, "GET", "/api/v1/playbooks", "", nil, &out); err != nil || g.JSON {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tTRIGGERS\tSAVED\tBY")
			for _, p := range out {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", p.Name, p.Version, strings.Join(p.Triggers, ","), p.CreatedAt.Format(time.RFC3339), p.CreatedBy)
			}
			return tw.Flush()
		},
	}
}

func applyCmd(g *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "apply FILE...",
		Short: "Save playbooks (each save of a changed file is a new version)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, f := range args {
				src, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				var v soar.PlaybookVersion
				if err := call(cmd.Context(), g, "POST", "/api/v1/playbooks", "application/yaml", src, &v); err != nil {
					return fmt.Errorf("%s: %w", f, err)
				}
				if !g.JSON {
					fmt.Printf("%s: %s version %d\n", f, v.Name, v.Version)
				}
			}
			return nil
		},
	}
}

func showCmd(g *cli.Globals) *cobra.Command {
	var version int64
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Print a playbook's source (latest or --version)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := "/api/v1/playbooks/" + esc(args[0])
			if version > 0 {
				p += fmt.Sprintf("?version=%d", version)
			}
			var v soar.PlaybookVersion
			if err := call(cmd.Context(), g, "GET", p, "", nil, &v); err != nil || g.JSON {
				return err
			}
			fmt.Printf("# %s version %d, saved %s by %s\n%s", v.Name, v.Version, v.CreatedAt.Format(time.RFC3339), v.CreatedBy, v.Source)
			return nil
		},
	}
	cmd.Flags().Int64Var(&version, "version", 0, "a saved version (default: latest)")
	return cmd
}

func runCmd(g *cli.Globals) *cobra.Command {
	var input, incident string
	var dry, wait bool
	cmd := &cobra.Command{
		Use:   "run NAME",
		Short: "Start a playbook by hand (or on a case with --incident)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]any{"dry_run": dry}
			if input != "" {
				var in map[string]any
				if err := json.Unmarshal([]byte(input), &in); err != nil {
					return fmt.Errorf("--input: want a JSON object: %w", err)
				}
				body["inputs"] = in
			}
			p := "/api/v1/playbooks/" + esc(args[0]) + "/run"
			if incident != "" {
				p = "/api/v1/incidents/" + esc(incident) + "/playbooks/" + esc(args[0]) + "/run"
			}
			var run soar.Run
			asJSON := g.JSON
			g.JSON = asJSON && !wait // with --wait only the final state is printed
			err := call(cmd.Context(), g, "POST", p, "application/json", jsonBody(body), &run)
			g.JSON = asJSON
			if err != nil || (asJSON && !wait) {
				return err
			}
			if !wait {
				fmt.Printf("run %s started (%s version %d)\n", run.ID, run.Playbook, run.PlaybookVersion)
				return nil
			}
			return follow(cmd.Context(), g, run.ID)
		},
	}
	f := cmd.Flags()
	f.StringVar(&input, "input", "", "inputs as a JSON object")
	f.StringVar(&incident, "incident", "", "run on this incident")
	f.BoolVar(&dry, "dry-run", false, "show what each step would do without side effects")
	f.BoolVar(&wait, "wait", false, "wait until the run ends or waits for approval, then show it")
	return cmd
}

// follow polls a run until it ends or waits for a person, then prints it.
func follow(ctx context.Context, g *cli.Globals, id string) error {
	asJSON := g.JSON
	g.JSON = false
	defer func() { g.JSON = asJSON }()
	for {
		var run soar.Run
		if err := call(ctx, g, "GET", "/api/v1/playbook-runs/"+esc(id), "", nil, &run); err != nil {
			return err
		}
		waiting := false
		for _, s := range run.Steps {
			waiting = waiting || s.Status == soar.StepWaiting
		}
		if run.Status.Terminal() || waiting {
			if asJSON {
				return json.NewEncoder(os.Stdout).Encode(run)
			}
			printRun(run)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func printRun(r soar.Run) {
	fmt.Printf("run %s  %s v%d  %s  trigger %s", r.ID, r.Playbook, r.PlaybookVersion, r.Status, r.Trigger)
	if r.IncidentID != "" {
		fmt.Printf("  incident %s", r.IncidentID)
	}
	if r.DryRun {
		fmt.Print("  (dry run)")
	}
	fmt.Println()
	if r.Error != "" {
		fmt.Printf("  error: %s\n", r.Error)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "  STEP\tSTATUS\tATTEMPT\tSECONDS\tDETAIL")
	for _, s := range r.Steps {
		detail := s.Error
		switch {
		case s.Status == soar.StepWaiting && s.Role != "":
			detail = fmt.Sprintf("waiting for %s until %s: %s", s.Role, s.RunAt.Format(time.RFC3339), s.Message)
		case detail == "" && len(s.Output) > 0:
			detail = string(s.Output)
		}
		if len(detail) > 120 {
			detail = detail[:117] + "..."
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%.3f\t%s\n", s.StepID, s.Status, s.Attempt, s.Duration, detail)
	}
	_ = tw.Flush()
}

func runsCmd(g *cli.Globals) *cobra.Command {
	var playbook, status, incident string
	var limit int
	cmd := &cobra.Command{
		Use:   "runs [RUN]",
		Short: "List runs, or show one run with each step's input, output, attempts and errors",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				var run soar.Run
				if err := call(cmd.Context(), g, "GET", "/api/v1/playbook-runs/"+esc(args[0]), "", nil, &run); err != nil || g.JSON {
					return err
				}
				printRun(run)
				return nil
			}
			v := url.Values{}
			for k, s := range map[string]string{"playbook": playbook, "status": status, "incident": incident} {
				if s != "" {
					v.Set(k, s)
				}
			}
			if limit > 0 {
				v.Set("limit", fmt.Sprint(limit))
			}
			var out []soar.Run
			if err := call(cmd.Context(), g, "GET", "/api/v1/playbook-runs?"+v.Encode(), "", nil, &out); err != nil || g.JSON {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tPLAYBOOK\tVERSION\tSTATUS\tTRIGGER\tINCIDENT\tSTARTED\tERROR")
			for _, r := range out {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Playbook, r.PlaybookVersion, r.Status, r.Trigger,
					orDash(r.IncidentID), r.CreatedAt.Format(time.RFC3339), r.Error)
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&playbook, "playbook", "", "only this playbook")
	f.StringVar(&status, "status", "", "running, succeeded, failed or cancelled")
	f.StringVar(&incident, "incident", "", "only runs on this incident")
	f.IntVar(&limit, "limit", 50, "at most this many")
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func approveCmd(g *cli.Globals) *cobra.Command {
	var step, comment string
	var deny bool
	cmd := &cobra.Command{
		Use:   "approve RUN",
		Short: "Approve (or --deny) a run's waiting approval step",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if step == "" {
				var run soar.Run
				asJSON := g.JSON
				g.JSON = false
				err := call(cmd.Context(), g, "GET", "/api/v1/playbook-runs/"+esc(args[0]), "", nil, &run)
				g.JSON = asJSON
				if err != nil {
					return err
				}
				for _, s := range run.Steps {
					if s.Status == soar.StepWaiting && s.Role != "" {
						step = s.StepID
						break
					}
				}
				if step == "" {
					return fmt.Errorf("run %s has no step waiting for approval", args[0])
				}
			}
			verb := "approve"
			if deny {
				verb = "deny"
			}
			var run soar.Run
			p := "/api/v1/playbook-runs/" + esc(args[0]) + "/steps/" + esc(step) + "/" + verb
			if err := call(cmd.Context(), g, "POST", p, "application/json", jsonBody(map[string]string{"comment": comment}), &run); err != nil || g.JSON {
				return err
			}
			fmt.Printf("%s: step %s of run %s\n", map[bool]string{true: "denied", false: "approved"}[deny], step, run.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&step, "step", "", "the approval step (default: the one waiting)")
	f.StringVar(&comment, "comment", "", "why")
	f.BoolVar(&deny, "deny", false, "deny instead of approve")
	return cmd
}

func retryCmd(g *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "retry RUN",
		Short: "Retry a failed run from its failed steps (completed steps are not run again)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var run soar.Run
			if err := call(cmd.Context(), g, "POST", "/api/v1/playbook-runs/"+esc(args[0])+"/retry", "", nil, &run); err != nil || g.JSON {
				return err
			}
			fmt.Printf("run %s is %s again\n", run.ID, run.Status)
			return nil
		},
	}
}

func replayCmd(g *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "replay RUN",
		Short: "Start a new run of the same playbook version with the same trigger data",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var run soar.Run
			if err := call(cmd.Context(), g, "POST", "/api/v1/playbook-runs/"+esc(args[0])+"/replay", "", nil, &run); err != nil || g.JSON {
				return err
			}
			fmt.Printf("run %s started (replay of %s)\n", run.ID, args[0])
			return nil
		},
	}
}

func cancelCmd(g *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel RUN",
		Short: "Cancel a running run (its unfinished steps never run)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var run soar.Run
			if err := call(cmd.Context(), g, "POST", "/api/v1/playbook-runs/"+esc(args[0])+"/cancel", "", nil, &run); err != nil || g.JSON {
				return err
			}
			fmt.Printf("run %s is %s\n", run.ID, run.Status)
			return nil
		},
	}
}

func schedulesCmd(g *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "schedules",
		Short: "List scheduled playbooks and when each fires next",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out []soar.ScheduleState
			if err := call(cmd.Context(), g, "GET", "/api/v1/playbook-schedules", "", nil, &out); err != nil || g.JSON {
				return err
			}
			for _, s := range out {
				last := "-"
				if !s.LastAt.IsZero() {
					last = s.LastAt.Format(time.RFC3339)
				}
				fmt.Printf("%-40s %-24s next %s  last %s\n", s.Playbook, s.Cron, s.NextAt.Format(time.RFC3339), last)
			}
			return nil
		},
	}
}

func approvalsCmd(g *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "approvals",
		Short: "List steps waiting for approval",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out []soar.Approval
			if err := call(cmd.Context(), g, "GET", "/api/v1/approvals", "", nil, &out); err != nil || g.JSON {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tPLAYBOOK\tSTEP\tROLE\tDEADLINE\tMESSAGE")
			for _, a := range out {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.RunID, a.Playbook, a.Step, a.Role, a.Deadline.Format(time.RFC3339), a.Message)
			}
			return tw.Flush()
		},
	}
}

func secretCmd(g *cli.Globals) *cobra.Command {
	var del bool
	cmd := &cobra.Command{
		Use:   "secret [NAME]",
		Short: "List secret names, or set NAME from standard input (--delete removes it); values are never shown",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				var out []soar.SecretInfo
				if err := call(cmd.Context(), g, "GET", "/api/v1/secrets", "", nil, &out); err != nil || g.JSON {
					return err
				}
				for _, s := range out {
					fmt.Printf("%s\t%s\t%s\n", s.Name, s.UpdatedAt.Format(time.RFC3339), s.UpdatedBy)
				}
				return nil
			}
			p := "/api/v1/secrets/" + esc(args[0])
			if del {
				return call(cmd.Context(), g, "DELETE", p, "", nil, nil)
			}
			b, err := io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
			if err != nil {
				return err
			}
			return call(cmd.Context(), g, "PUT", p, "application/json", jsonBody(map[string]string{"value": strings.TrimRight(string(b), "\r\n")}), nil)
		},
	}
	cmd.Flags().BoolVar(&del, "delete", false, "remove the secret")
	return cmd
}
