// Package cases is `wacht cases` and `wacht alerts`: work incidents and
// alerts on a running server (list, show, create, update, assign, close,
// flag for NIS2 / GDPR / DORA, report drafts, submissions).
package cases

import (
	"context"
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

// call sends a JSON request and decodes a 2xx answer into out (raw JSON
// to stdout with --json); otherwise it returns the server's message.
func call(ctx context.Context, g *cli.Globals, method, path string, body any, out any) error {
	return g.Call(ctx, method, path, body, out)
}

func esc(s string) string { return url.PathEscape(s) }

// NewCommand returns `wacht cases`.
func NewCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "cases",
		Aliases: []string{"incidents"},
		Short:   "Work incidents: list, show, create, update, assign, close, flag for NIS2/GDPR/DORA",
	}
	for _, c := range []*cobra.Command{listCmd(g), showCmd(g), createCmd(g), updateCmd(g), assignCmd(g), closeCmd(g),
		flagCmd(g), commentCmd(g), mergeCmd(g), splitCmd(g), reportCmd(g), submitCmd(g), timelineCmd(g), metricsCmd(g)} {
		g.ServerFlags(c)
		cmd.AddCommand(c)
	}
	return cmd
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func listCmd(g *cli.Globals) *cobra.Command {
	var status, priority, severity, assignee, q, since string
	var open bool
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List incidents, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := url.Values{}
			for k, s := range map[string]string{"status": status, "priority": priority, "severity": severity, "assignee": assignee, "q": q, "since": since} {
				if s != "" {
					v.Set(k, s)
				}
			}
			if open {
				v.Set("open", "true")
			}
			v.Set("limit", strconv.Itoa(limit))
			var out []cases.Incident
			if err := call(cmd.Context(), g, "GET", "/api/v1/incidents?"+v.Encode(), nil, &out); err != nil || g.JSON {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPRIO\tSEVERITY\tSTATUS\tALERTS\tASSIGNEE\tSLA\tCREATED\tTITLE")
			for _, inc := range out {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", inc.ID, inc.Priority, inc.Severity, inc.Status, inc.AlertCount,
					orDash(inc.Assignee), slaText(inc), ago(inc.CreatedAt), inc.Title)
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&status, "status", "", "statuses, comma-separated (new,triage,containment,eradication,recovery,post_incident,closed)")
	f.BoolVar(&open, "open", false, "only incidents that are not closed")
	f.StringVar(&priority, "priority", "", "P1-P4")
	f.StringVar(&severity, "severity", "", "informational, low, medium, high, critical")
	f.StringVar(&assignee, "assignee", "", "assigned to")
	f.StringVar(&q, "q", "", "text in title or description")
	f.StringVar(&since, "since", "", "created since (24h, 7d, RFC 3339)")
	f.IntVar(&limit, "limit", 50, "at most this many")
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func slaText(inc cases.Incident) string {
	st := inc.SLA
	switch {
	case !st.AckBreachedAt.IsZero() || !st.ContainBreachedAt.IsZero() || !st.ResolveBreachedAt.IsZero():
		s := "BREACHED"
		if st.EscalatedTo != "" {
			s += "→" + st.EscalatedTo
		}
		return s
	case st.Paused:
		return "paused"
	case inc.Status == cases.StatusClosed:
		return "met"
	}
	for _, d := range []time.Time{st.AckDue, st.ContainDue, st.ResolveDue} {
		if !d.IsZero() && d.After(time.Now()) {
			return "due " + time.Until(d).Round(time.Minute).String()
		}
	}
	return "-"
}

type detail struct {
	cases.Incident
	Tasks       []cases.Task       `json:"tasks"`
	Observables []cases.Observable `json:"observables"`
	Regulatory  []cases.RegStage   `json:"regulatory"`
}

func showCmd(g *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show an incident with its priority explanation, SLA, tasks, observables and reporting deadlines",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var d detail
			if err := call(cmd.Context(), g, "GET", "/api/v1/incidents/"+esc(args[0]), nil, &d); err != nil || g.JSON {
				return err
			}
			w := os.Stdout
			fmt.Fprintf(w, "%s  %s\n", d.ID, d.Title)
			fmt.Fprintf(w, "  status %s", d.Status)
			if d.Resolution != "" {
				fmt.Fprintf(w, " (%s)", d.Resolution)
			}
			fmt.Fprintf(w, ", severity %s, priority %s (score %d), version %d\n", d.Severity, d.Priority, d.Score, d.Version)
			fmt.Fprintf(w, "  assignee %s, team %s, %d alerts, opened %s\n", orDash(d.Assignee), orDash(d.Team), d.AlertCount, ago(d.CreatedAt))
			if d.Description != "" {
				fmt.Fprintf(w, "  %s\n", d.Description)
			}
			fmt.Fprintln(w, "Priority:")
			for _, f := range d.Explanation {
				fmt.Fprintf(w, "  %+4d  %s = %s\n", f.Points, f.Factor, f.Value)
			}
			fmt.Fprintf(w, "SLA (%s): %s; acknowledge by %s, contain by %s, resolve by %s\n", d.SLA.Policy, slaText(d.Incident),
				ago(d.SLA.AckDue), ago(d.SLA.ContainDue), ago(d.SLA.ResolveDue))
			if len(d.Entities) > 0 {
				var es []string
				for _, e := range d.Entities {
					es = append(es, e.String())
				}
				fmt.Fprintf(w, "Entities: %s\n", strings.Join(es, ", "))
			}
			if len(d.Attack) > 0 {
				fmt.Fprintf(w, "ATT&CK: %s\n", strings.Join(d.Attack, ", "))
			}
			if len(d.Tasks) > 0 {
				fmt.Fprintln(w, "Tasks:")
				for _, t := range d.Tasks {
					mark := "[ ]"
					if t.Done {
						mark = "[x]"
					}
					fmt.Fprintf(w, "  %s %s  (%s)\n", mark, t.Title, t.ID)
				}
			}
			if len(d.Observables) > 0 {
				fmt.Fprintln(w, "Observables:")
				for _, o := range d.Observables {
					fmt.Fprintf(w, "  %s:%s  TLP:%s PAP:%s  hunt: %s\n", o.Kind, o.Value, strings.ToUpper(string(o.TLP)), strings.ToUpper(string(o.PAP)), o.HuntQuery)
				}
			}
			if len(d.Regulatory) > 0 {
				fmt.Fprintln(w, "Reporting deadlines:")
				for _, s := range d.Regulatory {
					state := string(s.Status)
					if s.Overdue {
						state = "OVERDUE"
					}
					if s.Status == cases.StageSubmitted {
						state += " " + ago(s.SubmittedAt) + " by " + s.SubmittedBy
					}
					fmt.Fprintf(w, "  %-5s %-22s %-14s due %s  %s\n", s.Regime, s.Stage, s.Ref, ago(s.Due), state)
				}
			}
			return nil
		},
	}
}

