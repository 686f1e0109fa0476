package cyclonedx

import (
	"testing"

	"github.com/wacht-soc/wacht/internal/vuln/report/reporttest"
)

var samples = []string{
	"cyclonedx-defectdojo/log4j.json",
	"cyclonedx-defectdojo/nested-component-log4j.json",
	"cyclonedx-defectdojo/issue_9277.json",
	"cyclonedx-defectdojo/valid-vulnerability-1.4.json",
	"cyclonedx-defectdojo/grype.xml",
	"cyclonedx/VEX/vex.json",
	"cyclonedx/VEX/CISA-Use-Cases/Case-1/vex-not_affected.json",
	"cyclonedx/VEX/CISA-Use-Cases/Case-1/vex-affected.json",
	"cyclonedx/VEX/CISA-Use-Cases/Case-1/vex-fixed.json",
	"cyclonedx/dropwizard-1.3.15.bom.json",
	"cyclonedx/cern-lhc-vdm-editor.bom.xml",
	"grype/grype-cyclonedx-image.json",
	"trivy/npm-cyclonedx.json.golden",
}

func TestGolden(t *testing.T) { reporttest.Golden(t, Parse, samples...) }

func TestVEXNotAffected(t *testing.T) {
	r, err := Parse(reporttest.Sample(t, "cyclonedx/VEX/CISA-Use-Cases/Case-1/vex-not_affected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Detections) == 0 {
		t.Fatal("no detections")
	}
	for _, d := range r.Detections {
		if d.VEX != "not_affected" || d.VEXJustification == "" {
			t.Fatalf("detection %s: vex %q justification %q, want not_affected with a justification", d.VulnID, d.VEX, d.VEXJustification)
		}
	}
}

func TestExtensionXML(t *testing.T) {
	r, err := Parse(reporttest.Sample(t, "cyclonedx-defectdojo/grype.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Detections) != 327 {
		t.Fatalf("detections = %d, want the 327 v:vulnerability elements", len(r.Detections))
	}
}

func FuzzParse(f *testing.F) { reporttest.Fuzz(f, Parse, samples...) }
