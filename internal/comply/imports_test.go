package comply_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/wacht-soc/wacht/internal/comply"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// workbook builds an ISA-like workbook: a cover sheet, then a sheet with a
// header row below a title, question rows, a requirement-text column that
// must not be imported, and the tenant's maturity levels.
func workbook(t *testing.T) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	f.SetCellValue("Sheet1", "A1", "Cover: our own copy")
	idx, _ := f.NewSheet("Information Security")
	f.SetActiveSheet(idx)
	rows := [][]any{
		{"ISA 6 — Information Security"},
		{},
		{"Control number", "Control question", "Objective", "Requirements (must)", "Target maturity level", "Maturity level"},
		{"1.6.1", "To what extent are information security events processed?", "obj", "SECRET-REQUIREMENT-TEXT one", 3, 3},
		{"5.2.4", "To what extent are event logs recorded and analysed?", "obj", "SECRET-REQUIREMENT-TEXT two", 3, 2},
		{"5.2.5", strings.Repeat("very long question word ", 10), "obj", "SECRET-REQUIREMENT-TEXT three", 3, ""},
		{"note", "not a question row"},
	}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Information Security", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestImportTISAXWorkbook(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		cat, n, err := e.svc.ImportTISAX(ctx, "a", bytes.NewReader(workbook(t)), "alice")
		if err != nil {
			t.Fatal(err)
		}
		if len(cat.Requirements) != 3 || n != 2 {
			t.Fatalf("imported %d questions, %d maturity levels: %+v", len(cat.Requirements), n, cat.Requirements)
		}
		if err := cat.Validate(); err != nil || !cat.NoRequirementText {
			t.Fatalf("imported catalog carries text: %v", err)
		}
		stored, err := e.svc.Catalog(ctx, "a", comply.FrameworkTISAX)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range stored.Requirements {
			if strings.Contains(r.Title+r.Text, "SECRET-REQUIREMENT-TEXT") {
				t.Fatalf("requirement text imported: %+v", r)
			}
			if len(strings.Fields(r.Title)) > 16 || r.MaturityTarget != 3 {
				t.Fatalf("row %+v", r)
			}
		}
		if _, err := e.svc.Catalog(ctx, "b", comply.FrameworkTISAX); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("tenant b sees a's workbook: %v", err)
		}
		as, _ := e.svc.Assessments(ctx, "a", comply.FrameworkTISAX)
		if as["5.2.4"].Maturity != 2 || as["1.6.1"].Maturity != 3 {
			t.Fatalf("maturity %+v", as)
		}
		// Built-in checks map to TISAX question ids: after an evaluation
		// the imported catalog shows their status.
		if _, _, err := e.svc.Evaluate(ctx, "a", e.clock.Now(), comply.CauseDemand, "x"); err != nil {
			t.Fatal(err)
		}
		v, err := e.svc.FrameworkView(ctx, "a", comply.FrameworkTISAX, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if v.Rows[0].ID != "1.6.1" || v.Rows[0].Source != "checks" || v.Rows[0].Maturity != 3 {
			t.Fatalf("TISAX view %+v", v.Rows[0])
		}
		if _, _, err := comply.ParseTISAX(strings.NewReader("not a workbook")); !errors.Is(err, comply.ErrInvalid) {
			t.Fatalf("garbage accepted: %v", err)
		}
	})
}

const oscalCatalog = `{"catalog": {"uuid": "8a2c6a2e-0000-4000-8000-000000000001",
 "metadata": {"title": "Example Controls", "version": "1.0", "last-modified": "2026-01-01T00:00:00Z", "oscal-version": "1.1.2"},
 "groups": [{"id": "ac", "title": "Access Control", "controls": [
   {"id": "ac-1", "title": "Policy and Procedures", "parts": [{"id": "ac-1_smt", "name": "statement", "prose": "Long prose."}],
    "controls": [{"id": "ac-1.1", "title": "Enhancement"}]},
   {"id": "ac-2", "title": "Account Management"}]}]}}`

