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
	vals := make([]any, 0, len(cves))
	for c := range cves {
		vals = append(vals, c)
	}
	in, args := inList([]any{FeedTenant}, vals)
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
	n, err := s.importKEV(ctx, r)
	if err != nil {
		return 0, err
	}
	return n, s.Reprioritize(ctx)
}

func (s *Service) importKEV(ctx context.Context, r io.Reader) (int, error) {
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
	return len(es), nil
}

// ImportEPSS replaces the EPSS scores and re-prioritizes active findings.
func (s *Service) ImportEPSS(ctx context.Context, r io.Reader) (int, error) {
	n, err := s.importEPSS(ctx, r)
	if err != nil {
		return 0, err
	}
	return n, s.Reprioritize(ctx)
}

func (s *Service) importEPSS(ctx context.Context, r io.Reader) (int, error) {
	es, err := ParseEPSS(r)
	if err != nil {
		return 0, err
	}
	// The last score of a CVE listed twice wins.
	last := make(map[string]int, len(es))
	for i, e := range es {
		last[e.CVE] = i
	}
	for start := 0; start < len(es) || start == 0; start += 20000 {
		part := es[start:min(start+20000, len(es))]
		err = s.db.Tx(ctx, func(tx *store.Tx) error {
			if start == 0 {
				if _, err := tx.Exec(ctx, `DELETE FROM vuln_epss WHERE tenant = ?`, FeedTenant); err != nil {
					return err
				}
			}
			args := make([]any, 0, 4*len(part))
			for i, e := range part {
				if last[e.CVE] == start+i {
					args = append(args, FeedTenant, e.CVE, e.Score, e.Percentile)
				}
			}
			return insertMany(ctx, tx, "vuln_epss", []string{"tenant", "cve", "score", "percentile"}, args, "")
		})
		if err != nil {
			return 0, fmt.Errorf("import epss: %w", err)
		}
		if len(es) == 0 {
			break
		}
	}
	return len(es), nil
}

// prioCols are what Reprioritize recomputes.
var prioCols = []valCol{{"kev", "INTEGER"}, {"epss", "DOUBLE PRECISION"}, {"epss_percentile", "DOUBLE PRECISION"},
	{"priority", "TEXT"}, {"priority_rank", "INTEGER"}, {"timeline", "TEXT"}, {"reasons", "TEXT"}, {"due_at", "TIMESTAMPTZ"},
	{"cvss3_vector", "TEXT"}, {"cvss3_score", "DOUBLE PRECISION"}, {"cvss4_vector", "TEXT"}, {"cvss4_score", "DOUBLE PRECISION"}}

// Reprioritize recomputes enrichment, priority and due date of every
// active finding of every tenant (after a feed changed).
func (s *Service) Reprioritize(ctx context.Context) error {
	after := ""
	// Assets by tenant and id, read once per run.
	cache := map[string]*assets.Asset{}
	for {
		var page []Finding
		rows, err := s.db.Query(ctx, "SELECT "+strings.Join(findingCols, ", ")+" FROM vuln_findings"+s.hint("sqlite_autoindex_vuln_findings_1")+
			` WHERE state IN (?, ?, ?) AND id > ? ORDER BY id LIMIT 1000`,
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
		args := make([]any, 0, len(ids)*(2+len(prioCols)))
		for _, id := range ids {
			f := &byKey[id].f
			pr := s.profile.Prioritize(f, s.assetFor(ctx, cache, f.Tenant, f.AssetID))
			args = append(args, f.Tenant, id, boolInt(f.KEV), f.EPSS, f.EPSSPercentile, string(pr.Decision), pr.Decision.Rank(),
				string(pr.Timeline), strings.Join(pr.Reasons, "\n"), store.TimeOf(pr.Due), f.CVSS3Vector, f.CVSS3Score, f.CVSS4Vector, f.CVSS4Score)
		}
		err = s.db.Tx(ctx, func(tx *store.Tx) error { return updateValues(ctx, tx, "", nil, prioCols, args) })
		if err != nil {
			return fmt.Errorf("reprioritize: %w", err)
		}
	}
}
