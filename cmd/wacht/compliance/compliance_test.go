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
		Run struct{ ID string } `json:"run"`
	}
	if err := json.Unmarshal([]byte(mustRun("compliance", "evaluate", "--json", "--data", data)), &ev); err != nil || ev.Run.ID == "" {
		t.Fatalf("evaluate: %v", err)
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
