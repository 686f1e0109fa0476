package vuln

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/wacht-soc/wacht/internal/store"
)

// CVERecord is what prioritization takes from a CVE JSON 5 record: CISA's
// SSVC decision points (ADP "Vulnrichment") and CVSS vectors.
type CVERecord struct {
	ID string `json:"id"`
	// Exploitation is none, poc or active; Automatable yes or no;
	// TechnicalImpact partial or total ("" when the record has no SSVC).
	Exploitation    string `json:"exploitation,omitempty"`
	Automatable     string `json:"automatable,omitempty"`
	TechnicalImpact string `json:"technical_impact,omitempty"`
	CVSS3Vector     string `json:"cvss3_vector,omitempty"`
	CVSS4Vector     string `json:"cvss4_vector,omitempty"`
}

type cveJSON struct {
	DataType    string `json:"dataType"`
	CVEMetadata struct {
		CVEID string `json:"cveId"`
		State string `json:"state"`
	} `json:"cveMetadata"`
	Containers struct {
		CNA container   `json:"cna"`
		ADP []container `json:"adp"`
	} `json:"containers"`
}

type container struct {
	Metrics []struct {
		CVSSV31 *struct {
			VectorString string `json:"vectorString"`
		} `json:"cvssV3_1"`
		CVSSV30 *struct {
			VectorString string `json:"vectorString"`
		} `json:"cvssV3_0"`
		CVSSV40 *struct {
			VectorString string `json:"vectorString"`
		} `json:"cvssV4_0"`
		Other *struct {
			Type    string          `json:"type"`
			Content json.RawMessage `json:"content"`
		} `json:"other"`
	} `json:"metrics"`
}

// ParseCVERecord reads one CVE JSON 5 record.
func ParseCVERecord(data []byte) (CVERecord, error) {
	var c cveJSON
	if err := json.Unmarshal(data, &c); err != nil {
		return CVERecord{}, fmt.Errorf("%w: parse cve record: %v", ErrInvalid, err)
	}
	if !strings.HasPrefix(c.CVEMetadata.CVEID, "CVE-") {
		return CVERecord{}, fmt.Errorf("%w: parse cve record: no cveMetadata.cveId", ErrInvalid)
	}
	r := CVERecord{ID: c.CVEMetadata.CVEID}
	for _, ct := range append([]container{c.Containers.CNA}, c.Containers.ADP...) {
		for _, m := range ct.Metrics {
			switch {
			case m.CVSSV31 != nil && r.CVSS3Vector == "":
				r.CVSS3Vector = m.CVSSV31.VectorString
			case m.CVSSV30 != nil && r.CVSS3Vector == "":
				r.CVSS3Vector = m.CVSSV30.VectorString
			case m.CVSSV40 != nil && r.CVSS4Vector == "":
				r.CVSS4Vector = m.CVSSV40.VectorString
			case m.Other != nil && m.Other.Type == "ssvc":
				var s struct {
					Options []map[string]string `json:"options"`
				}
				if json.Unmarshal(m.Other.Content, &s) != nil {
					continue
				}
				for _, o := range s.Options {
					for k, v := range o {
						v = strings.ToLower(strings.TrimSpace(v))
						switch strings.ToLower(k) {
						case "exploitation":
							r.Exploitation = v
						case "automatable":
							r.Automatable = v
						case "technical impact":
							r.TechnicalImpact = v
						}
					}
				}
			}
		}
	}
	return r, nil
}

// ImportCVERecords stores records (replacing earlier ones for the same
// CVEs) and re-prioritizes active findings.
func (s *Service) ImportCVERecords(ctx context.Context, recs []CVERecord) error {
	q := store.Upsert("vuln_cve", []string{"tenant", "cve", "exploitation", "automatable", "technical_impact", "cvss3_vector", "cvss4_vector"},
		[]string{"tenant", "cve"}, []string{"exploitation", "automatable", "technical_impact", "cvss3_vector", "cvss4_vector"})
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		for _, r := range recs {
			if _, err := tx.Exec(ctx, q, FeedTenant, r.ID, r.Exploitation, r.Automatable, r.TechnicalImpact, r.CVSS3Vector, r.CVSS4Vector); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("import cve records: %w", err)
	}
	return s.Reprioritize(ctx)
}

// enrichCVE fills the CISA SSVC decision points, and vectors the scanner
// did not give, from stored CVE records.
func (s *Service) enrichCVE(ctx context.Context, cves map[string][]*pending, in string, args []any) error {
	rows, err := s.db.Query(ctx, `SELECT cve, exploitation, automatable, technical_impact, cvss3_vector, cvss4_vector FROM vuln_cve WHERE tenant = ? AND cve IN (`+in+`)`, args...)
	if err != nil {
		return fmt.Errorf("read cve records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r CVERecord
		if err := rows.Scan(&r.ID, &r.Exploitation, &r.Automatable, &r.TechnicalImpact, &r.CVSS3Vector, &r.CVSS4Vector); err != nil {
			return err
		}
		for _, p := range cves[r.ID] {
			rec := r
			p.f.cve = &rec
			if p.f.CVSS3Vector == "" && r.CVSS3Vector != "" {
				p.f.CVSS3Vector = r.CVSS3Vector
				score(&p.f, 0)
			}
			if p.f.CVSS4Vector == "" && r.CVSS4Vector != "" {
				p.f.CVSS4Vector = r.CVSS4Vector
				score(&p.f, 0)
			}
		}
	}
	return rows.Err()
}
