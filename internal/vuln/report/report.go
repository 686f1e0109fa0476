// Package report is the normalized form of a scanner's output: the assets a
// scan covered and what it detected on each. Every importer (trivy, grype,
// sarif, cyclonedx, osv, openvas, nessus) turns its format into a Report;
// package vuln de-duplicates Reports into findings. Importers are pure: bytes
// in, a Report or an error out.
package report

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
)

// Severity is a scanner's rating, normalized.
type Severity int

// Severities, lowest first, so that they compare.
const (
	SeverityUnknown Severity = iota
	SeverityInfo
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

// String is the lower-case name.
func (s Severity) String() string {
	switch s {
	case SeverityUnknown:
		return "unknown"
	case SeverityInfo:
		return "info"
	case SeverityLow:
		return "low"
	case SeverityMedium:
		return "medium"
	case SeverityHigh:
		return "high"
	case SeverityCritical:
		return "critical"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// ParseSeverity reads the names scanners use (case-insensitive): critical,
// high, medium/moderate, low, info/informational/negligible/none/note,
// warning, error. Anything else is SeverityUnknown.
func ParseSeverity(s string) Severity {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical", "urgent":
		return SeverityCritical
	case "high", "error", "important":
		return SeverityHigh
	case "medium", "moderate", "warning":
		return SeverityMedium
	case "low", "minor":
		return SeverityLow
	case "info", "informational", "negligible", "none", "note", "log":
		return SeverityInfo
	}
	return SeverityUnknown
}

// SeverityFromScore maps a CVSS base score to its qualitative rating.
func SeverityFromScore(score float64) Severity {
	switch {
	case score >= 9:
		return SeverityCritical
	case score >= 7:
		return SeverityHigh
	case score >= 4:
		return SeverityMedium
	case score > 0:
		return SeverityLow
	case score == 0:
		return SeverityInfo
	}
	return SeverityUnknown
}

// MarshalText makes severities read well in JSON.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity name.
func (s *Severity) UnmarshalText(b []byte) error { *s = ParseSeverity(string(b)); return nil }

// AssetKind is what an asset is.
type AssetKind string

// Asset kinds.
const (
	KindHost        AssetKind = "host"
	KindVM          AssetKind = "vm"
	KindImage       AssetKind = "container_image"
	KindApplication AssetKind = "application"
	KindCloud       AssetKind = "cloud_resource"
	KindService     AssetKind = "service"
)

// Identifier types by which assets are merged.
const (
	IDHostname = "hostname"
	IDIP       = "ip"
	IDMAC      = "mac"
	IDCloud    = "cloud_id"
	IDImage    = "image_digest"
	IDImageRef = "image_ref"
	IDPURL     = "purl"
	IDRepo     = "repository"
	IDPath     = "path"
)

// Identifier names an asset: a hostname, an address, an image digest…
type Identifier struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Asset is one target a report covers.
type Asset struct {
	Kind AssetKind `json:"kind"`
	// Name is how the scanner shows the target.
	Name        string       `json:"name"`
	Identifiers []Identifier `json:"identifiers"`
	// OS is the operating system when the scanner knows it.
	OS string `json:"os,omitempty"`
}

// VEXState is an impact analysis statement on a detection.
type VEXState string

// VEX states (CycloneDX / OpenVEX vocabulary).
const (
	VEXNone               VEXState = ""
	VEXAffected           VEXState = "affected"
	VEXNotAffected        VEXState = "not_affected"
	VEXFixed              VEXState = "fixed"
	VEXUnderInvestigation VEXState = "under_investigation"
)

// Detection is one thing found on one asset in one scan.
type Detection struct {
	// Asset indexes Report.Assets.
	Asset int `json:"asset"`
	// VulnID is the CVE, GHSA, OSV id, or the rule / plugin id of the
	// scanner when there is no advisory.
	VulnID  string   `json:"vuln_id"`
	Aliases []string `json:"aliases,omitempty"`
	Title   string   `json:"title,omitempty"`
	// Description is kept short by the importers (the first paragraph).
	Description string   `json:"description,omitempty"`
	Severity    Severity `json:"severity"`
	CVSS3Vector string   `json:"cvss3_vector,omitempty"`
	CVSS4Vector string   `json:"cvss4_vector,omitempty"`
	// CVSSScore is the score the scanner printed (vectors are re-scored).
	CVSSScore    float64 `json:"cvss_score,omitempty"`
	Package      string  `json:"package,omitempty"`
	Version      string  `json:"version,omitempty"`
	FixedVersion string  `json:"fixed_version,omitempty"`
	PURL         string  `json:"purl,omitempty"`
	// Location is the file and line (code scanners) or port/protocol
	// (network scanners) when there is no package.
	Location string   `json:"location,omitempty"`
	VEX      VEXState `json:"vex,omitempty"`
	// VEXJustification explains a not_affected state.
	VEXJustification string `json:"vex_justification,omitempty"`
	// Suppressed is set when the scanner reports the result as suppressed
	// or ignored (SARIF suppressions).
	Suppressed bool `json:"suppressed,omitempty"`
	// ExploitAvailable is the scanner's own exploit flag (Nessus).
	ExploitAvailable bool `json:"exploit_available,omitempty"`
	// Fingerprint is the scanner's own stable id of the result when it has
	// one (SARIF fingerprints); it is part of the source hash.
	Fingerprint string   `json:"fingerprint,omitempty"`
	References  []string `json:"references,omitempty"`
}

// Component is what the detection is in: the package and version, or the
// location. It is part of the de-duplication key.
func (d *Detection) Component() string {
	switch {
	case d.Package != "" && d.Location != "":
		return d.Package + "@" + d.Version + " " + d.Location
	case d.Package != "":
		return d.Package + "@" + d.Version
	case d.PURL != "":
		return d.PURL
	default:
		return d.Location
	}
}

// SourceHash identifies the detection within its source format: the
// fields that format considers identity, so two detections with the same
// hash in one report are the same result seen twice.
func (d *Detection) SourceHash(format string) string {
	h := sha256.New()
	for _, s := range []string{format, d.VulnID, d.Component(), d.Fingerprint} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Report is one scanner output, normalized.
type Report struct {
	// Format is the importer's id ("trivy") and ParserVersion its version.
	Format        string `json:"format"`
	ParserVersion int    `json:"parser_version"`
	// Scanner names the tool and its version as the report states them.
	Scanner    string      `json:"scanner,omitempty"`
	Assets     []Asset     `json:"assets"`
	Detections []Detection `json:"detections"`
}

// AddAsset appends an asset, or returns the index of one with the same
// kind and name.
func (r *Report) AddAsset(a Asset) int {
	for i := range r.Assets {
		if r.Assets[i].Kind == a.Kind && r.Assets[i].Name == a.Name {
			return i
		}
	}
	r.Assets = append(r.Assets, a)
	return len(r.Assets) - 1
}

// Summary counts detections per severity and per asset: what golden tests
// compare.
type Summary struct {
	Format     string         `json:"format"`
	Detections int            `json:"detections"`
	Unique     int            `json:"unique"`
	BySeverity map[string]int `json:"by_severity"`
	ByAsset    map[string]int `json:"by_asset"`
	VEX        map[string]int `json:"vex,omitempty"`
	Suppressed int            `json:"suppressed,omitempty"`
}

// Summarize computes the summary.
func (r *Report) Summarize() Summary {
	s := Summary{Format: r.Format, Detections: len(r.Detections), BySeverity: map[string]int{}, ByAsset: map[string]int{}}
	seen := map[string]bool{}
	for i := range r.Detections {
		d := &r.Detections[i]
		s.BySeverity[d.Severity.String()]++
		name := "?"
		if d.Asset >= 0 && d.Asset < len(r.Assets) {
			name = string(r.Assets[d.Asset].Kind) + ":" + r.Assets[d.Asset].Name
		}
		s.ByAsset[name]++
		if d.VEX != VEXNone {
			if s.VEX == nil {
				s.VEX = map[string]int{}
			}
			s.VEX[string(d.VEX)]++
		}
		if d.Suppressed {
			s.Suppressed++
		}
		k := name + "\x00" + d.SourceHash(r.Format)
		if !seen[k] {
			seen[k] = true
			s.Unique++
		}
	}
	return s
}

// Validate checks the invariants importers must keep.
func (r *Report) Validate() error {
	for i := range r.Detections {
		d := &r.Detections[i]
		if d.Asset < 0 || d.Asset >= len(r.Assets) {
			return fmt.Errorf("detection %d: asset index %d out of range", i, d.Asset)
		}
		if d.VulnID == "" {
			return fmt.Errorf("detection %d: no vulnerability id", i)
		}
	}
	return nil
}

// FirstParagraph shortens a description to its first paragraph, at most
// 1,000 bytes.
func FirstParagraph(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "\n\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 1000 {
		s = strings.ToValidUTF8(s[:1000], "")
	}
	return s
}

// SortedAliases returns the distinct non-empty aliases other than id.
func SortedAliases(id string, aliases ...string) []string {
	var out []string
	for _, a := range aliases {
		if a != "" && a != id && !containsStr(out, a) {
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

func containsStr(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// PreferCVE picks a CVE id among id and aliases when id is not one, so that
// KEV and EPSS apply; the other ids become aliases.
func PreferCVE(id string, aliases []string) (string, []string) {
	if strings.HasPrefix(id, "CVE-") {
		return id, SortedAliases(id, aliases...)
	}
	for _, a := range aliases {
		if strings.HasPrefix(a, "CVE-") {
			return a, SortedAliases(a, append(aliases, id)...)
		}
	}
	return id, SortedAliases(id, aliases...)
}
