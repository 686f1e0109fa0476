// Package sarif imports SARIF 2.1.0 logs (CodeQL, Semgrep, gitleaks,
// dependency-check, govulncheck, Trivy and Grype in SARIF mode…). Each result
// becomes a detection on the scanned repository; severity comes from the
// rule's security-severity score when present, else from the level.
// Decoding is tolerant: fingerprints nested against the specification (a
// known Black Duck habit) and missing rule arrays are accepted.
package sarif

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/wacht-soc/wacht/internal/vuln/report"
)

// Format is the importer id; Version is recorded on every report.
const (
	Format  = "sarif"
	Version = 1
)

type log struct {
	Version string `json:"version"`
	Runs    *[]run `json:"runs"`
}

type text struct {
	Text string `json:"text"`
}

type rule struct {
	ID                   string `json:"id"`
	Name                 string `json:"name"`
	ShortDescription     text   `json:"shortDescription"`
	FullDescription      text   `json:"fullDescription"`
	HelpURI              string `json:"helpUri"`
	DefaultConfiguration struct {
		Level string `json:"level"`
	} `json:"defaultConfiguration"`
	Properties properties `json:"properties"`
}

type properties struct {
	SecuritySeverity json.RawMessage `json:"security-severity"`
	Tags             []string        `json:"tags"`
}

type run struct {
	Tool struct {
		Driver struct {
			Name            string `json:"name"`
			Version         string `json:"version"`
			SemanticVersion string `json:"semanticVersion"`
			Rules           []rule `json:"rules"`
		} `json:"driver"`
	} `json:"tool"`
	Results                  []result `json:"results"`
	VersionControlProvenance []struct {
		RepositoryURI string `json:"repositoryUri"`
	} `json:"versionControlProvenance"`
}

type result struct {
	RuleID    string `json:"ruleId"`
	RuleIndex *int   `json:"ruleIndex"`
	Rule      *struct {
		ID    string `json:"id"`
		Index *int   `json:"index"`
	} `json:"rule"`
	Level     string `json:"level"`
	Message   text   `json:"message"`
	Locations []struct {
		PhysicalLocation struct {
			ArtifactLocation struct {
				URI string `json:"uri"`
			} `json:"artifactLocation"`
			Region struct {
				StartLine int `json:"startLine"`
			} `json:"region"`
		} `json:"physicalLocation"`
	} `json:"locations"`
	PartialFingerprints map[string]json.RawMessage `json:"partialFingerprints"`
	Fingerprints        map[string]json.RawMessage `json:"fingerprints"`
	Suppressions        []struct {
		Kind   string `json:"kind"`
		Status string `json:"status"`
	} `json:"suppressions"`
	Properties properties `json:"properties"`
}

var cveRe = regexp.MustCompile(`CVE-\d{4}-\d{4,}`)

