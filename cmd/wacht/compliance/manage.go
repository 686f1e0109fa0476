package compliance

import (
	"bytes"
	"fmt"
	"mime"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/internal/comply"
)

func (st *cmdState) waiver() *cobra.Command {
	cmd := &cobra.Command{Use: "waiver", Short: "Request, approve, reject, revoke and list waivers"}
	list := &cobra.Command{
		Use: "list", Short: "List waivers with their state", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return st.with(cmd.Context(), func(svc *comply.Service) error {
				ws, err := svc.Waivers(cmd.Context(), st.tenant)
				if err != nil {
					return err
				}
				return st.out(ws, func(w *tabwriter.Writer) {
					fmt.Fprintln(w, "ID\tCHECK\tSUBJECT\tSTATE\tEXPIRES\tREQUESTED BY\tAPPROVED BY")
					for _, x := range ws {
						fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.ID, x.Check, x.Subject, x.State,
							x.ExpiresAt.Format("2006-01-02"), x.RequestedBy, x.ApprovedBy)
					}
				})
			})
		},
	}
	var in comply.WaiverInput
	var expires string
	request := &cobra.Command{
		Use: "request --check ID --subject S --justification TEXT --expires DATE", Short: "Request a waiver (someone else approves it)",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := time.Parse(time.RFC3339, expires)
			if err != nil {
				if t, err = time.Parse("2006-01-02", expires); err != nil {
					return fmt.Errorf("--expires: want RFC 3339 or YYYY-MM-DD")
				}
			}
			in.ExpiresAt = t
			return st.with(cmd.Context(), func(svc *comply.Service) error {
				w, err := svc.RequestWaiver(cmd.Context(), st.tenant, in, st.as)
				if err != nil {
					return err
				}
				return st.out(w, func(tw *tabwriter.Writer) {
					fmt.Fprintf(tw, "waiver %s requested; another person must approve it\n", w.ID)
				})
			})
		},
	}
	request.Flags().StringVar(&in.Check, "check", "", "check id")
	request.Flags().StringVar(&in.Subject, "subject", "", "subject id or pattern (* for all)")
	request.Flags().StringVar(&in.Justification, "justification", "", "why the risk is accepted")
	request.Flags().StringVar(&in.Owner, "owner", "", "who is warned before expiry (default: requester)")
	request.Flags().StringVar(&expires, "expires", "", "expiry (mandatory)")
	_ = request.MarkFlagRequired("expires")
	decide := func(use, short string, fn func(svc *comply.Service, cmd *cobra.Command, id string) (comply.Waiver, error)) *cobra.Command {
		return &cobra.Command{Use: use + " ID", Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return st.with(cmd.Context(), func(svc *comply.Service) error {
					w, err := fn(svc, cmd, args[0])
					if err != nil {
						return err
					}
					return st.out(w, func(tw *tabwriter.Writer) { fmt.Fprintf(tw, "waiver %s is %s\n", w.ID, w.State) })
				})
			}}
	}
	cmd.AddCommand(list, request,
		decide("approve", "Approve a waiver (not your own)", func(svc *comply.Service, cmd *cobra.Command, id string) (comply.Waiver, error) {
			return svc.DecideWaiver(cmd.Context(), st.tenant, id, comply.WaiverDecision{Approve: true}, st.as)
		}),
		decide("reject", "Reject a waiver", func(svc *comply.Service, cmd *cobra.Command, id string) (comply.Waiver, error) {
			return svc.DecideWaiver(cmd.Context(), st.tenant, id, comply.WaiverDecision{}, st.as)
		}),
		decide("revoke", "End a waiver now", func(svc *comply.Service, cmd *cobra.Command, id string) (comply.Waiver, error) {
			return svc.RevokeWaiver(cmd.Context(), st.tenant, id, 0, st.as)
		}))
	return cmd
}

func (st *cmdState) assess() *cobra.Command {
	var a comply.Assessment
	var excluded bool
	cmd := &cobra.Command{
		Use: "assess FRAMEWORK REQUIREMENT", Short: "Record a manual assessment: applicability, result, TISAX maturity",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.Framework, a.Requirement, a.Applicable = args[0], args[1], !excluded
			return st.with(cmd.Context(), func(svc *comply.Service) error {
				cur, err := svc.Assessments(cmd.Context(), st.tenant, a.Framework)
				if err != nil {
					return err
				}
				a.Version = cur[a.Requirement].Version
				out, err := svc.SetAssessment(cmd.Context(), st.tenant, a, st.as)
				if err != nil {
					return err
				}
				return st.out(out, func(w *tabwriter.Writer) {
					fmt.Fprintf(w, "%s %s assessed (version %d)\n", out.Framework, out.Requirement, out.Version)
				})
			})
		},
	}
	cmd.Flags().BoolVar(&excluded, "exclude", false, "not applicable (needs --justification)")
	cmd.Flags().StringVar(&a.Justification, "justification", "", "why (required for an exclusion)")
	cmd.Flags().StringVar((*string)(&a.Result), "result", "", "manual result: pass, fail or not_applicable")
	cmd.Flags().IntVar(&a.Maturity, "maturity", 0, "TISAX maturity level 0–5")
	cmd.Flags().StringVar(&a.Note, "note", "", "note")
	return cmd
}

