package vuln

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	cvss31 "github.com/pandatix/go-cvss/31"
	cvss40 "github.com/pandatix/go-cvss/40"

	"github.com/wacht-soc/wacht/internal/assets"
	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/vuln/report"
)

// ImportOptions adjust one import.
type ImportOptions struct {
	// AssetID attributes every detection to this existing asset instead of
	// the assets the report names.
	AssetID string
	// Partial marks a scan that did not cover its whole scope: nothing is
	// closed as fixed.
	Partial bool
	Actor   string
	// Progress is called with detections done and total.
	Progress func(done, total int)
}

// ImportResult says what an import did.
type ImportResult struct {
	ScanID     string `json:"scan_id"`
	Format     string `json:"format"`
	Assets     int    `json:"assets"`
	Detections int    `json:"detections"`
	Findings   int    `json:"findings"`
	Created    int    `json:"created"`
	Updated    int    `json:"updated"`
	Reopened   int    `json:"reopened"`
	Closed     int    `json:"closed"`
}

type pending struct {
	f      Finding
	hashes []string
	vex    report.VEXState
	vexWhy string
	supp   bool
}

// chunk is how many findings one transaction writes: large enough that
// the index pages a chunk touches are written once per chunk, small
// enough that other writers wait for at most a second or two.
const chunk = 20000

// Import stores a report: detections become findings (de-duplicated), a
// full scan closes the findings of its scope (asset × source) it no longer
// shows, and findings seen again after being fixed are reopened. Accepted
// and false-positive findings keep their state.
func (s *Service) Import(ctx context.Context, tenant string, r *report.Report, o ImportOptions) (ImportResult, error) {
	res := ImportResult{Format: r.Format, Detections: len(r.Detections)}
	if err := r.Validate(); err != nil {
		return res, errorf("report: %v", err)
	}
	now := s.now().UTC()
	res.ScanID = newScanID()
	// Resolve the report's assets in the inventory.
	assetIDs := make([]string, len(r.Assets))
	byID := map[string]*assets.Asset{}
	if o.AssetID != "" {
		a, err := s.assets.Get(ctx, tenant, o.AssetID)
		if err != nil {
			return res, err
		}
		for i := range assetIDs {
			assetIDs[i] = a.ID
		}
		byID[a.ID] = &a
	} else {
		for i, ra := range r.Assets {
			obs := assets.Observation{Kind: assets.Kind(ra.Kind), Name: ra.Name, OS: ra.OS, Source: r.Format}
			for _, x := range ra.Identifiers {
				obs.Identifiers = append(obs.Identifiers, assets.Identifier{Type: x.Type, Value: x.Value})
			}
			a, _, err := s.assets.Observe(ctx, tenant, obs)
			if err != nil {
				return res, fmt.Errorf("import %s: %w", r.Format, err)
			}
			assetIDs[i] = a.ID
			byID[a.ID] = &a
		}
	}
	res.Assets = len(byID)
	// De-duplicate within the report.
	var order []string
	byKey := map[string]*pending{}
	for i := range r.Detections {
		d := &r.Detections[i]
		aid := assetIDs[d.Asset]
		id := FindingID(tenant, aid, d.VulnID, d.Component())
		hash := d.SourceHash(r.Format)
		if p, ok := byKey[id]; ok {
			p.hashes = append(p.hashes, hash)
			if d.Severity > p.f.Severity {
				p.f.Severity = d.Severity
			}
			continue
		}
		f := Finding{ID: id, Tenant: tenant, AssetID: aid, VulnID: d.VulnID, Aliases: d.Aliases, Component: d.Component(),
			Source: r.Format, Title: d.Title, Description: d.Description, Package: d.Package, PkgVersion: d.Version,
			FixedVersion: d.FixedVersion, Location: d.Location, Severity: d.Severity, CVSS3Vector: d.CVSS3Vector,
			CVSS4Vector: d.CVSS4Vector, ExploitAvailable: d.ExploitAvailable, FirstSeen: now, LastSeen: now}
		score(&f, d.CVSSScore)
		byKey[id] = &pending{f: f, hashes: []string{hash}, vex: d.VEX, vexWhy: d.VEXJustification, supp: d.Suppressed}
		order = append(order, id)
	}
	res.Findings = len(order)
	defer s.bulk(ctx)()
	for start := 0; start < len(order); start += chunk {
		ids := order[start:min(start+chunk, len(order))]
		if err := s.enrich(ctx, byKey, ids); err != nil {
			return res, err
		}
		err := s.db.Tx(ctx, func(tx *store.Tx) error {
			c, u, ro, err := s.upsertChunk(ctx, tx, tenant, res.ScanID, now, byKey, ids, byID)
			if err == nil {
				res.Created, res.Updated, res.Reopened = res.Created+c, res.Updated+u, res.Reopened+ro
			}
			return err
		})
		if err != nil {
			return res, fmt.Errorf("import %s: %w", r.Format, err)
		}
		if o.Progress != nil {
			o.Progress(start+len(ids), len(order))
		}
	}
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		res.Closed = 0
		if !o.Partial && !s.keep {
			for aid := range byID {
				n, err := tx.Exec(ctx, `UPDATE vuln_findings`+s.hint("vuln_findings_asset_list")+` SET state = ?, fixed_at = ?, updated_at = ?, version = version + 1
					WHERE tenant = ? AND asset_id = ? AND source = ? AND state IN (?, ?, ?) AND last_scan <> ?`,
					string(StateFixed), store.TimeOf(now), store.TimeOf(now), tenant, aid, r.Format,
					string(StateOpen), string(StateInTriage), string(StateReopened), res.ScanID)
				if err != nil {
					return fmt.Errorf("close fixed findings: %w", err)
				}
				k, _ := n.RowsAffected()
				res.Closed += int(k)
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO vuln_scans (id, tenant, format, scanner, full_scan, imported_at, actor, detections, created, reopened, closed)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, res.ScanID, tenant, r.Format, r.Scanner, boolInt(!o.Partial), store.TimeOf(now),
			o.Actor, res.Detections, res.Created, res.Reopened, res.Closed)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("import %s: %w", r.Format, err)
	}
	if res.Created >= 10000 {
		// Fresh statistics let the planner pick the selective index for
		// filters right away (PostgreSQL's autovacuum would get there
		// later; SQLite never does by itself).
		q := "ANALYZE vuln_findings"
		if s.db.Dialect() == store.SQLite {
			q = "PRAGMA analysis_limit = 2000; ANALYZE vuln_findings"
		}
		if _, err := s.db.Exec(ctx, q); err != nil {
			s.log.Warn("vuln_analyze_failed", "err", err)
		}
	}
	s.publish(ctx, bus.Event{Type: EventImported, Tenant: tenant, Subject: res.ScanID, Actor: o.Actor, Data: res})
	return res, nil
}

