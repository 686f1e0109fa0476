package comply

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"time"
)

// ReportKind names a report.
type ReportKind string

// Reports.
const (
	// ReportSoA is the ISO/IEC 27001 Statement of Applicability.
	ReportSoA ReportKind = "iso27001-soa"
	// ReportNIS2 is the NIS2 Art. 21(2) status with the BSIG § 30 mapping.
	ReportNIS2 ReportKind = "nis2-art21"
	// ReportGDPR is the GDPR Art. 33(5) breach register.
	ReportGDPR ReportKind = "gdpr-breaches"
)

// ReportKinds lists the reports.
func ReportKinds() []ReportKind { return []ReportKind{ReportSoA, ReportNIS2, ReportGDPR} }

// Valid reports whether k is a known report.
func (k ReportKind) Valid() bool {
	switch k {
	case ReportSoA, ReportNIS2, ReportGDPR:
		return true
	}
	return false
}

// Languages of reports.
var reportLangs = []string{"de", "en"}

// Report is the data of one report for a period; rendering it twice gives
// the same bytes (no wall clock: the report is as of To).
type Report struct {
	Kind   ReportKind `json:"kind"`
	Lang   string     `json:"lang"`
	Tenant string     `json:"tenant"`
	From   time.Time  `json:"from"`
	To     time.Time  `json:"to"`
	// View is the framework's status table (SoA, NIS2).
	View *View `json:"view,omitempty"`
	// Breaches is the GDPR breach register.
	Breaches []BreachRow `json:"breaches,omitempty"`
	// OnTime is the regulatory clock on-time rate in the period (0–1)
	// over Judged deadlines.
	OnTime float64 `json:"on_time"`
	Judged int     `json:"judged"`
	// Runs and Failing summarize the evaluations in the period.
	Runs       int    `json:"runs"`
	PolicyHash string `json:"policy_hash,omitempty"`
}

// BreachRow is one personal data breach (an incident with personal data).
type BreachRow struct {
	Incident string `json:"incident"`
	Title    string `json:"title"`
	Created  string `json:"created"`
	Severity string `json:"severity"`
	Status   string `json:"status"`
	// AuthorityDue / AuthoritySubmitted: Art. 33 notification.
	AuthorityDue       string `json:"authority_due,omitempty"`
	AuthoritySubmitted string `json:"authority_submitted,omitempty"`
	// SubjectsDue / SubjectsSubmitted: Art. 34 communication.
	SubjectsDue       string `json:"subjects_due,omitempty"`
	SubjectsSubmitted string `json:"subjects_submitted,omitempty"`
	OnTime            bool   `json:"on_time"`
}

// BuildReport gathers a report's data for [from, to).
func (s *Service) BuildReport(ctx context.Context, tenant string, kind ReportKind, lang string, from, to time.Time) (*Report, error) {
	if !kind.Valid() {
		return nil, invalidf("unknown report %q: want %v", kind, ReportKinds())
	}
	if lang == "" {
		lang = "en"
	}
	if !slices.Contains(reportLangs, lang) {
		return nil, invalidf("report language %q: want de or en", lang)
	}
	if to.IsZero() {
		to = s.Now()
	}
	if from.IsZero() {
		from = to.AddDate(0, -3, 0)
	}
	if !from.Before(to) {
		return nil, invalidf("report period: from must lie before to")
	}
	rep := &Report{Kind: kind, Lang: lang, Tenant: tenant, From: from.UTC().Truncate(time.Second), To: to.UTC().Truncate(time.Second)}
	runs, err := s.Runs(ctx, tenant, from, to, 100000)
	if err != nil {
		return nil, err
	}
	rep.Runs = len(runs)
	if len(runs) > 0 {
		rep.PolicyHash = runs[0].PolicyHash
	}
	facts, err := collect(ctx, s.sources, tenant, rep.To)
	if err != nil {
		return nil, err
	}
	rep.OnTime, rep.Judged = onTimeRate(facts.Deadlines, rep.From, rep.To)
	switch kind {
	case ReportSoA, ReportNIS2:
		fw := FrameworkISO27001
		if kind == ReportNIS2 {
			fw = FrameworkNIS2
		}
		v, err := s.FrameworkViewSince(ctx, tenant, fw, rep.From, rep.To.Add(-time.Second))
		if err != nil {
			return nil, err
		}
		rep.View = &v
	case ReportGDPR:
		rep.Breaches = breachRegister(facts, rep.From, rep.To)
	}
	return rep, nil
}