func (st *cmdState) soa() *cobra.Command {
	var at, framework string
	cmd := &cobra.Command{
		Use: "soa [--at TIME]", Short: "Statement of Applicability (ISO 27001: all 93 controls) or any framework's status table",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := parseTime(at)
			if err != nil {
				return err
			}
			return st.with(cmd.Context(), func(svc *comply.Service) error {
				v, err := svc.FrameworkView(cmd.Context(), st.tenant, framework, t)
				if err != nil {
					return err
				}
				return st.out(v, func(w *tabwriter.Writer) {
					fmt.Fprintln(w, "ID\tTITLE\tAPPLICABLE\tSTATUS\tBASIS\tCHECKS\tEVIDENCE")
					for _, r := range v.Rows {
						fmt.Fprintf(w, "%s\t%s\t%v\t%s\t%s\t%d\t%d\n", r.ID, r.Title, r.Applicable, r.Status, r.Source, len(r.Checks), len(r.Evidence))
					}
				})
			})
		},
	}
	cmd.Flags().StringVar(&at, "at", "", "as of (RFC 3339 or a duration ago)")
	cmd.Flags().StringVar(&framework, "framework", comply.FrameworkISO27001, "framework")
	return cmd
}

func (st *cmdState) report() *cobra.Command {
	var lang, from, to, format, out string
	cmd := &cobra.Command{
		Use: "report KIND", Short: "Render a report: iso27001-soa, nis2-art21 or gdpr-breaches (HTML, German or English)",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := parseTime(from)
			if err != nil {
				return err
			}
			t, err := parseTime(to)
			if err != nil {
				return err
			}
			return st.with(cmd.Context(), func(svc *comply.Service) error {
				rep, err := svc.BuildReport(cmd.Context(), st.tenant, comply.ReportKind(args[0]), lang, f, t)
				if err != nil {
					return err
				}
				if st.g.JSON && !cmd.Flags().Changed("format") {
					format = "json" // --json everywhere: the report's data
				}
				var buf bytes.Buffer
				switch format {
				case "html":
					if err := comply.RenderHTML(&buf, rep); err != nil {
						return err
					}
				case "json":
					st.g.JSON = true
					return st.out(rep, nil)
				case "pdf":
					b, err := svc.RenderPDF(cmd.Context(), rep)
					if err != nil {
						return err
					}
					buf.Write(b)
				default:
					return fmt.Errorf("--format: want html, json or pdf")
				}
				if out == "" || out == "-" {
					_, err := os.Stdout.Write(buf.Bytes())
					return err
				}
				return os.WriteFile(out, buf.Bytes(), 0o640)
			})
		},
	}
	cmd.Flags().StringVar(&lang, "lang", "en", "de or en")
	cmd.Flags().StringVar(&from, "from", "", "period start (default: three months before --to)")
	cmd.Flags().StringVar(&to, "to", "", "period end (default: now)")
	cmd.Flags().StringVar(&format, "format", "html", "html, pdf (needs Chromium) or json")
	cmd.Flags().StringVar(&out, "out", "", "file (default stdout)")
	return cmd
}

func (st *cmdState) export() *cobra.Command {
	var from, to, out string
	cmd := &cobra.Command{
		Use: "export --out BUNDLE.zip", Short: "Export the signed evidence bundle of a period for auditors",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := parseTime(from)
			if err != nil {
				return err
			}
			t, err := parseTime(to)
			if err != nil {
				return err
			}
			return st.with(cmd.Context(), func(svc *comply.Service) error {
				file, err := os.Create(out)
				if err != nil {
					return err
				}
				m, err := svc.Export(cmd.Context(), st.tenant, f, t, file, comply.ExportOptions{})
				if cerr := file.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					os.Remove(out)
					return err
				}
				return st.out(m, func(w *tabwriter.Writer) {
					fmt.Fprintf(w, "%s: %d files, %d runs, %d results, %d evidence items, audit checkpoint %d; check with `wacht evidence verify %s`\n",
						out, len(m.Files)+2, m.Runs, m.Results, m.Evidence, m.Checkpoint, out)
				})
			})
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "period start (default: three months before --to)")
	cmd.Flags().StringVar(&to, "to", "", "period end (default: now)")
	cmd.Flags().StringVar(&out, "out", "", "bundle file")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func (st *cmdState) importCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "import", Short: "Import catalogs: your TISAX workbook, OSCAL catalogs"}
	var file, id string
	tisax := &cobra.Command{
		Use: "tisax --file WORKBOOK.xlsx", Short: "Import your own copy of the VDA ISA workbook (ids, short titles, maturity levels)",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := os.Open(file)
			if err != nil {
				return err
			}
			defer f.Close()
			return st.with(cmd.Context(), func(svc *comply.Service) error {
				cat, n, err := svc.ImportTISAX(cmd.Context(), st.tenant, f, st.as)
				if err != nil {
					return err
				}
				return st.out(map[string]any{"catalog": cat.ID, "questions": len(cat.Requirements), "maturity_levels": n}, func(w *tabwriter.Writer) {
					fmt.Fprintf(w, "imported %d ISA questions and %d maturity levels as catalog %s\n", len(cat.Requirements), n, cat.ID)
				})
			})
		},
	}
	tisax.Flags().StringVar(&file, "file", "", "workbook (.xlsx)")
	_ = tisax.MarkFlagRequired("file")
	oscal := &cobra.Command{
		Use: "oscal --file CATALOG.json [--id ID]", Short: "Import an OSCAL catalog (JSON)",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := os.Open(file)
			if err != nil {
				return err
			}
			defer f.Close()
			return st.with(cmd.Context(), func(svc *comply.Service) error {
				cat, err := svc.ImportOSCAL(cmd.Context(), st.tenant, id, f, st.as)
				if err != nil {
					return err
				}
				return st.out(map[string]any{"catalog": cat.ID, "requirements": len(cat.Requirements)}, func(w *tabwriter.Writer) {
					fmt.Fprintf(w, "imported %d controls as catalog %s\n", len(cat.Requirements), cat.ID)
				})
			})
		},
	}
	oscal.Flags().StringVar(&file, "file", "", "OSCAL catalog JSON")
	oscal.Flags().StringVar(&id, "id", "", "catalog id (default: from the title)")
	_ = oscal.MarkFlagRequired("file")
	cmd.AddCommand(tisax, oscal)
	return cmd
}

