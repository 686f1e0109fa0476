// Package openvas imports Greenbone / OpenVAS XML reports (GMP get_reports,
// the XML report format). Each result is a detection of an NVT on a host
// and port; an NVT with exactly one CVE is filed under that CVE, others
// under the NVT's OID with their CVEs as aliases. Log-level results (no
// threat, severity 0) are not vulnerabilities and are skipped.
package openvas

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/wacht-soc/wacht/internal/vuln/report"
)

// Format is the importer id; Version is recorded on every report.
const (
	Format  = "openvas"
	Version = 1
)

type result struct {
	Name string `xml:"name"`
	Host struct {
		IP       string `xml:",chardata"`
		Hostname string `xml:"hostname"`
	} `xml:"host"`
	Port     string `xml:"port"`
	Threat   string `xml:"threat"`
	Severity string `xml:"severity"`
	NVT      *struct {
		OID        string `xml:"oid,attr"`
		Name       string `xml:"name"`
		CVSSBase   string `xml:"cvss_base"`
		Tags       string `xml:"tags"`
		Severities []struct {
			Type  string `xml:"type,attr"`
			Value string `xml:"value"`
		} `xml:"severities>severity"`
		Refs []struct {
			Type string `xml:"type,attr"`
			ID   string `xml:"id,attr"`
		} `xml:"refs>ref"`
		CVE string `xml:"cve"`
	} `xml:"nvt"`
	Description string `xml:"description"`
}

// Parse reads an OpenVAS XML report.
func Parse(data []byte) (*report.Report, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	r := &report.Report{Format: Format, ParserVersion: Version, Scanner: "openvas"}
	sawReport := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parse openvas report: %w", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "report":
			sawReport = true
			continue
		case "result":
		default:
			continue
		}
		var res result
		if err := dec.DecodeElement(&res, &se); err != nil {
			return nil, fmt.Errorf("parse openvas result: %w", err)
		}
		if res.NVT == nil || res.NVT.OID == "" {
			continue
		}
		score, _ := strconv.ParseFloat(strings.TrimSpace(res.Severity), 64)
		sev := report.ParseSeverity(res.Threat)
		if sev == report.SeverityUnknown {
			if score <= 0 {
				continue
			}
			sev = report.SeverityFromScore(score)
		}
		if sev == report.SeverityInfo {
			continue
		}
		ip := strings.TrimSpace(res.Host.IP)
		name := firstNonEmpty(strings.TrimSpace(res.Host.Hostname), ip)
		if name == "" {
			continue
		}
		a := report.Asset{Kind: report.KindHost, Name: name}
		if ip != "" {
			a.Identifiers = append(a.Identifiers, report.Identifier{Type: report.IDIP, Value: ip})
		}
		if h := strings.TrimSpace(res.Host.Hostname); h != "" {
			a.Identifiers = append(a.Identifiers, report.Identifier{Type: report.IDHostname, Value: h})
		}
		var cves []string
		for _, ref := range res.NVT.Refs {
			if strings.EqualFold(ref.Type, "cve") && ref.ID != "" {
				cves = append(cves, ref.ID)
			}
		}
		for _, c := range strings.Split(res.NVT.CVE, ",") {
			if c = strings.TrimSpace(c); strings.HasPrefix(c, "CVE-") && !contains(cves, c) {
				cves = append(cves, c)
			}
		}
		d := report.Detection{Asset: r.AddAsset(a), Title: firstNonEmpty(res.NVT.Name, res.Name), Severity: sev,
			Location: strings.TrimSpace(res.Port), Description: report.FirstParagraph(tag(res.NVT.Tags, "summary"))}
		if len(cves) == 1 {
			d.VulnID, d.Aliases = cves[0], []string{"openvas:" + res.NVT.OID}
		} else {
			d.VulnID, d.Aliases = "openvas:"+res.NVT.OID, report.SortedAliases("", cves...)
		}
		for _, s := range res.NVT.Severities {
			if strings.HasPrefix(s.Type, "cvss_base_v3") && strings.HasPrefix(s.Value, "CVSS:3") {
				d.CVSS3Vector = s.Value
			}
			if strings.HasPrefix(s.Type, "cvss_base_v4") && strings.HasPrefix(s.Value, "CVSS:4") {
				d.CVSS4Vector = s.Value
			}
		}
		if d.CVSS3Vector == "" {
			if v := tag(res.NVT.Tags, "cvss_base_vector"); strings.HasPrefix(v, "CVSS:3") {
				d.CVSS3Vector = v
			}
		}
		d.CVSSScore = score
		r.Detections = append(r.Detections, d)
	}
	if !sawReport {
		return nil, errors.New("parse openvas report: no <report> element")
	}
	return r, nil
}

// tag reads one key of the NVT's "key=value|key=value" tags.
func tag(tags, key string) string {
	for _, kv := range strings.Split(tags, "|") {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
