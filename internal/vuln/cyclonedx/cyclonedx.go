// Package cyclonedx imports CycloneDX BOMs with vulnerabilities (VDR) and
// VEX documents, JSON or XML, through github.com/CycloneDX/cyclonedx-go.
// The 1.2-era vulnerability extension (v:vulnerability inside components,
// as old Grype wrote it), which the library does not know, has a small
// decoder of its own.
package cyclonedx

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"regexp"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/wacht-soc/wacht/internal/vuln/report"
)

// Format is the importer id; Version is recorded on every report.
const (
	Format  = "cyclonedx"
	Version = 1
)

var specVersionRe = regexp.MustCompile(`"specVersion"\s*:\s*"1\.(?:[7-9]|\d\d)"`)

const extNS = "http://cyclonedx.org/schema/ext/vulnerability"

// Parse reads a CycloneDX BOM.
func Parse(data []byte) (*report.Report, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errors.New("parse cyclonedx: empty")
	}
	if trimmed[0] == '<' && bytes.Contains(trimmed, []byte(extNS)) {
		return parseExtension(trimmed)
	}
	format := cdx.BOMFileFormatJSON
	if trimmed[0] == '<' {
		format = cdx.BOMFileFormatXML
	}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(trimmed), format).Decode(&bom); err != nil {
		// The library refuses specification versions newer than it
		// knows (1.7); the fields we read have not changed, so read the
		// document as the newest version it knows.
		newer := specVersionRe.ReplaceAll(trimmed, []byte(`"specVersion": "1.6"`))
		if format != cdx.BOMFileFormatJSON || bytes.Equal(newer, trimmed) || !strings.Contains(err.Error(), "specification version") {
			return nil, fmt.Errorf("parse cyclonedx: %w", err)
		}
		bom = cdx.BOM{}
		if err := cdx.NewBOMDecoder(bytes.NewReader(newer), format).Decode(&bom); err != nil {
			return nil, fmt.Errorf("parse cyclonedx: %w", err)
		}
	}
	if bom.BOMFormat != "" && bom.BOMFormat != "CycloneDX" {
		return nil, fmt.Errorf("parse cyclonedx: bomFormat %q", bom.BOMFormat)
	}
	if bom.BOMFormat == "" && format == cdx.BOMFileFormatJSON {
		return nil, errors.New("parse cyclonedx: no bomFormat")
	}
	return fromBOM(&bom), nil
}

func fromBOM(bom *cdx.BOM) *report.Report {
	r := &report.Report{Format: Format, ParserVersion: Version}
	a := report.Asset{Kind: report.KindApplication}
	if md := bom.Metadata; md != nil {
		if md.Tools != nil {
			var names []string
			if md.Tools.Components != nil {
				for _, c := range *md.Tools.Components {
					names = append(names, strings.TrimSpace(c.Name+" "+c.Version))
				}
			}
			if md.Tools.Tools != nil {
				for _, t := range *md.Tools.Tools {
					names = append(names, strings.TrimSpace(t.Name+" "+t.Version))
				}
			}
			r.Scanner = strings.Join(names, ", ")
		}
		if c := md.Component; c != nil {
			a.Name = strings.TrimSpace(c.Name + " " + c.Version)
			switch c.Type {
			case cdx.ComponentTypeContainer:
				a.Kind = report.KindImage
			case cdx.ComponentTypeDevice, cdx.ComponentTypeOS:
				a.Kind = report.KindHost
			}
			if c.PackageURL != "" {
				a.Identifiers = append(a.Identifiers, report.Identifier{Type: report.IDPURL, Value: c.PackageURL})
			}
		}
	}
	if a.Name == "" {
		a.Name = "sbom " + bom.SerialNumber
	}
	ai := r.AddAsset(a)
	comps := map[string]cdx.Component{}
	var walk func(cs *[]cdx.Component)
	walk = func(cs *[]cdx.Component) {
		if cs == nil {
			return
		}
		for _, c := range *cs {
			if c.BOMRef != "" {
				comps[c.BOMRef] = c
			}
			walk(c.Components)
		}
	}
	walk(bom.Components)
	if bom.Vulnerabilities == nil {
		return r
	}
	for _, v := range *bom.Vulnerabilities {
		if v.ID == "" {
			continue
		}
		var aliases []string
		if v.References != nil {
			for _, ref := range *v.References {
				aliases = append(aliases, ref.ID)
			}
		}
		id, aliases := report.PreferCVE(v.ID, aliases)
		base := report.Detection{Asset: ai, VulnID: id, Aliases: aliases, Description: report.FirstParagraph(firstNonEmpty(v.Description, v.Detail))}
		if v.Ratings != nil {
			for _, rt := range *v.Ratings {
				sev := report.ParseSeverity(string(rt.Severity))
				if sev == report.SeverityUnknown && rt.Score != nil {
					sev = report.SeverityFromScore(*rt.Score)
				}
				if sev > base.Severity {
					base.Severity = sev
				}
				switch rt.Method {
				case cdx.ScoringMethodCVSSv3, cdx.ScoringMethodCVSSv31:
					if base.CVSS3Vector == "" && rt.Vector != "" {
						base.CVSS3Vector = withPrefix(rt.Vector, rt.Method)
						if rt.Score != nil {
							base.CVSSScore = *rt.Score
						}
					}
				case cdx.ScoringMethodCVSSv4:
					if base.CVSS4Vector == "" && rt.Vector != "" {
						base.CVSS4Vector = withPrefix(rt.Vector, rt.Method)
					}
				}
			}
		}
		if v.Analysis != nil {
			switch v.Analysis.State {
			case cdx.IASNotAffected, cdx.IASFalsePositive:
				base.VEX = report.VEXNotAffected
				base.VEXJustification = firstNonEmpty(string(v.Analysis.Justification), string(v.Analysis.State))
			case cdx.IASResolved, cdx.IASResolvedWithPedigree:
				base.VEX = report.VEXFixed
			case cdx.IASExploitable:
				base.VEX = report.VEXAffected
			case cdx.IASInTriage:
				base.VEX = report.VEXUnderInvestigation
			}
		}
		if v.Affects == nil || len(*v.Affects) == 0 {
			r.Detections = append(r.Detections, base)
			continue
		}
		for _, af := range *v.Affects {
			d := base
			if c, ok := comps[af.Ref]; ok {
				d.Package, d.Version, d.PURL = c.Name, c.Version, c.PackageURL
			} else if strings.HasPrefix(af.Ref, "pkg:") {
				d.PURL = af.Ref
			} else {
				d.Location = af.Ref
			}
			r.Detections = append(r.Detections, d)
		}
	}
	return r
}

