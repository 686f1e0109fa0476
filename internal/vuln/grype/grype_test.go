package grype

import (
	"testing"

	"github.com/wacht-soc/wacht/internal/vuln/report/reporttest"
)

var samples = []string{
	"grype/grype-json-TestJsonImgsPresenter.json",
	"grype-defectdojo/many_vulns.json",
	"grype-defectdojo/many_vulns3.json",
	"grype-defectdojo/many_vulns_with_epss_values.json",
	"grype-defectdojo/check_all_fields.json",
	"grype-defectdojo/fix_available.json",
	"grype-defectdojo/issue_9618.json",
	"grype-defectdojo/same_cve_different_paths.json",
}

func TestGolden(t *testing.T) { reporttest.Golden(t, Parse, samples...) }

// One deb package whose files sit at two paths is one component: upgrading
// the package fixes both.
func TestSameCVEDifferentPathsOfOnePackageIsOne(t *testing.T) {
	r, err := Parse(reporttest.Sample(t, "grype-defectdojo/same_cve_different_paths.json"))
	if err != nil {
		t.Fatal(err)
	}
	s := r.Summarize()
	if s.Detections != 2 || s.Unique != 1 {
		t.Fatalf("unique = %d of %d detections; want 1 of 2", s.Unique, s.Detections)
	}
}

func TestRejectsNonGrype(t *testing.T) {
	if _, err := Parse([]byte(`{"SchemaVersion": 2}`)); err == nil {
		t.Fatal("want an error for a report without matches")
	}
}

func FuzzParse(f *testing.F) { reporttest.Fuzz(f, Parse, samples...) }