func (st *cmdState) evidence() *cobra.Command {
	cmd := &cobra.Command{Use: "evidence", Short: "Evidence items: add files or links, add revisions, list"}
	var in comply.EvidenceInput
	var file, effective, renew, item string
	add := &cobra.Command{
		Use: "add --framework F --requirement R --title T (--file PATH | --url URL)", Short: "Add an evidence item, or a revision with --item",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in.Kind = comply.EvidenceLink
			if file != "" {
				data, err := os.ReadFile(file)
				if err != nil {
					return err
				}
				in.Kind, in.Content, in.Name = comply.EvidenceFile, data, filepath.Base(file)
				in.MediaType = mime.TypeByExtension(filepath.Ext(file))
			}
			var err error
			if in.EffectiveAt, err = parseTime(effective); err != nil {
				return err
			}
			if renew != "" {
				if in.RenewBy, err = time.Parse("2006-01-02", renew); err != nil {
					return fmt.Errorf("--renew-by: want YYYY-MM-DD")
				}
			}
			return st.with(cmd.Context(), func(svc *comply.Service) error {
				if item != "" {
					rev, err := svc.AddRevision(cmd.Context(), st.tenant, item, in, st.as)
					if err != nil {
						return err
					}
					return st.out(rev, func(w *tabwriter.Writer) {
						fmt.Fprintf(w, "%s revision %d, sha256 %s\n", item, rev.Revision, rev.SHA256)
					})
				}
				ev, err := svc.AddEvidence(cmd.Context(), st.tenant, in, st.as)
				if err != nil {
					return err
				}
				return st.out(ev, func(w *tabwriter.Writer) {
					fmt.Fprintf(w, "evidence %s, sha256 %s\n", ev.ID, ev.Latest.SHA256)
				})
			})
		},
	}
	add.Flags().StringVar(&in.Framework, "framework", comply.FrameworkISO27001, "framework")
	add.Flags().StringVar(&in.Requirement, "requirement", "", "requirement id")
	add.Flags().StringVar(&in.Title, "title", "", "title")
	add.Flags().StringVar(&in.URL, "url", "", "link")
	add.Flags().StringVar(&file, "file", "", "file to upload")
	add.Flags().StringVar(&effective, "effective", "", "when the evidence is true (default now)")
	add.Flags().StringVar(&renew, "renew-by", "", "renewal date YYYY-MM-DD")
	add.Flags().StringVar(&item, "item", "", "add a revision to this evidence item")
	var within time.Duration
	list := &cobra.Command{
		Use: "list", Short: "List evidence items (--renew-within to see those due for renewal)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return st.with(cmd.Context(), func(svc *comply.Service) error {
				evs, err := svc.ListEvidence(cmd.Context(), st.tenant, comply.EvidenceFilter{RenewWithin: within})
				if err != nil {
					return err
				}
				return st.out(evs, func(w *tabwriter.Writer) {
					fmt.Fprintln(w, "ID\tFRAMEWORK\tREQUIREMENT\tTITLE\tREVISIONS\tRENEW BY")
					for _, e := range evs {
						renew := ""
						if e.Latest != nil && !e.Latest.RenewBy.IsZero() {
							renew = e.Latest.RenewBy.Format("2006-01-02")
						}
						fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\n", e.ID, e.Framework, e.Requirement, e.Title, e.Revisions, renew)
					}
				})
			})
		},
	}
	list.Flags().DurationVar(&within, "renew-within", 0, "only items to renew within this duration")
	cmd.AddCommand(add, list)
	return cmd
}
