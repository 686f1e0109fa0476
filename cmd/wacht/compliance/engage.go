package compliance

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/internal/comply"
)

func (st *cmdState) engagement() *cobra.Command {
	cmd := &cobra.Command{Use: "engagement", Short: "Audit engagements: the auditor's observation window and findings"}
	var e comply.Engagement
	var from, to, until string
	create := &cobra.Command{
		Use: "create --auditor SUBJECT --from DATE --to DATE --access-until DATE", Short: "Open an engagement; the auditor role then sees only its window",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if e.WindowFrom, err = parseDate(from); err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			if e.WindowTo, err = parseDate(to); err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			if e.AccessUntil, err = parseDate(until); err != nil {
				return fmt.Errorf("--access-until: %w", err)
			}
			return st.with(cmd.Context(), func(svc *comply.Service) error {
				out, err := svc.CreateEngagement(cmd.Context(), st.tenant, e, st.as)
				if err != nil {
					return err
				}
				return st.out(out, func(w *tabwriter.Writer) {
					fmt.Fprintf(w, "engagement %s: %s sees %s – %s until %s\n", out.ID, out.Auditor,
						out.WindowFrom.Format("2006-01-02"), out.WindowTo.Format("2006-01-02"), out.AccessUntil.Format("2006-01-02"))
				})
			})
		},
	}
	create.Flags().StringVar(&e.Framework, "framework", comply.FrameworkISO27001, "framework")
	create.Flags().StringVar(&e.Scope, "scope", "", "scope")
	create.Flags().StringVar(&e.Auditor, "auditor", "", "the auditor's identity (token name or user:NAME)")
	create.Flags().StringVar(&from, "from", "", "observation window start")
	create.Flags().StringVar(&to, "to", "", "observation window end")
	create.Flags().StringVar(&until, "access-until", "", "auditor access ends")
	list := &cobra.Command{
		Use: "list", Short: "List engagements", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return st.with(cmd.Context(), func(svc *comply.Service) error {
				es, err := svc.Engagements(cmd.Context(), st.tenant)
				if err != nil {
					return err
				}
				return st.out(es, func(w *tabwriter.Writer) {
					fmt.Fprintln(w, "ID\tFRAMEWORK\tAUDITOR\tWINDOW\tACCESS UNTIL")
					for _, x := range es {
						fmt.Fprintf(w, "%s\t%s\t%s\t%s – %s\t%s\n", x.ID, x.Framework, x.Auditor, x.WindowFrom.Format("2006-01-02"),
							x.WindowTo.Format("2006-01-02"), x.AccessUntil.Format("2006-01-02"))
					}
				})
			})
		},
	}
	var f comply.AuditFinding
	var due string
	finding := &cobra.Command{
		Use: "finding ENGAGEMENT --kind KIND --title T --owner O [--due DATE]", Short: "Record a finding (major/minor nonconformity, observation, improvement)",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if due != "" {
				var err error
				if f.DueAt, err = parseDate(due); err != nil {
					return fmt.Errorf("--due: %w", err)
				}
			}
			return st.with(cmd.Context(), func(svc *comply.Service) error {
				out, err := svc.AddFinding(cmd.Context(), st.tenant, args[0], f, st.as)
				if err != nil {
					return err
				}
				return st.out(out, func(w *tabwriter.Writer) { fmt.Fprintf(w, "finding %s recorded\n", out.ID) })
			})
		},
	}
	finding.Flags().StringVar((*string)(&f.Kind), "kind", "", "major_nonconformity, minor_nonconformity, observation or improvement")
	finding.Flags().StringVar(&f.Requirement, "requirement", "", "requirement id")
	finding.Flags().StringVar(&f.Title, "title", "", "title")
	finding.Flags().StringVar(&f.Description, "description", "", "description")
	finding.Flags().StringVar(&f.Owner, "owner", "", "owner")
	finding.Flags().StringVar(&due, "due", "", "due date (required for nonconformities)")
	cmd.AddCommand(create, list, finding)
	return cmd
}

func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}