func createCmd(g *cli.Globals) *cobra.Command {
	var n cases.NewIncident
	var sev, prio string
	cmd := &cobra.Command{
		Use:   "create --title TITLE",
		Short: "Open an incident by hand",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n.Severity, n.Priority = cases.Severity(sev), cases.Priority(strings.ToUpper(prio))
			var inc cases.Incident
			if err := call(cmd.Context(), g, "POST", "/api/v1/incidents", n, &inc); err != nil || g.JSON {
				return err
			}
			fmt.Printf("opened %s (%s, %s)\n", inc.ID, inc.Priority, inc.Severity)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&n.Title, "title", "", "title (required)")
	f.StringVar(&n.Description, "description", "", "description")
	f.StringVar(&n.Type, "type", "", "type: malware, ransomware, phishing, account_compromise, data_breach (task template)")
	f.StringVar(&sev, "severity", "medium", "severity")
	f.StringVar(&prio, "priority", "", "P1-P4 (default: computed)")
	f.StringVar(&n.Assignee, "assignee", "", "assignee")
	f.StringVar(&n.Team, "team", "", "team")
	return cmd
}

func updateCmd(g *cli.Globals) *cobra.Command {
	var title, desc, typ, status, res, sev, prio, team, reason string
	var waiting bool
	var version int64
	cmd := &cobra.Command{
		Use:   "update ID",
		Short: "Change an incident (only the flags given); --version guards against concurrent edits",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := map[string]any{}
			fl := cmd.Flags()
			for name, v := range map[string]string{"title": title, "description": desc, "type": typ, "status": status,
				"resolution": res, "severity": sev, "team": team, "waiting-reason": reason} {
				if fl.Changed(name) {
					p[strings.ReplaceAll(name, "-", "_")] = v
				}
			}
			if fl.Changed("priority") {
				p["priority"] = strings.ToUpper(prio)
			}
			if fl.Changed("waiting") {
				p["waiting"] = waiting
			}
			if version > 0 {
				p["version"] = version
			}
			return patch(cmd.Context(), g, args[0], p)
		},
	}
	f := cmd.Flags()
	f.StringVar(&title, "title", "", "title")
	f.StringVar(&desc, "description", "", "description")
	f.StringVar(&typ, "type", "", "incident type")
	f.StringVar(&status, "status", "", "new, triage, containment, eradication, recovery, post_incident, closed")
	f.StringVar(&res, "resolution", "", "true_positive, benign_true_positive, false_positive, duplicate")
	f.StringVar(&sev, "severity", "", "severity")
	f.StringVar(&prio, "priority", "", "P1-P4 (sets it by hand)")
	f.StringVar(&team, "team", "", "team")
	f.BoolVar(&waiting, "waiting", false, "waiting on a third party: pauses the SLA clocks (--waiting=false resumes)")
	f.StringVar(&reason, "waiting-reason", "", "why it waits")
	f.Int64Var(&version, "version", 0, "fail if the incident changed since this version")
	return cmd
}

