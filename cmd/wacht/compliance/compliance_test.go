package compliance_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/cmd/wacht/compliance"
)

// run executes `wacht ARGS…` with the compliance commands and returns
// what it printed.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	g := cli.NewGlobals()
	root := g.Root()
	root.AddCommand(compliance.NewCommand(g), compliance.NewEvidenceCommand(g))
	root.SetArgs(args)
	r, w, _ := os.Pipe()
	old := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	err := root.Execute()
	w.Close()
	os.Stdout = old
	return string(<-done), err
}

func TestComplianceCLI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	t.Setenv("WACHT_DATA", data)
	mustRun := func(args ...string) string {
		t.Helper()
		out, err := run(t, args...)
		if err != nil {
			t.Fatalf("wacht %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	if out := mustRun("compliance", "checks", "test", "--data", data); !strings.Contains(out, "0 failed") {
		t.Fatalf("checks test: %s", out)
	}
	if out := mustRun("compliance", "checks", "set", "backup.recent", "max_age_days=3", "--data", data); !strings.Contains(out, "max_age_days:3") {
		t.Fatalf("checks set: %s", out)
	}
	if _, err := run(t, "compliance", "checks", "set", "backup.recent", "max_age_days=soon", "--data", data); err == nil {
		t.Fatal("a string for a number was accepted")
	}
	var ev struct {
		Run     struct{ ID string } `json:"run"`
		Results []struct{ Check, Subject, Status, Reason string }
	}
	if err := json.Unmarshal([]byte(mustRun("compliance", "evaluate", "--json", "--data", data)), &ev); err != nil || ev.Run.ID == "" {
		t.Fatalf("evaluate: %v", err)
	}
	// The ATT&CK coverage check has its facts (the starter pack's rules):
	// one result per required tactic, none an error.
	coverage := 0
	for _, r := range ev.Results {
		if r.Check == "detection.attack_coverage" {
			coverage++
			if r.Status == "error" {
				t.Fatalf("coverage check erred: %+v", r)
			}
		}
	}
	if coverage != 12 {
		t.Fatalf("coverage check judged %d tactics, want 12", coverage)
	}
	// --at re-evaluates history: the run is stamped with that time, and
	// the coverage facts leave out rules dated later (the starter pack is
	// newer than 2020), so every required tactic fails then.
	var past struct {
		Run struct {
			At        string `json:"at"`
			FactsHash string `json:"facts_hash"`
		} `json:"run"`
		Results []struct{ Check, Status string }
	}
	if err := json.Unmarshal([]byte(mustRun("compliance", "evaluate", "--at", "2020-01-01T00:00:00Z", "--json", "--data", data)), &past); err != nil ||
		!strings.HasPrefix(past.Run.At, "2020-01-01T00:00:00") {
		t.Fatalf("evaluate --at: %+v %v", past.Run, err)
	}
	pastCoverage := 0
	for _, r := range past.Results {
		if r.Check == "detection.attack_coverage" {
			pastCoverage++
			if r.Status != "fail" {
				t.Fatalf("coverage in 2020: %+v", r)
			}
		}
	}
	if pastCoverage != 12 {
		t.Fatalf("coverage in 2020 judged %d tactics, want 12", pastCoverage)
	}
	var dash struct {
		Framework             string
		Requirements, Covered int
		Trend                 []json.RawMessage
	}
	if err := json.Unmarshal([]byte(mustRun("compliance", "dashboard", "iso27001-2022", "--json", "--data", data)), &dash); err != nil ||
		dash.Requirements != 93 || dash.Covered == 0 || len(dash.Trend) != 1 {
		t.Fatalf("dashboard: %+v %v", dash, err)
	}
	if out := mustRun("compliance", "dashboard", "iso27001-2022", "--data", data); !strings.Contains(out, "93 requirements") {
		t.Fatalf("dashboard text: %s", out)
	}
	var rep struct {
		Kind, Lang string
		View       struct{ Rows []json.RawMessage }
	}
	if err := json.Unmarshal([]byte(mustRun("compliance", "report", "iso27001-soa", "--lang", "de", "--json", "--data", data)), &rep); err != nil ||
		rep.Kind != "iso27001-soa" || rep.Lang != "de" || len(rep.View.Rows) != 93 {
		t.Fatalf("report --json: %+v %v", rep, err)
	}
	var soa struct{ Rows []json.RawMessage }
	if err := json.Unmarshal([]byte(mustRun("compliance", "soa", "--json", "--data", data)), &soa); err != nil || len(soa.Rows) != 93 {
		t.Fatalf("soa: %d rows, %v", len(soa.Rows), err)
	}

	// Import a workbook the test writes.
	f := excelize.NewFile()
	for i, row := range [][]any{{"Control number", "Control question"}, {"1.6.1", "To what extent are security events processed?"}} {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		_ = f.SetSheetRow("Sheet1", cell, &row)
	}
	wb := filepath.Join(dir, "isa.xlsx")
	if err := f.SaveAs(wb); err != nil {
		t.Fatal(err)
	}
	if out := mustRun("compliance", "import", "tisax", "--file", wb, "--data", data); !strings.Contains(out, "imported 1 ISA questions") {
		t.Fatalf("import: %s", out)
	}
	if out := mustRun("compliance", "frameworks", "--data", data); !strings.Contains(out, "tisax") {
		t.Fatalf("frameworks: %s", out)
	}

	evidence := filepath.Join(dir, "restore-test.txt")
	_ = os.WriteFile(evidence, []byte("restore of 2026-03-01 ok"), 0o600)
	mustRun("compliance", "evidence", "add", "--requirement", "A.8.13", "--title", "Restore test", "--file", evidence, "--data", data)
	if _, err := run(t, "compliance", "waiver", "request", "--check", "backup.recent", "--subject", "state-db",
		"--justification", "moving to new storage", "--data", data); err == nil {
		t.Fatal("waiver without expiry accepted")
	}
	bundle := filepath.Join(dir, "bundle.zip")
	mustRun("compliance", "export", "--out", bundle, "--data", data)
	if out := mustRun("evidence", "verify", bundle); !strings.Contains(out, "OK:") || !strings.Contains(out, "1 inclusion proofs") {
		t.Fatalf("verify: %s", out)
	}
	// One changed byte in one file: verify fails and names the file.
	raw, _ := os.ReadFile(bundle)
	zr, _ := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, zf := range zr.File {
		rc, _ := zf.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		if zf.Name == "soa.json" {
			b = bytes.Replace(b, []byte(`"unknown"`), []byte(`"pass"`), 1)
		}
		w, _ := zw.Create(zf.Name)
		_, _ = w.Write(b)
	}
	_ = zw.Close()
	tampered := filepath.Join(dir, "tampered.zip")
	_ = os.WriteFile(tampered, buf.Bytes(), 0o600)
	out, err := run(t, "evidence", "verify", tampered)
	if err == nil || !strings.Contains(out, "soa.json: content differs") {
		t.Fatalf("tampered bundle: %v %s", err, out)
	}
}

// TestReportWithoutChromium: with no browser on PATH the HTML report
// still renders (German, umlauts intact), asking for PDF says why it is
// missing, and the evidence bundle says it holds HTML only.
func TestReportWithoutChromium(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	t.Setenv("WACHT_DATA", data)
	t.Setenv("PATH", t.TempDir())
	out, err := run(t, "compliance", "report", "iso27001-soa", "--lang", "de", "--data", data)
	if err != nil || !strings.Contains(out, "Erklärung zur Anwendbarkeit") || !strings.Contains(out, "A.8.5") {
		t.Fatalf("HTML report without Chromium: %v\n%.300s", err, out)
	}
	_, err = run(t, "compliance", "report", "iso27001-soa", "--format", "pdf", "--out", filepath.Join(t.TempDir(), "r.pdf"), "--data", data)
	if err == nil || !strings.Contains(err.Error(), "PDF is not available") || !strings.Contains(err.Error(), "install chromium") ||
		!strings.Contains(err.Error(), "HTML report works") {
		t.Fatalf("PDF without Chromium: %v", err)
	}
	bundle := filepath.Join(t.TempDir(), "b.zip")
	out, err = run(t, "compliance", "export", "--out", bundle, "--json", "--data", data)
	if err != nil || !strings.Contains(out, "HTML only") {
		t.Fatalf("export without Chromium: %v\n%s", err, out)
	}
}
