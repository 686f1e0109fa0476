package openvas

import (
	"testing"

	"github.com/wacht-soc/wacht/internal/vuln/report/reporttest"
)

var samples = []string{"openvas/many_vuln.xml", "openvas/report_detail_v2.xml"}

func TestGolden(t *testing.T) { reporttest.Golden(t, Parse, samples...) }

func TestHostIdentifiers(t *testing.T) {
	r, err := Parse(reporttest.Sample(t, "openvas/report_detail_v2.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Assets) != 1 || r.Assets[0].Name != "server99" || len(r.Assets[0].Identifiers) != 2 {
		t.Fatalf("assets = %+v", r.Assets)
	}
	if d := r.Detections[0]; d.Location != "42/tcp" || d.CVSS3Vector == "" || len(d.Aliases) < 2 {
		t.Fatalf("detection = %+v", d)
	}
}

func TestRejectsNonReport(t *testing.T) {
	if _, err := Parse([]byte(`<bom/>`)); err == nil {
		t.Fatal("want an error")
	}
}

func FuzzParse(f *testing.F) { reporttest.Fuzz(f, Parse, samples...) }