func withPrefix(vec string, m cdx.ScoringMethod) string {
	if strings.HasPrefix(vec, "CVSS:") {
		return vec
	}
	vec = strings.Trim(vec, "()")
	switch m {
	case cdx.ScoringMethodCVSSv4:
		return "CVSS:4.0/" + vec
	case cdx.ScoringMethodCVSSv3:
		return "CVSS:3.0/" + vec
	default:
		return "CVSS:3.1/" + vec
	}
}

type extBOM struct {
	Metadata struct {
		Tools []struct {
			Name    string `xml:"name"`
			Version string `xml:"version"`
		} `xml:"tools>tool"`
		Component *extComponent `xml:"component"`
	} `xml:"metadata"`
	Components []extComponent `xml:"components>component"`
}

type extComponent struct {
	Type            string             `xml:"type,attr"`
	Name            string             `xml:"name"`
	Version         string             `xml:"version"`
	PURL            string             `xml:"purl"`
	Components      []extComponent     `xml:"components>component"`
	Vulnerabilities []extVulnerability `xml:"vulnerabilities>vulnerability"`
}

type extVulnerability struct {
	ID      string `xml:"id"`
	Ratings []struct {
		Base     float64 `xml:"score>base"`
		Severity string  `xml:"severity"`
		Method   string  `xml:"method"`
		Vector   string  `xml:"vector"`
	} `xml:"ratings>rating"`
	Description string   `xml:"description"`
	Advisories  []string `xml:"advisories>advisory"`
}

// parseExtension reads the 1.2 vulnerability extension (XML only).
func parseExtension(data []byte) (*report.Report, error) {
	var b extBOM
	if err := xml.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("parse cyclonedx vulnerability extension: %w", err)
	}
	r := &report.Report{Format: Format, ParserVersion: Version}
	for _, t := range b.Metadata.Tools {
		r.Scanner = strings.TrimSpace(t.Name + " " + t.Version)
	}
	a := report.Asset{Kind: report.KindApplication, Name: "sbom"}
	if c := b.Metadata.Component; c != nil {
		a.Name = strings.TrimSpace(c.Name + " " + c.Version)
		if c.Type == "container" {
			a.Kind = report.KindImage
		}
		if c.PURL != "" {
			a.Identifiers = []report.Identifier{{Type: report.IDPURL, Value: c.PURL}}
		}
	}
	ai := r.AddAsset(a)
	var walk func([]extComponent)
	walk = func(cs []extComponent) {
		for _, c := range cs {
			for _, v := range c.Vulnerabilities {
				if v.ID == "" {
					continue
				}
				d := report.Detection{Asset: ai, VulnID: v.ID, Package: c.Name, Version: c.Version, PURL: c.PURL, Description: report.FirstParagraph(v.Description), References: v.Advisories}
				for _, rt := range v.Ratings {
					sev := report.ParseSeverity(rt.Severity)
					if sev == report.SeverityUnknown && rt.Base > 0 {
						sev = report.SeverityFromScore(rt.Base)
					}
					if sev > d.Severity {
						d.Severity = sev
					}
					if strings.HasPrefix(rt.Method, "CVSSv3") && d.CVSS3Vector == "" && rt.Vector != "" {
						d.CVSS3Vector = withPrefix(rt.Vector, cdx.ScoringMethodCVSSv31)
						d.CVSSScore = rt.Base
					}
				}
				r.Detections = append(r.Detections, d)
			}
			walk(c.Components)
		}
	}
	walk(b.Components)
	return r, nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
