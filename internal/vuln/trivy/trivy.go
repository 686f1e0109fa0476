// Package trivy imports Trivy's JSON report: SchemaVersion 2 (an artifact
// with Results), the legacy form (a bare list of Results) and `trivy k8s`
// reports (resources with Results). Vulnerabilities, failed
// misconfigurations and secrets become detections.
package trivy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/wacht-soc/wacht/internal/vuln/report"
)

// Format is the importer id; Version is recorded on every report.
const (
	Format  = "trivy"
	Version = 1
)

type doc struct {
	SchemaVersion int
	ArtifactName  string
	ArtifactType  string
	Trivy         *struct{ Version string }
	Metadata      struct {
		OS *struct {
			Family string
			Name   string
		}
		ImageID     string
		RepoDigests []string
		RepoTags    []string
	}
	Results []result
	// trivy k8s
	ClusterName       string
	Vulnerabilities   []k8sResource
	Misconfigurations []k8sResource
	Resources         []k8sResource
}

type k8sResource struct {
	Namespace string
	Kind      string
	Name      string
	Results   []result
}

type result struct {
	Target            string
	Class             string
	Type              string
	Vulnerabilities   []vulnerability
	Misconfigurations []misconfig
	Secrets           []secret
}

type vulnerability struct {
	VulnerabilityID  string
	VendorIDs        []string
	PkgName          string
	PkgPath          string
	PkgIdentifier    struct{ PURL string }
	InstalledVersion string
	FixedVersion     string
	Status           string
	Severity         string
	Title            string
	Description      string
	PrimaryURL       string
	References       []string
	CVSS             map[string]cvss
	SeveritySource   string
}

type cvss struct {
	V3Vector  string
	V3Score   float64
	V40Vector string
	V40Score  float64
}

type misconfig struct {
	ID            string
	AVDID         string
	Title         string
	Description   string
	Message       string
	Severity      string
	Status        string
	PrimaryURL    string
	CauseMetadata struct {
		Resource  string
		StartLine int
	}
}

type secret struct {
	RuleID    string
	Category  string
	Severity  string
	Title     string
	StartLine int
}

// Parse reads a Trivy JSON report.
func Parse(data []byte) (*report.Report, error) {
	data = bytes.TrimSpace(data)
	r := &report.Report{Format: Format, ParserVersion: Version}
	if len(data) > 0 && data[0] == '[' {
		var results []result
		if err := json.Unmarshal(data, &results); err != nil {
			return nil, fmt.Errorf("parse trivy legacy report: %w", err)
		}
		for _, res := range results {
			name := res.Target
			if i := strings.Index(name, " ("); i > 0 {
				name = name[:i]
			}
			a := r.AddAsset(report.Asset{Kind: report.KindImage, Name: name, Identifiers: []report.Identifier{{Type: report.IDImageRef, Value: name}}})
			addResult(r, a, res)
		}
		return r, nil
	}
	var d doc
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("parse trivy report: %w", err)
	}
	if d.Trivy != nil && d.Trivy.Version != "" {
		r.Scanner = "trivy " + d.Trivy.Version
	} else {
		r.Scanner = "trivy"
	}
	if d.ClusterName != "" || len(d.Resources) > 0 || len(d.Vulnerabilities) > 0 || len(d.Misconfigurations) > 0 {
		for _, group := range [][]k8sResource{d.Vulnerabilities, d.Misconfigurations, d.Resources} {
			for _, res := range group {
				id := strings.Trim(strings.Join([]string{d.ClusterName, res.Namespace, res.Kind, res.Name}, "/"), "/")
				a := r.AddAsset(report.Asset{Kind: report.KindService, Name: id, Identifiers: []report.Identifier{{Type: report.IDCloud, Value: id}}})
				for _, x := range res.Results {
					addResult(r, a, x)
				}
			}
		}
		return r, nil
	}
	if d.SchemaVersion == 0 && d.ArtifactName == "" && len(d.Results) == 0 {
		return nil, errors.New("parse trivy report: neither SchemaVersion, ArtifactName nor Results")
	}
	a := report.Asset{Name: d.ArtifactName}
	switch d.ArtifactType {
	case "container_image":
		a.Kind = report.KindImage
		if d.Metadata.ImageID != "" {
			a.Identifiers = append(a.Identifiers, report.Identifier{Type: report.IDImage, Value: d.Metadata.ImageID})
		}
		for _, rd := range d.Metadata.RepoDigests {
			if _, dig, ok := strings.Cut(rd, "@"); ok {
				a.Identifiers = append(a.Identifiers, report.Identifier{Type: report.IDImage, Value: dig})
			}
		}
		for _, t := range d.Metadata.RepoTags {
			a.Identifiers = append(a.Identifiers, report.Identifier{Type: report.IDImageRef, Value: t})
		}
		if len(a.Identifiers) == 0 {
			a.Identifiers = append(a.Identifiers, report.Identifier{Type: report.IDImageRef, Value: d.ArtifactName})
		}
	case "vm":
		a.Kind = report.KindVM
		a.Identifiers = []report.Identifier{{Type: report.IDPath, Value: d.ArtifactName}}
	default: // filesystem, repository, sbom…
		a.Kind = report.KindApplication
		a.Identifiers = []report.Identifier{{Type: report.IDRepo, Value: d.ArtifactName}}
	}
	if os := d.Metadata.OS; os != nil {
		a.OS = strings.TrimSpace(os.Family + " " + os.Name)
	}
	ai := r.AddAsset(a)
	for _, res := range d.Results {
		addResult(r, ai, res)
	}
	return r, nil
}