func patch(ctx context.Context, g *cli.Globals, id string, p map[string]any) error {
	var inc cases.Incident
	if err := call(ctx, g, "PATCH", "/api/v1/incidents/"+esc(id), p, &inc); err != nil || g.JSON {
		return err
	}
	fmt.Printf("%s: status %s, priority %s, assignee %s, version %d\n", inc.ID, inc.Status, inc.Priority, orDash(inc.Assignee), inc.Version)
	return nil
}

func assignCmd(g *cli.Globals) *cobra.Command {
	var team string
	cmd := &cobra.Command{
		Use:   "assign ID USER",
		Short: "Assign an incident (acknowledges it)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			b := map[string]any{"assignee": args[1]}
			if team != "" {
				b["team"] = team
			}
			var inc cases.Incident
			if err := call(cmd.Context(), g, "POST", "/api/v1/incidents/"+esc(args[0])+"/assign", b, &inc); err != nil || g.JSON {
				return err
			}
			fmt.Printf("%s assigned to %s\n", inc.ID, inc.Assignee)
			return nil
		},
	}
	cmd.Flags().StringVar(&team, "team", "", "team")
	return cmd
}

func closeCmd(g *cli.Globals) *cobra.Command {
	var res string
	cmd := &cobra.Command{
		Use:   "close ID --resolution RESOLUTION",
		Short: "Close an incident with a resolution",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return patch(cmd.Context(), g, args[0], map[string]any{"status": "closed", "resolution": res})
		},
	}
	cmd.Flags().StringVar(&res, "resolution", "", "true_positive, benign_true_positive, false_positive, duplicate (required)")
	_ = cmd.MarkFlagRequired("resolution")
	return cmd
}

func flagCmd(g *cli.Globals) *cobra.Command {
	var nis2, gdpr, dora, malicious, crossBorder, trust bool
	var aware, classified, impact string
	cmd := &cobra.Command{
		Use:   "flag ID --nis2 | --gdpr | --dora",
		Short: "Flag an incident for regulatory reporting and start its deadline clocks",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var regimes []cases.Regime
			if nis2 {
				regimes = append(regimes, cases.RegimeNIS2)
			}
			if gdpr {
				regimes = append(regimes, cases.RegimeGDPR)
			}
			if dora {
				regimes = append(regimes, cases.RegimeDORA)
			}
			if len(regimes) == 0 {
				return fmt.Errorf("name a regime: --nis2, --gdpr or --dora")
			}
			in := cases.FlagInput{}
			var err error
			if in.AwareAt, err = parseAt(aware); err != nil {
				return fmt.Errorf("--aware-at: %w", err)
			}
			if in.ClassifiedAt, err = parseAt(classified); err != nil {
				return fmt.Errorf("--classified-at: %w", err)
			}
			fl := cmd.Flags()
			if fl.Changed("malicious") {
				in.Facts.SuspectedMalicious = &malicious
			}
			if fl.Changed("cross-border") {
				in.Facts.CrossBorder = &crossBorder
			}
			in.Facts.Impact, in.Facts.TrustServiceProvider = impact, trust
			for _, r := range regimes {
				in.Regime = r
				var sts []cases.RegStage
				if err := call(cmd.Context(), g, "POST", "/api/v1/incidents/"+esc(args[0])+"/regulatory", in, &sts); err != nil {
					return err
				}
				if g.JSON {
					continue
				}
				for _, s := range sts {
					if s.Regime == r {
						fmt.Printf("%s %-22s %s due %s\n", s.Regime, s.Stage, s.Status, ago(s.Due))
					}
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&nis2, "nis2", false, "NIS2 significant incident (Art. 23): early warning 24 h, notification 72 h, final report 1 month")
	f.BoolVar(&gdpr, "gdpr", false, "GDPR personal-data breach (Art. 33): notification 72 h")
	f.BoolVar(&dora, "dora", false, "DORA major ICT incident: initial 4 h after classification (≤ 24 h after awareness), intermediate 72 h, final 1 month")
	f.StringVar(&aware, "aware-at", "", "when you became aware (RFC 3339 or a duration ago like 3h; default now)")
	f.StringVar(&classified, "classified-at", "", "DORA: when classified as major (default now)")
	f.BoolVar(&malicious, "malicious", false, "suspected unlawful or malicious act")
	f.BoolVar(&crossBorder, "cross-border", false, "could have cross-border impact")
	f.BoolVar(&trust, "trust-service", false, "NIS2 trust service provider (notification within 24 h)")
	f.StringVar(&impact, "impact", "", "impact, for the report drafts")
	return cmd
}

func parseAt(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want RFC 3339 or a duration ago like 3h", s)
	}
	return time.Now().Add(-d), nil
}

func commentCmd(g *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "comment ID TEXT",
		Short: "Comment on an incident",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(cmd.Context(), g, "POST", "/api/v1/incidents/"+esc(args[0])+"/comments", map[string]string{"body": args[1]}, nil)
		},
	}
}