func TestImportOSCALCatalog(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		cat, err := e.svc.ImportOSCAL(ctx, "a", "", strings.NewReader(oscalCatalog), "alice")
		if err != nil {
			t.Fatal(err)
		}
		if cat.ID != "oscal-example-controls" || len(cat.Requirements) != 3 || cat.Requirements[1].ID != "ac-1.1" ||
			cat.Requirements[0].Group != "Access Control" || cat.Requirements[0].Text != "" {
			t.Fatalf("catalog %+v", cat)
		}
		fws, err := e.svc.Frameworks(ctx, "a")
		if err != nil || len(fws) != 4 {
			t.Fatalf("frameworks %+v %v", fws, err)
		}
		if _, err := e.svc.ImportOSCAL(ctx, "a", comply.FrameworkISO27001, strings.NewReader(oscalCatalog), "alice"); !errors.Is(err, comply.ErrInvalid) {
			t.Fatalf("replaced a built-in catalog: %v", err)
		}
		if _, err := e.svc.ImportOSCAL(ctx, "a", "", strings.NewReader(`{"profile": {}}`), "alice"); !errors.Is(err, comply.ErrInvalid) {
			t.Fatalf("profile accepted as catalog: %v", err)
		}
	})
}

func TestReportsGermanAndEnglish(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		if _, _, err := e.svc.Evaluate(ctx, "a", e.clock.Now(), comply.CauseDemand, "x"); err != nil {
			t.Fatal(err)
		}
		for _, kind := range comply.ReportKinds() {
			for _, lang := range []string{"de", "en"} {
				rep, err := e.svc.BuildReport(ctx, "a", kind, lang, time.Time{}, e.clock.Now().Add(time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				var a, b bytes.Buffer
				if err := comply.RenderHTML(&a, rep); err != nil {
					t.Fatal(err)
				}
				_ = comply.RenderHTML(&b, rep)
				if !bytes.Equal(a.Bytes(), b.Bytes()) {
					t.Fatalf("%s/%s renders differently twice", kind, lang)
				}
				html := a.String()
				if lang == "de" && kind == comply.ReportSoA && !strings.Contains(html, "Erklärung zur Anwendbarkeit") {
					t.Fatalf("German SoA title missing")
				}
				if lang == "de" && kind == comply.ReportNIS2 && (!strings.Contains(html, "Maßnahme") || !strings.Contains(html, "BSIG § 30 Abs. 2 Nr. 1")) {
					t.Fatalf("German NIS2 report lacks umlauts or the BSIG mapping")
				}
				if kind == comply.ReportSoA && strings.Count(html, "<tr><td>A.") != 93 {
					t.Fatalf("SoA report has %d control rows", strings.Count(html, "<tr><td>A."))
				}
			}
		}
		if _, err := e.svc.BuildReport(ctx, "a", "nope", "en", time.Time{}, time.Time{}); !errors.Is(err, comply.ErrInvalid) {
			t.Fatal("unknown report accepted")
		}
		if _, err := e.svc.BuildReport(ctx, "a", comply.ReportSoA, "fr", time.Time{}, time.Time{}); !errors.Is(err, comply.ErrInvalid) {
			t.Fatal("unknown language accepted")
		}
	})
}

func TestGDPRBreachRegister(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		c := &clock{t: time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)}
		src := comply.FactFunc{ID: "cases", Fn: func(_ context.Context, _ string, _ time.Time, f *comply.Facts) error {
			f.Incidents = []comply.IncidentFact{
				{ID: "inc-1", Title: "Mailbox compromise (Müller GmbH)", Created: "2026-03-01T08:00:00Z", Severity: "high", Status: "closed", PersonalData: true},
				{ID: "inc-2", Title: "Port scan", Created: "2026-03-02T08:00:00Z", Severity: "low", Status: "closed"},
				{ID: "inc-3", Title: "Lost laptop", Created: "2026-03-03T08:00:00Z", Severity: "medium", Status: "open", PersonalData: true},
			}
			f.Deadlines = []comply.DeadlineFact{
				{Incident: "inc-1", Regime: "gdpr", Stage: "authority_notification", Due: "2026-03-04T08:00:00Z", Submitted: "2026-03-02T08:00:00Z"},
				{Incident: "inc-3", Regime: "gdpr", Stage: "authority_notification", Due: "2026-03-06T08:00:00Z"},
			}
			return nil
		}}
		svc, err := comply.New(db, comply.Options{Engine: fakeEngine{}, Sources: []comply.FactSource{src}, Now: c.Now})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := svc.BuildReport(context.Background(), "a", comply.ReportGDPR, "de", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), c.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Breaches) != 2 || !rep.Breaches[0].OnTime || rep.Breaches[1].OnTime || rep.Judged != 2 || rep.OnTime != 0.5 {
			t.Fatalf("register %+v on time %v of %d", rep.Breaches, rep.OnTime, rep.Judged)
		}
		var buf bytes.Buffer
		if err := comply.RenderHTML(&buf, rep); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), "Müller GmbH") || !strings.Contains(buf.String(), "Verzeichnis der Verletzungen") {
			t.Fatal("German register lacks the umlaut title")
		}
	})
}