// onTimeRate is the share of regulatory stages due in the period that
// were submitted by their due time.
func onTimeRate(ds []DeadlineFact, from, to time.Time) (float64, int) {
	judged, ok := 0, 0
	for _, d := range ds {
		due, err := time.Parse(time.RFC3339, d.Due)
		if err != nil || due.Before(from) || !due.Before(to) {
			continue
		}
		judged++
		if sub, err := time.Parse(time.RFC3339, d.Submitted); err == nil && !sub.After(due) {
			ok++
		}
	}
	if judged == 0 {
		return 1, 0
	}
	return float64(ok) / float64(judged), judged
}

func breachRegister(f *Facts, from, to time.Time) []BreachRow {
	stages := map[string][]DeadlineFact{}
	for _, d := range f.Deadlines {
		if d.Regime == "gdpr" {
			stages[d.Incident] = append(stages[d.Incident], d)
		}
	}
	var out []BreachRow
	for _, inc := range f.Incidents {
		if !inc.PersonalData {
			continue
		}
		created, err := time.Parse(time.RFC3339, inc.Created)
		if err != nil || created.Before(from) || !created.Before(to) {
			continue
		}
		row := BreachRow{Incident: inc.ID, Title: inc.Title, Created: inc.Created, Severity: inc.Severity, Status: inc.Status, OnTime: true}
		for _, d := range stages[inc.ID] {
			switch d.Stage {
			case "authority_notification", "notification":
				row.AuthorityDue, row.AuthoritySubmitted = d.Due, d.Submitted
			case "data_subject_communication", "communication":
				row.SubjectsDue, row.SubjectsSubmitted = d.Due, d.Submitted
			}
			due, _ := time.Parse(time.RFC3339, d.Due)
			sub, err := time.Parse(time.RFC3339, d.Submitted)
			if (err == nil && sub.After(due)) || (err != nil && due.Before(to)) {
				row.OnTime = false
			}
		}
		out = append(out, row)
	}
	return out
}

//go:embed templates/*.html
var templateFiles embed.FS

var reportTemplate = template.Must(template.New("report.html").Funcs(template.FuncMap{
	"t":   translate,
	"day": func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	"pct": func(f float64) string { return fmt.Sprintf("%.0f %%", f*100) },
	"st":  func(lang string, s Status) string { return translate(lang, "status."+string(s)) },
}).ParseFS(templateFiles, "templates/report.html"))

// PDFPrinter turns a self-contained HTML page into PDF
// (internal/comply/pdf drives headless Chromium).
type PDFPrinter interface {
	PDF(ctx context.Context, html []byte) ([]byte, error)
}

// ErrNoPDF: the node has no PDF printer (no Chromium); the message says
// why and that HTML works.
var ErrNoPDF = &UserError{"PDF is not available: this node has no headless Chromium (install chromium or set WACHT_CHROMIUM); the HTML report works"}

// noPDFError is ErrNoPDF with the reason the printer is missing.
type noPDFError struct{ reason error }

func (e *noPDFError) Error() string { return ErrNoPDF.Error() + " (" + e.reason.Error() + ")" }

// Is makes errors.Is(err, ErrNoPDF) and errors.Is(err, ErrInvalid) true.
func (e *noPDFError) Is(target error) bool { return target == ErrNoPDF || target == ErrInvalid }

// RenderPDF prints the report's HTML to PDF; the same report gives the
// same bytes (see NormalizePDF).
func (s *Service) RenderPDF(ctx context.Context, r *Report) ([]byte, error) {
	if s.pdf == nil {
		if s.noPDF != nil {
			return nil, &noPDFError{s.noPDF}
		}
		return nil, ErrNoPDF
	}
	var buf bytes.Buffer
	if err := RenderHTML(&buf, r); err != nil {
		return nil, err
	}
	out, err := s.pdf.PDF(ctx, buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("render %s as PDF: %w", r.Kind, err)
	}
	// The report is as of To: the PDF's dates say so, not the wall clock.
	out, err = NormalizePDF(out, r.To)
	if err != nil {
		return nil, fmt.Errorf("render %s as PDF: %w", r.Kind, err)
	}
	return out, nil
}