func mergeCmd(g *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "merge TARGET ID...",
		Short: "Merge incidents into TARGET (they close as duplicates)",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var inc cases.Incident
			if err := call(cmd.Context(), g, "POST", "/api/v1/incidents/"+esc(args[0])+"/merge", map[string]any{"incidents": args[1:]}, &inc); err != nil || g.JSON {
				return err
			}
			fmt.Printf("%s now has %d alerts\n", inc.ID, inc.AlertCount)
			return nil
		},
	}
}

func splitCmd(g *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "split ID ALERT...",
		Short: "Move alerts of an incident into a new incident",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var inc cases.Incident
			if err := call(cmd.Context(), g, "POST", "/api/v1/incidents/"+esc(args[0])+"/split", map[string]any{"alerts": args[1:]}, &inc); err != nil || g.JSON {
				return err
			}
			fmt.Printf("opened %s with %d alerts\n", inc.ID, inc.AlertCount)
			return nil
		},
	}
}

func reportCmd(g *cli.Globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "report ID REGIME STAGE",
		Short:   "Print the draft of a regulatory report (Markdown, or --format json)",
		Example: "  wacht cases report inc_… nis2 early_warning\n  wacht cases report inc_… gdpr sa_notification --format json",
		Args:    cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			if g.JSON {
				format = "json"
			}
			var s string
			path := fmt.Sprintf("/api/v1/incidents/%s/regulatory/%s/%s/report?format=%s", esc(args[0]), esc(args[1]), esc(args[2]), url.QueryEscape(format))
			if err := call(cmd.Context(), g, "GET", path, nil, &s); err != nil || g.JSON {
				return err
			}
			_, err := io.WriteString(os.Stdout, s)
			return err
		},
	}
	cmd.Flags().StringVar(&format, "format", "markdown", "markdown or json")
	return cmd
}

func submitCmd(g *cli.Globals) *cobra.Command {
	var ref string
	cmd := &cobra.Command{
		Use:   "submit ID REGIME STAGE",
		Short: "Record that a report was submitted to the authority (starts the next stage's clock)",
		Args:  cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			var st cases.RegStage
			path := fmt.Sprintf("/api/v1/incidents/%s/regulatory/%s/%s/submit", esc(args[0]), esc(args[1]), esc(args[2]))
			if err := call(cmd.Context(), g, "POST", path, map[string]string{"reference": ref}, &st); err != nil || g.JSON {
				return err
			}
			fmt.Printf("%s %s submitted %s by %s\n", st.Regime, st.Stage, ago(st.SubmittedAt), st.SubmittedBy)
			return nil
		},
	}
	cmd.Flags().StringVar(&ref, "reference", "", "the authority's reference")
	return cmd
}

func timelineCmd(g *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "timeline ID",
		Short: "Show an incident's timeline: alerts, changes and entries",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var tl []cases.TimelineEntry
			if err := call(cmd.Context(), g, "GET", "/api/v1/incidents/"+esc(args[0])+"/timeline", nil, &tl); err != nil || g.JSON {
				return err
			}
			for _, e := range tl {
				fmt.Printf("%s  %-10s %-12s %s\n", e.At.Local().Format(time.DateTime), e.Kind, e.Actor, e.Text)
			}
			return nil
		},
	}
}

func metricsCmd(g *cli.Globals) *cobra.Command {
	var since string
	cmd := &cobra.Command{
		Use:   "metrics",
		Short: "MTTD, MTTA, MTTC and MTTR per priority",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Priorities []cases.PriorityMetrics `json:"priorities"`
			}
			if err := call(cmd.Context(), g, "GET", "/api/v1/cases/metrics?since="+url.QueryEscape(since), nil, &out); err != nil || g.JSON {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
			fmt.Fprintln(tw, "PRIORITY\tINCIDENTS\tMTTD\tMTTA\tMTTC\tMTTR\tSLA BREACHED")
			d := func(s cases.Seconds) string { return (time.Duration(s) * time.Second).Round(time.Second).String() }
			for _, m := range out.Priorities {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%d\n", m.Priority, m.Incidents, d(m.MTTD), d(m.MTTA), d(m.MTTC), d(m.MTTR), m.Breached)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&since, "since", "30d", "period start (30d, RFC 3339)")
	return cmd
}
