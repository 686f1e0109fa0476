package vuln

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/wacht-soc/wacht/internal/assets"
	"github.com/wacht-soc/wacht/internal/store"
)

// enrich fills KEV and EPSS on the pending findings from the feeds.
func (s *Service) enrich(ctx context.Context, byKey map[string]*pending, ids []string) error {
	cves := map[string][]*pending{}
	for _, id := range ids {
		p := byKey[id]
		if strings.HasPrefix(p.f.VulnID, "CVE-") {
			cves[p.f.VulnID] = append(cves[p.f.VulnID], p)
		}
	}
	if len(cves) == 0 {
		return nil
	}
	args := []any{FeedTenant}
	for c := range cves {
		args = append(args, c)
	}
	in := store.Placeholders(len(cves))
	rows, err := s.db.Query(ctx, `SELECT cve FROM vuln_kev WHERE tenant = ? AND cve IN (`+in+`)`, args...)
	if err != nil {
		return fmt.Errorf("read kev: %w", err)
	}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return err
		}
		for _, p := range cves[c] {
			p.f.KEV = true
		}
	}
	rows.Close()
	if err := s.enrichCVE(ctx, cves, in, args); err != nil {
		return err
	}
	rows, err = s.db.Query(ctx, `SELECT cve, score, percentile FROM vuln_epss WHERE tenant = ? AND cve IN (`+in+`)`, args...)
	if err != nil {
		return fmt.Errorf("read epss: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c string
		var sc, pc float64
		if err := rows.Scan(&c, &sc, &pc); err != nil {
			return err
		}
		for _, p := range cves[c] {
			p.f.EPSS, p.f.EPSSPercentile = sc, pc
		}
	}
	return rows.Err()
}

// KEVEntry is one CISA KEV record.
type KEVEntry struct {
	CVE        string `json:"cveID"`
	Vendor     string `json:"vendorProject"`
	Product    string `json:"product"`
	Name       string `json:"vulnerabilityName"`
	DateAdded  string `json:"dateAdded"`
	DueDate    string `json:"dueDate"`
	Ransomware string `json:"knownRansomwareCampaignUse"`
}

