package cases

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Report is the draft of one regulatory report, pre-filled from the
// incident; an analyst completes what is Missing before submitting.
type Report struct {
	Regime     Regime          `json:"regime"`
	RegimeName string          `json:"regime_name"`
	LegalBasis string          `json:"legal_basis"`
	Recipient  string          `json:"recipient"`
	Stage      string          `json:"stage"`
	Ref        string          `json:"ref"`
	Due        time.Time       `json:"due,omitzero"`
	Status     StageStatus     `json:"status"`
	Incident   ReportIncident  `json:"incident"`
	Sections   []ReportSection `json:"sections"`
	Generated  time.Time       `json:"generated"`
}

// ReportIncident summarizes the incident in a report.
type ReportIncident struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	Status    Status    `json:"status"`
	Severity  Severity  `json:"severity"`
	Priority  Priority  `json:"priority"`
	AwareAt   time.Time `json:"aware_at"`
	CreatedAt time.Time `json:"created_at"`
}

// ReportSection answers one item the law asks for.
type ReportSection struct {
	Item    string `json:"item"`
	Content string `json:"content"`
	Missing bool   `json:"missing"`
}

// DraftReport builds the draft of a stage's report.
func (s *Service) DraftReport(ctx context.Context, tenant, incID string, regime Regime, stageID string) (Report, error) {
	rd, ok := s.catalog.Regime(regime)
	if !ok {
		return Report{}, userErrorf("regime %q: want nis2, gdpr or dora", regime)
	}
	def, _, ok := rd.Stage(stageID)
	if !ok {
		return Report{}, userErrorf("%s has no stage %q", regime, stageID)
	}
	inc, err := s.GetIncident(ctx, tenant, incID)
	if err != nil {
		return Report{}, err
	}
	f, err := s.flag(ctx, s.db, tenant, incID, regime)
	if err != nil {
		return Report{}, err
	}
	stages, err := s.Stages(ctx, tenant, incID)
	if err != nil {
		return Report{}, err
	}
	obs, err := s.Observables(ctx, tenant, incID)
	if err != nil {
		return Report{}, err
	}
	tl, err := s.Timeline(ctx, tenant, incID)
	if err != nil {
		return Report{}, err
	}
	now := s.clock()
	r := Report{Regime: regime, RegimeName: rd.Name, LegalBasis: rd.LegalBasis, Recipient: rd.Recipient, Stage: stageID, Ref: def.Ref,
		Status: StageAwaiting, Generated: now,
		Incident: ReportIncident{ID: inc.ID, Title: inc.Title, Status: inc.Status, Severity: inc.Severity, Priority: inc.Priority, AwareAt: f.AwareAt, CreatedAt: inc.CreatedAt}}
	for _, st := range stages {
		if st.Regime == regime && st.Stage == stageID {
			r.Due, r.Status = st.Due, st.Status
		}
	}
	facts := f.Facts
	for _, it := range def.Contents {
		var c string
		switch it.From {
		case SrcSuspectedMalicious:
			c = "Suspected unlawful or malicious act: " + yesNo(facts.SuspectedMalicious, "")
			if facts.SuspectedMalicious == nil {
				c = ""
			}
		case SrcCrossBorder:
			if facts.CrossBorder != nil {
				c = "Cross-border impact: " + yesNo(facts.CrossBorder, "")
				if facts.CrossBorderDetail != "" {
					c += ". " + facts.CrossBorderDetail
				}
			}
		case SrcUpdate, SrcStatusUpdate:
			c = fmt.Sprintf("Status: %s. %d alerts; last activity %s.", inc.Status, inc.AlertCount, inc.UpdatedAt.Format(time.RFC3339))
			c += recentTimeline(tl, 10)
		case SrcInitialAssessment:
			c = fmt.Sprintf("Severity %s, priority %s (risk score %d).", inc.Severity, inc.Priority, inc.Score)
			if facts.Impact != "" {
				c += " Impact: " + facts.Impact
			} else {
				c = ""
			}
		case SrcIOCs:
			var lines []string
			for _, o := range obs {
				if o.TLP == TLPRed {
					continue // never leaves the organisation
				}
				switch o.Kind {
				case "ip", "hash", "domain", "url", "email":
					lines = append(lines, fmt.Sprintf("- %s `%s` (TLP:%s)", o.Kind, o.Value, strings.ToUpper(string(o.TLP))))
				}
			}
			c = strings.Join(lines, "\n")
		case SrcDescription:
			if inc.Description != "" && facts.Impact != "" {
				c = inc.Description + "\n\nSeverity " + string(inc.Severity) + ". Impact: " + facts.Impact
			}
		case SrcRootCause:
			c = facts.RootCause
		case SrcMitigation:
			c = facts.Mitigation
		case SrcBreachNature:
			if facts.DataCategories != "" {
				c = fmt.Sprintf("%s\n\nCategories of personal data: %s. Approximate number of data subjects: %s. Approximate number of records: %s.",
					inc.Description, facts.DataCategories, orUnknown(facts.ApproxDataSubjects), orUnknown(facts.ApproxRecords))
			}
		case SrcDPOContact:
			c = facts.DPOContact
		case SrcConsequences:
			c = facts.Consequences
		case SrcMeasures:
			c = facts.Measures
		case SrcDelayReason:
			if r.Due.IsZero() || now.Before(r.Due) {
				c = "Not applicable: notified within the deadline."
			} else {
				c = facts.DelayReason
			}
		}
		c = strings.TrimSpace(c)
		r.Sections = append(r.Sections, ReportSection{Item: it.Item, Content: c, Missing: c == ""})
	}
	return r, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func recentTimeline(tl []TimelineEntry, n int) string {
	if len(tl) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\n\nRecent timeline:")
	for _, e := range tl[max(0, len(tl)-n):] {
		fmt.Fprintf(&b, "\n- %s %s: %s", e.At.Format(time.RFC3339), e.Kind, e.Text)
	}
	return b.String()
}

// Markdown renders the draft for a human to complete and send.
func (r Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s — %s (%s)\n\n", r.RegimeName, strings.ReplaceAll(r.Stage, "_", " "), r.Ref)
	fmt.Fprintf(&b, "- Legal basis: %s\n- Recipient: %s\n", r.LegalBasis, r.Recipient)
	if !r.Due.IsZero() {
		fmt.Fprintf(&b, "- Due: %s\n", r.Due.Format(time.RFC3339))
	}
	fmt.Fprintf(&b, "- Status: %s\n- Incident: %s — %s (status %s, severity %s, priority %s)\n- Aware since: %s\n- Draft generated: %s\n\n",
		r.Status, r.Incident.ID, r.Incident.Title, r.Incident.Status, r.Incident.Severity, r.Incident.Priority,
		r.Incident.AwareAt.Format(time.RFC3339), r.Generated.Format(time.RFC3339))
	for i, s := range r.Sections {
		fmt.Fprintf(&b, "## %d. %s\n\n", i+1, s.Item)
		if s.Missing {
			b.WriteString("**TO COMPLETE** — no information recorded yet.\n\n")
			continue
		}
		b.WriteString(s.Content)
		b.WriteString("\n\n")
	}
	return b.String()
}
