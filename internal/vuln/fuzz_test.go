package vuln_test

import (
	"bytes"
	"testing"

	"github.com/wacht-soc/wacht/internal/vuln"
)

// The feed and record parsers and format detection take any input
// without panicking; what they accept is well-formed.

func FuzzParseKEV(f *testing.F) {
	f.Add([]byte(`{"catalogVersion":"1","vulnerabilities":[{"cveID":"CVE-2021-44228","dateAdded":"2021-12-10"}]}`))
	f.Add([]byte(`{"vulnerabilities":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		es, err := vuln.ParseKEV(bytes.NewReader(data))
		if err == nil && es == nil {
			t.Fatal("no error and no entries slice")
		}
	})
}

func FuzzParseEPSS(f *testing.F) {
	f.Add([]byte("#model_version:v2025.03.14,score_date:2025-06-18\ncve,epss,percentile\nCVE-2021-44228,0.94358,0.99961\n"))
	f.Add([]byte("cve,epss,percentile\nCVE-1,x,1\n"))
	f.Add([]byte("cve,epss\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		es, err := vuln.ParseEPSS(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, e := range es {
			if len(e.CVE) < 4 || e.CVE[:4] != "CVE-" {
				t.Fatalf("accepted %q", e.CVE)
			}
		}
	})
}

func FuzzParseCVERecord(f *testing.F) {
	f.Add([]byte(`{"dataType":"CVE_RECORD","cveMetadata":{"cveId":"CVE-2024-0001"},"containers":{"cna":{},"adp":[{"metrics":[{"other":{"type":"ssvc","content":{"options":[{"Exploitation":"poc"},{"Automatable":"yes"},{"Technical Impact":"total"}]}}}]}]}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := vuln.ParseCVERecord(data)
		if err == nil && r.ID == "" {
			t.Fatalf("record without a CVE id accepted: %+v", r)
		}
	})
}

func FuzzParseReport(f *testing.F) {
	f.Add([]byte(`{"SchemaVersion":2,"Results":[]}`))
	f.Add([]byte(`{"matches":[]}`))
	f.Add([]byte(`<?xml version="1.0"?><NessusClientData_v2></NessusClientData_v2>`))
	f.Add([]byte(`{"version":"2.1.0","runs":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := vuln.ParseReport(data, "auto")
		if err != nil {
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("parsed report does not validate: %v", err)
		}
	})
}
