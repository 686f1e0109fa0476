package vuln_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
	"github.com/wacht-soc/wacht/internal/vuln"
	"github.com/wacht-soc/wacht/internal/vuln/report/reporttest"
)

// One real sample per format, imported into the state store: the findings
// per severity and per asset after de-duplication match the golden file on
// every backend, and importing the same report again changes nothing.
var importSamples = map[string]string{
	"trivy":     "trivy-defectdojo/legacy_many_vulns.json",
	"grype":     "grype-defectdojo/many_vulns.json",
	"sarif":     "sarif/semgrepowasp-benchmark-sample.sarif",
	"cyclonedx": "cyclonedx-defectdojo/grype.xml",
	"osv":       "osv-scanner/many_findings.json",
	"openvas":   "openvas/many_vuln.xml",
	"nessus":    "nessus/nessus_with_cvssv3.nessus",
}

type importSummary struct {
	Findings   int            `json:"findings"`
	BySeverity map[string]int `json:"by_severity"`
	ByAsset    map[string]int `json:"by_asset"`
	ByState    map[string]int `json:"by_state"`
}

func summarize(t *testing.T, ctx context.Context, fx *fixture) importSummary {
	t.Helper()
	s := importSummary{BySeverity: map[string]int{}, ByAsset: map[string]int{}, ByState: map[string]int{}}
	names := map[string]string{}
	f := vuln.Filter{Limit: 1000}
	for {
		page, err := fx.svc.List(ctx, "default", f)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range page.Findings {
			s.Findings++
			s.BySeverity[x.Severity.String()]++
			s.ByState[string(x.State)]++
			if _, ok := names[x.AssetID]; !ok {
				a, err := fx.inv.Get(ctx, "default", x.AssetID)
				if err != nil {
					t.Fatal(err)
				}
				names[x.AssetID] = string(a.Kind) + ":" + a.Name
			}
			s.ByAsset[names[x.AssetID]]++
		}
		if page.Next == "" {
			return s
		}
		f.After = page.Next
	}
}

func TestImportGolden(t *testing.T) {
	for format, rel := range importSamples {
		t.Run(format, func(t *testing.T) {
			data := reporttest.Sample(t, rel)
			storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
				ctx := context.Background()
				fx := newFixture(t, db)
				rep, err := vuln.ParseReport(data, "auto")
				if err != nil {
					t.Fatal(err)
				}
				if rep.Format != format {
					t.Fatalf("detected %s, want %s", rep.Format, format)
				}
				if _, err := fx.svc.Import(ctx, "default", rep, vuln.ImportOptions{}); err != nil {
					t.Fatal(err)
				}
				got := summarize(t, ctx, fx)
				again, err := fx.svc.Import(ctx, "default", rep, vuln.ImportOptions{})
				if err != nil || again.Created != 0 || again.Closed != 0 || again.Reopened != 0 {
					t.Fatalf("re-import not idempotent: %+v %v", again, err)
				}
				if s2 := summarize(t, ctx, fx); s2.Findings != got.Findings {
					t.Fatalf("re-import changed the findings: %d → %d", got.Findings, s2.Findings)
				}
				b, _ := json.MarshalIndent(got, "", "  ")
				b = append(b, '\n')
				path := filepath.Join("testdata", "import", format+".golden.json")
				if reporttest.Update() {
					_ = os.MkdirAll(filepath.Dir(path), 0o755)
					if err := os.WriteFile(path, b, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test -update after checking)", err)
				}
				if !bytes.Equal(b, want) {
					t.Fatalf("import summary differs from %s:\n got: %s\nwant: %s", path, b, want)
				}
			})
		})
	}
}
