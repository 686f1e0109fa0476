package sarif

import (
	"testing"

	"github.com/wacht-soc/wacht/internal/vuln/report/reporttest"
)

var samples = []string{
	"sarif/appendix_k.sarif",
	"sarif/bash-report.sarif",
	"sarif/blackduck_nested_fingerprints.sarif",
	"sarif/codeQL-output.sarif",
	"sarif/cppcheck_many_vuln.sarif",
	"sarif/dependency_check.sarif",
	"sarif/devskim_many_vuln.sarif",
	"sarif/gitleaks_7.5.0.sarif",
	"sarif/govulncheck_issue_15033.sarif",
	"sarif/semgrepowasp-benchmark-sample.sarif",
	"sarif/spotbugs.sarif",
	"sarif/suppression_test.sarif",
	"sarif/SuppressionTestCurrent.sarif",
	"sarif/taint-python-report.sarif",
	"grype/grype-sarif-image.sarif",
	"trivy/alpine-310.sarif.golden",
}

func TestGolden(t *testing.T) { reporttest.Golden(t, Parse, samples...) }

func TestSuppressionsAreMarked(t *testing.T) {
	r, err := Parse(reporttest.Sample(t, "sarif/suppression_test.sarif"))
	if err != nil {
		t.Fatal(err)
	}
	if s := r.Summarize(); s.Suppressed == 0 {
		t.Fatalf("no suppressed detection in %+v", s)
	}
}

func TestRejectsNonSARIF(t *testing.T) {
	if _, err := Parse([]byte(`{"matches": []}`)); err == nil {
		t.Fatal("want an error for a log without runs")
	}
}

func FuzzParse(f *testing.F) { reporttest.Fuzz(f, Parse, samples...) }
