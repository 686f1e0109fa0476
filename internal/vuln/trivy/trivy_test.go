package trivy

import (
	"testing"

	"github.com/wacht-soc/wacht/internal/vuln/report/reporttest"
)

var samples = []string{
	"trivy/alpine-310.json.golden",
	"trivy/centos-7.json.golden",
	"trivy/gomod-vex.json.golden",
	"trivy/helm.json.golden",
	"trivy/secrets.json.golden",
	"trivy/spring4shell-jre11.json.golden",
	"trivy/amazonlinux2-gp2-x86-vm.json.golden",
	"trivy/npm.json.golden",
	"trivy-defectdojo/all_statuses.json",
	"trivy-defectdojo/cvssv4_severity_source.json",
	"trivy-defectdojo/legacy_many_vulns.json",
	"trivy-defectdojo/kubernetes.json",
	"trivy-defectdojo/misconfigurations_and_secrets.json",
	"trivy-defectdojo/issue_9333.json",
}

func TestGolden(t *testing.T) { reporttest.Golden(t, Parse, samples...) }

func TestNotAffectedIsVEX(t *testing.T) {
	r, err := Parse(reporttest.Sample(t, "trivy-defectdojo/all_statuses.json"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range r.Detections {
		if d.VEX == "not_affected" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("not_affected detections = %d, want 1", n)
	}
}

func TestRejectsNonTrivy(t *testing.T) {
	if _, err := Parse([]byte(`{"foo": 1}`)); err == nil {
		t.Fatal("want an error for a JSON object that is no Trivy report")
	}
}

func FuzzParse(f *testing.F) { reporttest.Fuzz(f, Parse, samples...) }
