package osv

import (
	"testing"

	"github.com/wacht-soc/wacht/internal/vuln/report/reporttest"
)

var samples = []string{"osv-scanner/many_findings.json"}

func TestGolden(t *testing.T) { reporttest.Golden(t, Parse, samples...) }

func TestPrefersCVE(t *testing.T) {
	r, err := Parse(reporttest.Sample(t, samples[0]))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range r.Detections {
		if d.VulnID == "GHSA-25mq-v84q-4j7r" {
			t.Fatal("GHSA advisory with a CVE alias kept its GHSA id")
		}
		if d.VulnID == "CVE-2022-31090" && (d.CVSS3Vector == "" || d.FixedVersion == "") {
			t.Fatalf("CVE-2022-31090: %+v", d)
		}
	}
}

func TestRejectsNonOSV(t *testing.T) {
	if _, err := Parse([]byte(`{"runs": []}`)); err == nil {
		t.Fatal("want an error")
	}
}

func FuzzParse(f *testing.F) { reporttest.Fuzz(f, Parse, samples...) }
