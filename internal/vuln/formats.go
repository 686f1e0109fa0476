package vuln

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/wacht-soc/wacht/internal/vuln/cyclonedx"
	"github.com/wacht-soc/wacht/internal/vuln/grype"
	"github.com/wacht-soc/wacht/internal/vuln/nessus"
	"github.com/wacht-soc/wacht/internal/vuln/openvas"
	"github.com/wacht-soc/wacht/internal/vuln/osv"
	"github.com/wacht-soc/wacht/internal/vuln/report"
	"github.com/wacht-soc/wacht/internal/vuln/sarif"
	"github.com/wacht-soc/wacht/internal/vuln/trivy"
)

// Importer parses one report format.
type Importer func(data []byte) (*report.Report, error)

var importers = map[string]Importer{
	trivy.Format:     trivy.Parse,
	grype.Format:     grype.Parse,
	sarif.Format:     sarif.Parse,
	cyclonedx.Format: cyclonedx.Parse,
	osv.Format:       osv.Parse,
	openvas.Format:   openvas.Parse,
	nessus.Format:    nessus.Parse,
}

// Formats lists the importer ids.
func Formats() []string {
	out := make([]string, 0, len(importers))
	for k := range importers {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Detect guesses the format of a report from its first bytes.
func Detect(data []byte) string {
	head := data[:min(len(data), 8192)]
	has := func(s string) bool { return bytes.Contains(head, []byte(s)) }
	switch {
	case has(`"SchemaVersion"`) || has(`"ArtifactName"`) || has(`"VulnerabilityID"`) || has(`"ClusterName"`):
		return trivy.Format
	case has(`"matches"`) && (has(`"descriptor"`) || has(`"artifact"`) || has(`"source"`)):
		return grype.Format
	case has(`"runs"`) && has(`sarif`) || has(`"runs"`) && has(`"tool"`):
		return sarif.Format
	case has(`"bomFormat"`) || has(`cyclonedx.org/schema/bom`):
		return cyclonedx.Format
	case has(`<NessusClientData_v2`):
		return nessus.Format
	case has(`<report`) && (has(`<results`) || has(`format_id=`) || has(`<nvt`)):
		return openvas.Format
	case has(`"results"`) && (has(`"packages"`) || has(`"source"`)):
		return osv.Format
	case bytes.HasPrefix(bytes.TrimSpace(head), []byte("[")) && has(`"Target"`):
		return trivy.Format
	}
	return ""
}

// ParseReport parses data as format ("" or "auto": detect).
func ParseReport(data []byte, format string) (*report.Report, error) {
	if format == "" || format == "auto" {
		format = Detect(data)
		if format == "" {
			return nil, errorf("unrecognized report format (known: %s)", strings.Join(Formats(), ", "))
		}
	}
	imp, ok := importers[format]
	if !ok {
		return nil, errorf("format %q (known: %s)", format, strings.Join(Formats(), ", "))
	}
	r, err := imp(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return r, nil
}
