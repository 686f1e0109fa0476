package cases

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/internal/cases"
)

// NewAlertsCommand returns `wacht alerts`.
func NewAlertsCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "alerts", Short: "List, show, raise and annotate alerts"}
	for _, c := range []*cobra.Command{alertsList(g), alertsShow(g), alertsRaise(g), alertsNote(g), alertsExcept(g), exceptionsList(g)} {
		g.ServerFlags(c)
		cmd.AddCommand(c)
	}
	return cmd
}

func alertsList(g *cli.Globals) *cobra.Command {
	var severity, rule, incident, since string
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List alerts, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := url.Values{"limit": {strconv.Itoa(limit)}}
			for k, s := range map[string]string{"severity": severity, "rule": rule, "incident": incident, "since": since} {
				if s != "" {
					v.Set(k, s)
				}
			}
			var out []cases.Alert
			if err := call(cmd.Context(), g, "GET", "/api/v1/alerts?"+v.Encode(), nil, &out); err != nil || g.JSON {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSEVERITY\tPRIO\tCOUNT\tINCIDENT\tCREATED\tRULE\tENTITIES")
			for _, a := range out {
				var es []string
				for _, e := range a.Entities {
					es = append(es, e.String())
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", a.ID, a.Severity, a.Priority, a.Count, orDash(a.IncidentID), ago(a.CreatedAt), a.RuleTitle, strings.Join(es, ","))
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&severity, "severity", "", "severity")
	f.StringVar(&rule, "rule", "", "rule id")
	f.StringVar(&incident, "incident", "", "incident id")
	f.StringVar(&since, "since", "", "created since (24h, 7d, RFC 3339)")
	f.IntVar(&limit, "limit", 50, "at most this many")
	return cmd
}

func alertsShow(g *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show an alert with its copied events",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var a cases.Alert
			if err := call(cmd.Context(), g, "GET", "/api/v1/alerts/"+esc(args[0]), nil, &a); err != nil || g.JSON {
				return err
			}
			fmt.Printf("%s  %s (%s)\n  severity %s, priority %s (score %d), seen %d times, incident %s\n", a.ID, a.RuleTitle, a.RuleID,
				a.Severity, a.Priority, a.Score, a.Count, orDash(a.IncidentID))
			for _, f := range a.Explanation {
				fmt.Printf("  %+4d  %s = %s\n", f.Points, f.Factor, f.Value)
			}
			if len(a.Attack) > 0 {
				fmt.Printf("  ATT&CK: %s\n", strings.Join(a.Attack, ", "))
			}
			fmt.Printf("Events (%d):\n", len(a.Events))
			for _, e := range a.Events {
				fmt.Printf("  %s\n", e)
			}
			return nil
		},
	}
}

func alertsRaise(g *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "raise FILE|-",
		Short: "Send alerts (a JSON object or array, the POST /api/v1/alerts body) from a file or stdin",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var r io.Reader = os.Stdin
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			}
			b, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			var body json.RawMessage = b
			if !json.Valid(b) {
				return fmt.Errorf("%s: not JSON", args[0])
			}
			var out json.RawMessage
			if err := call(cmd.Context(), g, "POST", "/api/v1/alerts", body, &out); err != nil || g.JSON {
				return err
			}
			var list []cases.Alert
			if err := json.Unmarshal(out, &list); err != nil {
				var one cases.Alert
				if err := json.Unmarshal(out, &one); err != nil {
					return err
				}
				list = append(list, one)
			}
			for _, a := range list {
				state := "new"
				if a.Deduplicated {
					state = fmt.Sprintf("repeat ×%d", a.Count)
				}
				fmt.Printf("%s %s → incident %s (%s)\n", a.ID, state, a.IncidentID, a.Priority)
			}
			return nil
		},
	}
}

func alertsNote(g *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "note ID TEXT",
		Short: "Add an analyst's note to an alert",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(cmd.Context(), g, "POST", "/api/v1/alerts/"+esc(args[0])+"/notes", map[string]string{"body": args[1]}, nil)
		},
	}
}

func alertsExcept(g *cli.Globals) *cobra.Command {
	var fields []string
	var reason, scope, expires string
	var days int
	var dryRun bool
	cmd := &cobra.Command{
		Use:     "except ID --field NAME=VALUE... --reason TEXT",
		Short:   "Create an exception (a Sigma filter) from an alert's field values, after a preview",
		Example: `  wacht alerts except alr_… --field Image='C:\backup\agent.exe' --reason "backup agent" --expires 720h --dry-run`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := cases.ExceptionInput{AlertID: args[0], Fields: map[string]string{}, Scope: cases.ExceptionScope(scope), Reason: reason, PreviewDays: days}
			for _, f := range fields {
				k, v, ok := strings.Cut(f, "=")
				if !ok {
					return fmt.Errorf("--field %q: want NAME=VALUE", f)
				}
				in.Fields[k] = v
			}
			if expires != "" {
				d, err := time.ParseDuration(expires)
				if err != nil || d <= 0 {
					return fmt.Errorf("--expires %q: want a duration like 720h", expires)
				}
				in.ExpiresAt = time.Now().Add(d)
			}
			if dryRun {
				var p cases.Preview
				if err := call(cmd.Context(), g, "POST", "/api/v1/exceptions/preview", in, &p); err != nil || g.JSON {
					return err
				}
				fmt.Printf("would have suppressed %d of %d alerts in the last %d days\n", p.Suppressed, p.Considered, p.Days)
				return nil
			}
			var x cases.Exception
			if err := call(cmd.Context(), g, "POST", "/api/v1/exceptions", in, &x); err != nil || g.JSON {
				return err
			}
			fmt.Printf("created %s (would have suppressed %d of %d alerts in %d days)\n%s", x.ID, x.Preview.Suppressed, x.Preview.Considered, x.Preview.Days, x.Sigma)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&fields, "field", nil, "NAME=VALUE from the alert's events (repeat)")
	f.StringVar(&reason, "reason", "", "why (required)")
	f.StringVar(&scope, "scope", "rule", "rule or logsource")
	f.StringVar(&expires, "expires", "", "expire after this long (e.g. 720h)")
	f.IntVar(&days, "preview-days", 30, "preview over this many days")
	f.BoolVar(&dryRun, "dry-run", false, "only show the preview")
	return cmd
}

func exceptionsList(g *cli.Globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "exceptions",
		Short: "List exceptions (active; --all for expired and revoked)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var xs []cases.Exception
			if err := call(cmd.Context(), g, "GET", "/api/v1/exceptions?all="+strconv.FormatBool(all), nil, &xs); err != nil || g.JSON {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATUS\tVERSION\tSCOPE\tRULE\tEXPIRES\tAUTHOR\tREASON")
			for _, x := range xs {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", x.ID, x.Status, x.Version, x.Scope, x.RuleID, ago(x.ExpiresAt), x.Author, x.Reason)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "include expired and revoked")
	return cmd
}