func addResult(r *report.Report, asset int, res result) {
	for _, v := range res.Vulnerabilities {
		if v.VulnerabilityID == "" {
			continue
		}
		id, aliases := report.PreferCVE(v.VulnerabilityID, v.VendorIDs)
		d := report.Detection{
			Asset: asset, VulnID: id, Aliases: aliases,
			Title: v.Title, Description: report.FirstParagraph(v.Description),
			Severity: report.ParseSeverity(v.Severity),
			Package:  v.PkgName, Version: v.InstalledVersion, FixedVersion: v.FixedVersion,
			PURL: v.PkgIdentifier.PURL, References: refs(v.PrimaryURL, v.References),
		}
		if v.PkgPath != "" {
			d.Location = v.PkgPath
		} else if res.Class == "lang-pkgs" {
			d.Location = res.Target
		}
		d.CVSS3Vector, d.CVSS4Vector, d.CVSSScore = pickCVSS(v.CVSS, v.SeveritySource)
		switch v.Status {
		case "not_affected":
			d.VEX = report.VEXNotAffected
			d.VEXJustification = "scanner status not_affected"
		case "under_investigation":
			d.VEX = report.VEXUnderInvestigation
		}
		r.Detections = append(r.Detections, d)
	}
	for _, m := range res.Misconfigurations {
		if m.Status != "" && m.Status != "FAIL" {
			continue
		}
		id := m.AVDID
		if id == "" {
			id = m.ID
		}
		if id == "" {
			continue
		}
		loc := res.Target
		if m.CauseMetadata.StartLine > 0 {
			loc += ":" + strconv.Itoa(m.CauseMetadata.StartLine)
		}
		r.Detections = append(r.Detections, report.Detection{
			Asset: asset, VulnID: id, Aliases: report.SortedAliases(id, m.ID),
			Title: m.Title, Description: report.FirstParagraph(firstNonEmpty(m.Message, m.Description)),
			Severity: report.ParseSeverity(m.Severity), Location: loc, References: refs(m.PrimaryURL, nil),
		})
	}
	for _, s := range res.Secrets {
		if s.RuleID == "" {
			continue
		}
		loc := res.Target
		if s.StartLine > 0 {
			loc += ":" + strconv.Itoa(s.StartLine)
		}
		r.Detections = append(r.Detections, report.Detection{
			Asset: asset, VulnID: "secret:" + s.RuleID, Title: s.Title,
			Severity: report.ParseSeverity(s.Severity), Location: loc,
		})
	}
}

// pickCVSS prefers the severity source's vectors, then NVD, then any.
func pickCVSS(m map[string]cvss, source string) (v3, v4 string, score float64) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	order := append([]string{source, "nvd"}, keys...)
	for _, k := range order {
		c, ok := m[k]
		if !ok {
			continue
		}
		if v3 == "" && c.V3Vector != "" {
			v3 = c.V3Vector
			if score == 0 {
				score = c.V3Score
			}
		}
		if v4 == "" && c.V40Vector != "" {
			v4 = c.V40Vector
			if c.V40Score > 0 {
				score = c.V40Score
			}
		}
	}
	return v3, v4, score
}

func refs(primary string, more []string) []string {
	var out []string
	if primary != "" {
		out = append(out, primary)
	}
	for _, r := range more {
		if r != primary && len(out) < 10 {
			out = append(out, r)
		}
	}
	return out
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
