// Package nessus imports Tenable Nessus `.nessus` (v2) XML exports. Each
// ReportHost is a host asset (name, host-ip, host-fqdn, mac-address); each
// ReportItem with severity 1–4 is a detection of a plugin on a port.
// Severity 0 items are informational plugin output and are skipped.
package nessus

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/wacht-soc/wacht/internal/vuln/report"
)

// Format is the importer id; Version is recorded on every report.
const (
	Format  = "nessus"
	Version = 1
)

type doc struct {
	XMLName xml.Name `xml:"NessusClientData_v2"`
	Report  struct {
		Hosts []struct {
			Name  string `xml:"name,attr"`
			Props []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:",chardata"`
			} `xml:"HostProperties>tag"`
			Items []item `xml:"ReportItem"`
		} `xml:"ReportHost"`
	} `xml:"Report"`
}

type item struct {
	Port             string   `xml:"port,attr"`
	Protocol         string   `xml:"protocol,attr"`
	Severity         int      `xml:"severity,attr"`
	PluginID         string   `xml:"pluginID,attr"`
	PluginName       string   `xml:"pluginName,attr"`
	Synopsis         string   `xml:"synopsis"`
	CVEs             []string `xml:"cve"`
	CVSS3Vector      string   `xml:"cvss3_vector"`
	CVSS3Base        string   `xml:"cvss3_base_score"`
	RiskFactor       string   `xml:"risk_factor"`
	ExploitAvailable string   `xml:"exploit_available"`
	SeeAlso          string   `xml:"see_also"`
}

// Parse reads a .nessus file.
func Parse(data []byte) (*report.Report, error) {
	var d doc
	if err := xml.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("parse nessus report: %w", err)
	}
	if d.XMLName.Local == "" {
		return nil, errors.New("parse nessus report: no NessusClientData_v2")
	}
	r := &report.Report{Format: Format, ParserVersion: Version, Scanner: "nessus"}
	for _, h := range d.Report.Hosts {
		a := report.Asset{Kind: report.KindHost, Name: strings.TrimSpace(h.Name)}
		for _, p := range h.Props {
			v := strings.TrimSpace(p.Value)
			switch p.Name {
			case "host-ip":
				a.Identifiers = append(a.Identifiers, report.Identifier{Type: report.IDIP, Value: v})
			case "host-fqdn", "hostname", "netbios-name":
				a.Identifiers = append(a.Identifiers, report.Identifier{Type: report.IDHostname, Value: v})
			case "mac-address":
				for _, m := range strings.Fields(v) {
					a.Identifiers = append(a.Identifiers, report.Identifier{Type: report.IDMAC, Value: m})
				}
			case "operating-system":
				a.OS = v
			}
		}
		if a.Name == "" {
			continue
		}
		if len(a.Identifiers) == 0 {
			a.Identifiers = []report.Identifier{{Type: report.IDHostname, Value: a.Name}}
		}
		ai := -1
		for _, it := range h.Items {
			if it.Severity < 1 || it.Severity > 4 || it.PluginID == "" {
				continue
			}
			if ai < 0 {
				ai = r.AddAsset(a)
			}
			det := report.Detection{Asset: ai, Title: it.PluginName, Description: report.FirstParagraph(it.Synopsis),
				Severity: [...]report.Severity{report.SeverityInfo, report.SeverityLow, report.SeverityMedium, report.SeverityHigh, report.SeverityCritical}[it.Severity],
				Location: it.Port + "/" + it.Protocol, ExploitAvailable: strings.EqualFold(strings.TrimSpace(it.ExploitAvailable), "true")}
			var cves []string
			for _, c := range it.CVEs {
				if c = strings.TrimSpace(c); c != "" {
					cves = append(cves, c)
				}
			}
			if len(cves) == 1 {
				det.VulnID, det.Aliases = cves[0], []string{"nessus:" + it.PluginID}
			} else {
				det.VulnID, det.Aliases = "nessus:"+it.PluginID, report.SortedAliases("", cves...)
			}
			if v := strings.TrimSpace(it.CVSS3Vector); v != "" {
				if !strings.HasPrefix(v, "CVSS:") {
					v = "CVSS:3.0/" + v
				}
				det.CVSS3Vector = v
			}
			det.CVSSScore, _ = strconv.ParseFloat(strings.TrimSpace(it.CVSS3Base), 64)
			for _, u := range strings.Fields(it.SeeAlso) {
				if len(det.References) < 10 {
					det.References = append(det.References, u)
				}
			}
			r.Detections = append(r.Detections, det)
		}
	}
	return r, nil
}
