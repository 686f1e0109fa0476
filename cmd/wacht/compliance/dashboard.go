package compliance

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/internal/comply"
)

// dashboard prints a framework's dashboard (what the console shows from
// GET /api/v1/compliance/dashboard/{id}): coverage, status, trend,
// failing subjects, expiring waivers, evidence due for renewal and the
// regulatory clock on-time rate.
func (st *cmdState) dashboard() *cobra.Command {
	var days int
	cmd := &cobra.Command{
		Use: "dashboard FRAMEWORK [--days N]", Short: "A framework's dashboard: coverage, status, trend, failing subjects, expiring waivers, evidence due",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if days < 0 {
				return fmt.Errorf("--days %d: want a positive number of days", days)
			}
			return st.with(cmd.Context(), func(svc *comply.Service) error {
				d, err := svc.DashboardOf(cmd.Context(), st.tenant, args[0], days)
				if err != nil {
					return err
				}
				return st.out(d, func(w *tabwriter.Writer) { printDashboard(w, d) })
			})
		},
	}
	cmd.Flags().IntVar(&days, "days", 90, "trend over the last N days")
	return cmd
}

func printDashboard(w *tabwriter.Writer, d comply.Dashboard) {
	fmt.Fprintf(w, "%s (%s): %d requirements, %d covered by checks\n", d.Name, d.Framework, d.Requirements, d.Covered)
	var parts []string
	for s, n := range d.Summary {
		parts = append(parts, fmt.Sprintf("%s %d", s, n))
	}
	sort.Strings(parts)
	fmt.Fprintf(w, "status:\t%s\n", strings.Join(parts, ", "))
	if d.DeadlinesSeen > 0 {
		fmt.Fprintf(w, "regulatory deadlines on time:\t%.0f%% of %d\n", 100*d.OnTime, d.DeadlinesSeen)
	} else {
		fmt.Fprintln(w, "regulatory deadlines on time:\tnone judged")
	}
	fmt.Fprintf(w, "trend:\t%d runs\n", len(d.Trend))
	for _, p := range d.Trend {
		fmt.Fprintf(w, "\t%s\t%s\tpass %d\tfail %d\twaived %d\n", p.At.Format("2006-01-02 15:04"), p.RunID,
			p.Counts[comply.StatusPass], p.Counts[comply.StatusFail], p.Counts[comply.StatusWaived])
	}
	fmt.Fprintf(w, "failing subjects:\t%d\n", len(d.Failing))
	for _, r := range d.Failing {
		fmt.Fprintf(w, "\t%s\t%s\t%s\t%s\n", r.Check, r.Subject, r.Status, r.Reason)
	}
	fmt.Fprintf(w, "waivers expiring soon:\t%d\n", len(d.Expiring))
	for _, x := range d.Expiring {
		fmt.Fprintf(w, "\t%s\t%s\t%s\towner %s\texpires %s\n", x.ID, x.Check, x.Subject, x.Owner, x.ExpiresAt.Format("2006-01-02"))
	}
	fmt.Fprintf(w, "evidence due for renewal:\t%d\n", len(d.RenewalDue))
	for _, e := range d.RenewalDue {
		due := ""
		if e.Latest != nil && !e.Latest.RenewBy.IsZero() {
			due = e.Latest.RenewBy.Format("2006-01-02")
		}
		fmt.Fprintf(w, "\t%s\t%s\t%s\trenew by %s\n", e.ID, e.Requirement, e.Title, due)
	}
}