// ParseKEV reads CISA's known_exploited_vulnerabilities.json.
func ParseKEV(r io.Reader) ([]KEVEntry, error) {
	var doc struct {
		CatalogVersion  string     `json:"catalogVersion"`
		Vulnerabilities []KEVEntry `json:"vulnerabilities"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: parse kev catalog: %v", ErrInvalid, err)
	}
	if doc.Vulnerabilities == nil {
		return nil, fmt.Errorf("%w: parse kev catalog: no vulnerabilities array", ErrInvalid)
	}
	return doc.Vulnerabilities, nil
}

// EPSSEntry is one row of the daily EPSS file.
type EPSSEntry struct {
	CVE        string
	Score      float64
	Percentile float64
}

// ParseEPSS reads the EPSS CSV (comment lines starting with '#', a header
// "cve,epss,percentile", further columns ignored).
func ParseEPSS(r io.Reader) ([]EPSSEntry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var out []EPSSEntry
	header := false
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		parts := strings.Split(t, ",")
		if !header {
			if len(parts) < 3 || parts[0] != "cve" || parts[1] != "epss" || parts[2] != "percentile" {
				return nil, fmt.Errorf("%w: parse epss line %d: want header cve,epss,percentile", ErrInvalid, line)
			}
			header = true
			continue
		}
		if len(parts) < 3 {
			return nil, fmt.Errorf("%w: parse epss line %d: %d columns", ErrInvalid, line, len(parts))
		}
		sc1, err1 := strconv.ParseFloat(parts[1], 64)
		pc, err2 := strconv.ParseFloat(parts[2], 64)
		if err1 != nil || err2 != nil || !strings.HasPrefix(parts[0], "CVE-") {
			return nil, fmt.Errorf("%w: parse epss line %d: %q", ErrInvalid, line, t)
		}
		out = append(out, EPSSEntry{parts[0], sc1, pc})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read epss: %w", err)
	}
	if !header {
		return nil, fmt.Errorf("%w: parse epss: no header", ErrInvalid)
	}
	return out, nil
}

// ImportKEV replaces the KEV catalog and re-prioritizes active findings.
func (s *Service) ImportKEV(ctx context.Context, r io.Reader) (int, error) {
	es, err := ParseKEV(r)
	if err != nil {
		return 0, err
	}
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM vuln_kev WHERE tenant = ?`, FeedTenant); err != nil {
			return err
		}
		q := store.Upsert("vuln_kev", []string{"tenant", "cve", "date_added", "due_date", "ransomware", "name"}, []string{"tenant", "cve"}, nil)
		for _, e := range es {
			if _, err := tx.Exec(ctx, q, FeedTenant, e.CVE, e.DateAdded, e.DueDate, e.Ransomware, e.Name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("import kev: %w", err)
	}
	return len(es), s.Reprioritize(ctx)
}

// ImportEPSS replaces the EPSS scores and re-prioritizes active findings.
func (s *Service) ImportEPSS(ctx context.Context, r io.Reader) (int, error) {
	es, err := ParseEPSS(r)
	if err != nil {
		return 0, err
	}
	for start := 0; start < len(es) || start == 0; start += 5000 {
		part := es[start:min(start+5000, len(es))]
		err = s.db.Tx(ctx, func(tx *store.Tx) error {
			if start == 0 {
				if _, err := tx.Exec(ctx, `DELETE FROM vuln_epss WHERE tenant = ?`, FeedTenant); err != nil {
					return err
				}
			}
			q := store.Upsert("vuln_epss", []string{"tenant", "cve", "score", "percentile"}, []string{"tenant", "cve"}, []string{"score", "percentile"})
			for _, e := range part {
				if _, err := tx.Exec(ctx, q, FeedTenant, e.CVE, e.Score, e.Percentile); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("import epss: %w", err)
		}
		if len(es) == 0 {
			break
		}
	}
	return len(es), s.Reprioritize(ctx)
}

// Reprioritize recomputes enrichment, priority and due date of every
// active finding of every tenant (after a feed changed).
func (s *Service) Reprioritize(ctx context.Context) error {
	after := ""
	for {
		var page []Finding
		rows, err := s.db.Query(ctx, selectFindings+` WHERE state IN (?, ?, ?) AND id > ? ORDER BY id LIMIT 1000`,
			string(StateOpen), string(StateInTriage), string(StateReopened), after)
		if err != nil {
			return fmt.Errorf("reprioritize: %w", err)
		}
		for rows.Next() {
			f, err := scanFinding(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("reprioritize: %w", err)
			}
			page = append(page, f)
		}
		rows.Close()
		if len(page) == 0 {
			return nil
		}
		after = page[len(page)-1].ID
		byKey := map[string]*pending{}
		var ids []string
		for i := range page {
			page[i].KEV, page[i].EPSS, page[i].EPSSPercentile, page[i].cve = false, 0, 0, nil
			byKey[page[i].ID] = &pending{f: page[i]}
			ids = append(ids, page[i].ID)
		}
		if err := s.enrich(ctx, byKey, ids); err != nil {
			return err
		}
		cache := map[string]*assets.Asset{}
		err = s.db.Tx(ctx, func(tx *store.Tx) error {
			for _, id := range ids {
				f := &byKey[id].f
				a := s.assetFor(ctx, cache, f.Tenant, f.AssetID)
				pr := s.profile.Prioritize(f, a)
				if _, err := tx.Exec(ctx, `UPDATE vuln_findings SET kev = ?, epss = ?, epss_percentile = ?, priority = ?, priority_rank = ?,
					timeline = ?, reasons = ?, due_at = ?, cvss3_vector = ?, cvss3_score = ?, cvss4_vector = ?, cvss4_score = ?
					WHERE tenant = ? AND id = ?`, boolInt(f.KEV), f.EPSS, f.EPSSPercentile,
					string(pr.Decision), pr.Decision.Rank(), string(pr.Timeline), strings.Join(pr.Reasons, "\n"), store.TimeOf(pr.Due),
					f.CVSS3Vector, f.CVSS3Score, f.CVSS4Vector, f.CVSS4Score, f.Tenant, id); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("reprioritize: %w", err)
		}
	}
}
