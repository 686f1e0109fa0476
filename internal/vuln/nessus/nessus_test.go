package nessus

import (
	"testing"

	"github.com/wacht-soc/wacht/internal/vuln/report/reporttest"
)

var samples = []string{"nessus/nessus_with_cvssv3.nessus", "nessus/nessus_many_vuln.xml"}

func TestGolden(t *testing.T) { reporttest.Golden(t, Parse, samples...) }

func TestCVSS3AndExploit(t *testing.T) {
	r, err := Parse(reporttest.Sample(t, samples[0]))
	if err != nil {
		t.Fatal(err)
	}
	vec, expl := 0, 0
	for _, d := range r.Detections {
		if d.CVSS3Vector != "" {
			vec++
		}
		if d.ExploitAvailable {
			expl++
		}
	}
	if vec == 0 || expl == 0 || len(r.Assets) == 0 || len(r.Assets[0].Identifiers) == 0 {
		t.Fatalf("vectors %d, exploits %d, assets %+v", vec, expl, r.Assets)
	}
}

func TestRejectsOtherXML(t *testing.T) {
	if _, err := Parse([]byte(`<report/>`)); err == nil {
		t.Fatal("want an error")
	}
}

func FuzzParse(f *testing.F) { reporttest.Fuzz(f, Parse, samples...) }