// RenderHTML writes the report as one self-contained HTML page.
func RenderHTML(w io.Writer, r *Report) error {
	var buf bytes.Buffer
	if err := reportTemplate.Execute(&buf, r); err != nil {
		return fmt.Errorf("render report %s: %w", r.Kind, err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

var labels = map[string]map[string]string{
	"en": {
		"title.iso27001-soa": "ISO/IEC 27001:2022 — Statement of Applicability", "title.nis2-art21": "NIS2 Art. 21(2) — status of risk-management measures",
		"title.gdpr-breaches": "GDPR Art. 33(5) — register of personal data breaches", "tenant": "Tenant", "period": "Period",
		"runs": "Evaluations in the period", "policy": "Policy bundle (SHA-256)", "ontime": "Regulatory deadlines met on time",
		"control": "Control", "titlecol": "Title", "theme": "Theme", "applicable": "Applicable", "justification": "Justification",
		"status": "Status", "source": "Basis", "checks": "Checks", "evidence": "Evidence", "national": "Germany (BSIG)",
		"yes": "yes", "no": "no", "incident": "Incident", "created": "Detected", "severity": "Severity",
		"authority": "Authority notified (Art. 33)", "subjects": "Data subjects informed (Art. 34)", "ontimecol": "On time",
		"none": "No personal data breach in the period.", "summary": "Summary", "licence": "Catalogue licence",
		"status.pass": "pass", "status.fail": "fail", "status.waived": "waived", "status.error": "error",
		"status.not_applicable": "not applicable", "status.unknown": "not assessed", "due": "due", "submitted": "submitted",
		"footer": "Generated by wacht from the platform's own evidence. Automatic evidence supports, but does not replace, the documented ISMS.",
	},
	"de": {
		"title.iso27001-soa": "ISO/IEC 27001:2022 — Erklärung zur Anwendbarkeit", "title.nis2-art21": "NIS2 Art. 21 Abs. 2 — Stand der Risikomanagementmaßnahmen",
		"title.gdpr-breaches": "DSGVO Art. 33 Abs. 5 — Verzeichnis der Verletzungen des Schutzes personenbezogener Daten", "tenant": "Mandant", "period": "Zeitraum",
		"runs": "Prüfläufe im Zeitraum", "policy": "Richtlinienpaket (SHA-256)", "ontime": "Meldefristen fristgerecht eingehalten",
		"control": "Maßnahme", "titlecol": "Titel", "theme": "Thema", "applicable": "Anwendbar", "justification": "Begründung",
		"status": "Status", "source": "Grundlage", "checks": "Prüfungen", "evidence": "Nachweise", "national": "Deutschland (BSIG)",
		"yes": "ja", "no": "nein", "incident": "Vorfall", "created": "Erkannt", "severity": "Schweregrad",
		"authority": "Aufsichtsbehörde gemeldet (Art. 33)", "subjects": "Betroffene benachrichtigt (Art. 34)", "ontimecol": "Fristgerecht",
		"none": "Keine Verletzung des Schutzes personenbezogener Daten im Zeitraum.", "summary": "Übersicht", "licence": "Lizenz des Katalogs",
		"status.pass": "erfüllt", "status.fail": "nicht erfüllt", "status.waived": "Ausnahme", "status.error": "Fehler",
		"status.not_applicable": "nicht anwendbar", "status.unknown": "nicht bewertet", "due": "fällig", "submitted": "übermittelt",
		"footer": "Von wacht aus den eigenen Nachweisen der Plattform erstellt. Automatische Nachweise unterstützen das dokumentierte ISMS, ersetzen es aber nicht.",
	},
}

func translate(lang, key string) string {
	if v, ok := labels[lang][key]; ok {
		return v
	}
	if v, ok := labels["en"][key]; ok {
		return v
	}
	return key
}