func newScanID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "vs_" + hex.EncodeToString(b[:])
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// score computes CVSS base scores from the vectors; the scanner's printed
// score is kept when a vector does not parse.
func score(f *Finding, printed float64) {
	if f.CVSS3Vector != "" {
		v := f.CVSS3Vector
		if strings.HasPrefix(v, "CVSS:3.0/") {
			v = "CVSS:3.1/" + strings.TrimPrefix(v, "CVSS:3.0/")
		}
		if c, err := cvss31.ParseVector(v); err == nil {
			f.CVSS3Score = c.BaseScore()
		} else {
			f.CVSS3Score = printed
		}
	}
	if f.CVSS4Vector != "" {
		if c, err := cvss40.ParseVector(f.CVSS4Vector); err == nil {
			f.CVSS4Score = c.Score()
		}
	}
	if f.Severity == report.SeverityUnknown {
		switch {
		case f.CVSS4Score > 0:
			f.Severity = report.SeverityFromScore(f.CVSS4Score)
		case f.CVSS3Score > 0:
			f.Severity = report.SeverityFromScore(f.CVSS3Score)
		case printed > 0:
			f.Severity = report.SeverityFromScore(printed)
		}
	}
}

// bulkCacheKiB is the SQLite page cache of the writer connection while an
// import runs: the de-duplication key and list indexes take random inserts,
// and with SQLite's default 2 MiB cache every insert into a large index
// reads its pages from the file again.
const bulkCacheKiB = 1 << 20

// bulk widens the SQLite writer's page cache for the duration of an import
// and returns the func that restores SQLite's default once the last
// concurrent import ends. It does nothing on PostgreSQL.
func (s *Service) bulk(ctx context.Context) func() {
	if s.db.Dialect() != store.SQLite {
		return func() {}
	}
	s.bulkMu.Lock()
	s.bulkN++
	if s.bulkN == 1 {
		if _, err := s.db.Exec(ctx, fmt.Sprintf("PRAGMA cache_size = -%d", bulkCacheKiB)); err != nil {
			s.log.Warn("vuln_cache_size_failed", "err", err)
		}
	}
	s.bulkMu.Unlock()
	return func() {
		s.bulkMu.Lock()
		defer s.bulkMu.Unlock()
		s.bulkN--
		if s.bulkN == 0 {
			if _, err := s.db.Exec(context.WithoutCancel(ctx), fmt.Sprintf("PRAGMA cache_size = -%d", store.SQLiteWriterCacheKiB)); err != nil {
				s.log.Warn("vuln_cache_size_failed", "err", err)
			}
		}
	}
}

// hint names the index SQLite must use for a statement ("" on
// PostgreSQL): before ANALYZE has run, and with some statistics after it,
// SQLite prefers an index on the tenant alone and reads every finding of
// the tenant.
func (s *Service) hint(index string) string {
	if s.db.Dialect() == store.SQLite {
		return " INDEXED BY " + index
	}
	return ""
}