// Parse reads a SARIF log.
func Parse(data []byte) (*report.Report, error) {
	var l log
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("parse sarif: %w", err)
	}
	if l.Runs == nil {
		return nil, errors.New("parse sarif: no runs")
	}
	r := &report.Report{Format: Format, ParserVersion: Version}
	var tools []string
	for _, rn := range *l.Runs {
		drv := rn.Tool.Driver
		ver := drv.SemanticVersion
		if ver == "" {
			ver = drv.Version
		}
		tools = append(tools, strings.TrimSpace(drv.Name+" "+ver))
		a := report.Asset{Kind: report.KindApplication}
		if len(rn.VersionControlProvenance) > 0 && rn.VersionControlProvenance[0].RepositoryURI != "" {
			a.Name = rn.VersionControlProvenance[0].RepositoryURI
			a.Identifiers = []report.Identifier{{Type: report.IDRepo, Value: a.Name}}
		} else {
			a.Name = "code scanned by " + drv.Name
		}
		ai := -1
		rules := map[string]*rule{}
		for i := range drv.Rules {
			rules[drv.Rules[i].ID] = &drv.Rules[i]
		}
		for _, res := range rn.Results {
			var ru *rule
			id := res.RuleID
			idx := res.RuleIndex
			if res.Rule != nil {
				if id == "" {
					id = res.Rule.ID
				}
				if idx == nil {
					idx = res.Rule.Index
				}
			}
			if id != "" {
				ru = rules[id]
			}
			if ru == nil && idx != nil && *idx >= 0 && *idx < len(drv.Rules) {
				ru = &drv.Rules[*idx]
				if id == "" {
					id = ru.ID
				}
			}
			if id == "" {
				// Gitleaks 7 leaves ruleId out; its message starts with
				// the rule's id.
				ru = rulePrefixOf(drv.Rules, res.Message.Text)
				if ru == nil {
					continue
				}
				id = ru.ID
			}
			if ai < 0 {
				ai = r.AddAsset(a)
			}
			d := report.Detection{Asset: ai, VulnID: id, Description: report.FirstParagraph(res.Message.Text)}
			if ru != nil {
				d.Title = ru.ShortDescription.Text
				if d.Title == "" {
					d.Title = ru.Name
				}
				if ru.HelpURI != "" {
					d.References = []string{ru.HelpURI}
				}
			}
			if d.Title == "" {
				d.Title = report.FirstParagraph(firstLine(res.Message.Text))
			}
			d.Severity = severity(res, ru)
			if !strings.HasPrefix(id, "CVE-") {
				if m := cveRe.FindString(id + " " + tagsText(res, ru)); m != "" {
					d.Aliases = []string{id}
					d.VulnID = m
				}
			}
			if len(res.Locations) > 0 {
				pl := res.Locations[0].PhysicalLocation
				d.Location = pl.ArtifactLocation.URI
				if pl.Region.StartLine > 0 {
					d.Location += ":" + strconv.Itoa(pl.Region.StartLine)
				}
			}
			d.Fingerprint = fingerprint(res.Fingerprints, res.PartialFingerprints)
			for _, s := range res.Suppressions {
				if s.Status == "" || s.Status == "accepted" {
					d.Suppressed = true
				}
			}
			r.Detections = append(r.Detections, d)
		}
	}
	r.Scanner = strings.Join(tools, ", ")
	return r, nil
}

func severity(res result, ru *rule) report.Severity {
	for _, p := range []json.RawMessage{res.Properties.SecuritySeverity, ruleSev(ru)} {
		if s := strings.Trim(string(p), `" `); s != "" {
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				return report.SeverityFromScore(f)
			}
		}
	}
	level := res.Level
	if level == "" && ru != nil {
		level = ru.DefaultConfiguration.Level
	}
	switch level {
	case "error":
		return report.SeverityHigh
	case "warning", "":
		// SARIF's default level is warning.
		return report.SeverityMedium
	case "note":
		return report.SeverityLow
	case "none":
		return report.SeverityInfo
	}
	return report.SeverityUnknown
}

func ruleSev(ru *rule) json.RawMessage {
	if ru == nil {
		return nil
	}
	return ru.Properties.SecuritySeverity
}

func tagsText(res result, ru *rule) string {
	t := strings.Join(res.Properties.Tags, " ")
	if ru != nil {
		t += " " + strings.Join(ru.Properties.Tags, " ")
	}
	return t
}

// fingerprint joins the fingerprints in key order; a value that is not a
// string (nested objects, against the specification) is used as its JSON.
func fingerprint(sets ...map[string]json.RawMessage) string {
	for _, m := range sets {
		if len(m) == 0 {
			continue
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			var s string
			if json.Unmarshal(m[k], &s) != nil {
				s = string(m[k])
			}
			b.WriteString(k + "=" + s + ";")
		}
		return b.String()
	}
	return ""
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// rulePrefixOf returns the rule with the longest id that starts msg.
func rulePrefixOf(rules []rule, msg string) *rule {
	var best *rule
	for i := range rules {
		if id := rules[i].ID; id != "" && strings.HasPrefix(msg, id) && (best == nil || len(id) > len(best.ID)) {
			best = &rules[i]
		}
	}
	return best
}
