// Package grype imports Anchore Grype's JSON report (`grype -o json`), from
// the early 0.x schema to the current one.
package grype

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/wacht-soc/wacht/internal/vuln/report"
)

// Format is the importer id; Version is recorded on every report.
const (
	Format  = "grype"
	Version = 1
)

type doc struct {
	Matches *[]match `json:"matches"`
	Source  struct {
		Type   string          `json:"type"`
		Target json.RawMessage `json:"target"`
	} `json:"source"`
	Distro struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"distro"`
	Descriptor struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"descriptor"`
}

type imageTarget struct {
	UserInput      string   `json:"userInput"`
	ImageID        string   `json:"imageID"`
	ManifestDigest string   `json:"manifestDigest"`
	Tags           []string `json:"tags"`
	RepoDigests    []string `json:"repoDigests"`
}

type vuln struct {
	ID          string   `json:"id"`
	Severity    string   `json:"severity"`
	Description string   `json:"description"`
	URLs        []string `json:"urls"`
	Links       []string `json:"links"`
	CVSS        []struct {
		Version string `json:"version"`
		Vector  string `json:"vector"`
		Metrics struct {
			BaseScore float64 `json:"baseScore"`
		} `json:"metrics"`
	} `json:"cvss"`
	Fix struct {
		Versions []string `json:"versions"`
		State    string   `json:"state"`
	} `json:"fix"`
}

type match struct {
	Vulnerability          vuln   `json:"vulnerability"`
	RelatedVulnerabilities []vuln `json:"relatedVulnerabilities"`
	Artifact               struct {
		Name      string `json:"name"`
		Version   string `json:"version"`
		Type      string `json:"type"`
		PURL      string `json:"purl"`
		Locations []struct {
			Path string `json:"path"`
		} `json:"locations"`
	} `json:"artifact"`
}

// osPackageTypes are installed by a package manager: their location (the
// package database) says nothing about which copy is vulnerable.
var osPackageTypes = map[string]bool{"deb": true, "rpm": true, "apk": true, "alpm": true, "portage": true}

// Parse reads a Grype JSON report.
func Parse(data []byte) (*report.Report, error) {
	var d doc
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("parse grype report: %w", err)
	}
	if d.Matches == nil {
		return nil, errors.New("parse grype report: no matches array")
	}
	r := &report.Report{Format: Format, ParserVersion: Version, Scanner: strings.TrimSpace(d.Descriptor.Name + " " + d.Descriptor.Version)}
	a := report.Asset{}
	if d.Distro.Name != "" {
		a.OS = strings.TrimSpace(d.Distro.Name + " " + d.Distro.Version)
	}
	switch d.Source.Type {
	case "image":
		var t imageTarget
		_ = json.Unmarshal(d.Source.Target, &t)
		a.Kind, a.Name = report.KindImage, t.UserInput
		for _, dig := range []string{t.ManifestDigest, t.ImageID} {
			if dig != "" {
				a.Identifiers = append(a.Identifiers, report.Identifier{Type: report.IDImage, Value: dig})
			}
		}
		for _, rd := range t.RepoDigests {
			if _, dig, ok := strings.Cut(rd, "@"); ok {
				a.Identifiers = append(a.Identifiers, report.Identifier{Type: report.IDImage, Value: dig})
			}
		}
		for _, tag := range t.Tags {
			a.Identifiers = append(a.Identifiers, report.Identifier{Type: report.IDImageRef, Value: tag})
		}
	default:
		var s string
		if json.Unmarshal(d.Source.Target, &s) != nil {
			var t imageTarget
			_ = json.Unmarshal(d.Source.Target, &t)
			s = t.UserInput
		}
		a.Kind, a.Name = report.KindApplication, s
		if s != "" {
			a.Identifiers = []report.Identifier{{Type: report.IDRepo, Value: s}}
		}
	}
	if a.Name == "" {
		a.Name = "grype-target"
	}
	ai := r.AddAsset(a)
	for _, m := range *d.Matches {
		v := m.Vulnerability
		if v.ID == "" {
			continue
		}
		var aliases []string
		for _, rv := range m.RelatedVulnerabilities {
			aliases = append(aliases, rv.ID)
		}
		id, aliases := report.PreferCVE(v.ID, aliases)
		det := report.Detection{
			Asset: ai, VulnID: id, Aliases: aliases,
			Description: report.FirstParagraph(v.Description),
			Severity:    report.ParseSeverity(v.Severity),
			Package:     m.Artifact.Name, Version: m.Artifact.Version, PURL: m.Artifact.PURL,
			References: append(append([]string(nil), v.URLs...), v.Links...),
		}
		if v.Fix.State == "fixed" && len(v.Fix.Versions) > 0 {
			det.FixedVersion = strings.Join(v.Fix.Versions, ", ")
		}
		if v.Fix.State == "not-fixed" || v.Fix.State == "wont-fix" {
			det.FixedVersion = ""
		}
		if !osPackageTypes[m.Artifact.Type] && len(m.Artifact.Locations) > 0 {
			det.Location = m.Artifact.Locations[0].Path
		}
		for _, vv := range append([]vuln{v}, m.RelatedVulnerabilities...) {
			for _, c := range vv.CVSS {
				switch {
				case strings.HasPrefix(c.Version, "3") && det.CVSS3Vector == "":
					det.CVSS3Vector = c.Vector
					if det.CVSSScore == 0 {
						det.CVSSScore = c.Metrics.BaseScore
					}
				case strings.HasPrefix(c.Version, "4") && det.CVSS4Vector == "":
					det.CVSS4Vector = c.Vector
				}
			}
		}
		if len(det.References) > 10 {
			det.References = det.References[:10]
		}
		r.Detections = append(r.Detections, det)
	}
	return r, nil
}
