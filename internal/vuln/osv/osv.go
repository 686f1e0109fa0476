// Package osv imports OSV-Scanner's JSON output (`osv-scanner --format
// json`): results per lockfile or directory, packages with their OSV
// advisories. The scanned project is one application asset; each lockfile
// is the location of its packages.
package osv

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/wacht-soc/wacht/internal/vuln/report"
)

// Format is the importer id; Version is recorded on every report.
const (
	Format  = "osv"
	Version = 1
)

type doc struct {
	Results *[]struct {
		Source struct {
			Path string `json:"path"`
			Type string `json:"type"`
		} `json:"source"`
		Packages []struct {
			Package struct {
				Name      string `json:"name"`
				Version   string `json:"version"`
				Ecosystem string `json:"ecosystem"`
			} `json:"package"`
			Vulnerabilities []advisory `json:"vulnerabilities"`
			Groups          []struct {
				IDs []string `json:"ids"`
			} `json:"groups"`
		} `json:"packages"`
	} `json:"results"`
}

type advisory struct {
	ID       string   `json:"id"`
	Aliases  []string `json:"aliases"`
	Summary  string   `json:"summary"`
	Details  string   `json:"details"`
	Severity []struct {
		Type  string `json:"type"`
		Score string `json:"score"`
	} `json:"severity"`
	Affected []struct {
		Package struct {
			Name string `json:"name"`
			PURL string `json:"purl"`
		} `json:"package"`
		Ranges []struct {
			Events []map[string]string `json:"events"`
		} `json:"ranges"`
	} `json:"affected"`
	References []struct {
		URL string `json:"url"`
	} `json:"references"`
	DatabaseSpecific struct {
		Severity string `json:"severity"`
	} `json:"database_specific"`
}

// Parse reads an OSV-Scanner report.
func Parse(data []byte) (*report.Report, error) {
	var d doc
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("parse osv-scanner report: %w", err)
	}
	if d.Results == nil {
		return nil, errors.New("parse osv-scanner report: no results")
	}
	r := &report.Report{Format: Format, ParserVersion: Version, Scanner: "osv-scanner"}
	for _, res := range *d.Results {
		// The project is the directory holding the lockfile.
		dir := path.Dir(res.Source.Path)
		ai := r.AddAsset(report.Asset{Kind: report.KindApplication, Name: dir, Identifiers: []report.Identifier{{Type: report.IDRepo, Value: dir}}})
		for _, p := range res.Packages {
			// Groups list ids that are one vulnerability under several
			// advisories; report each group once.
			grouped := map[string]bool{}
			for _, v := range p.Vulnerabilities {
				if v.ID == "" || grouped[v.ID] {
					continue
				}
				aliases := append([]string(nil), v.Aliases...)
				for _, g := range p.Groups {
					if contains(g.IDs, v.ID) {
						for _, id := range g.IDs {
							grouped[id] = true
							aliases = append(aliases, id)
						}
					}
				}
				id, aliases := report.PreferCVE(v.ID, aliases)
				det := report.Detection{Asset: ai, VulnID: id, Aliases: aliases, Title: v.Summary,
					Description: report.FirstParagraph(v.Details), Package: p.Package.Name, Version: p.Package.Version,
					Location: res.Source.Path, Severity: report.ParseSeverity(v.DatabaseSpecific.Severity)}
				for _, s := range v.Severity {
					switch {
					case s.Type == "CVSS_V3" && det.CVSS3Vector == "":
						det.CVSS3Vector = s.Score
					case s.Type == "CVSS_V4" && det.CVSS4Vector == "":
						det.CVSS4Vector = s.Score
					}
				}
				for _, a := range v.Affected {
					if a.Package.Name != p.Package.Name {
						continue
					}
					if det.PURL == "" && a.Package.PURL != "" {
						det.PURL = a.Package.PURL + "@" + p.Package.Version
					}
					for _, rg := range a.Ranges {
						for _, ev := range rg.Events {
							if f := ev["fixed"]; f != "" && !strings.Contains(det.FixedVersion, f) {
								if det.FixedVersion != "" {
									det.FixedVersion += ", "
								}
								det.FixedVersion += f
							}
						}
					}
				}
				for _, ref := range v.References {
					if len(det.References) < 10 {
						det.References = append(det.References, ref.URL)
					}
				}
				r.Detections = append(r.Detections, det)
			}
		}
	}
	return r, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
