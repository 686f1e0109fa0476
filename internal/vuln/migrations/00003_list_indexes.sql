-- +goose Up
-- Listing walks one index range per priority rank and state in (severity,
-- id) order; each filter that narrows a lot has an index that starts with
-- it, so a page reads about as many index entries as it returns. Fewer
-- indexes with random keys make imports cheaper: the all-states list
-- index and the severity index go (a listing over all states reads one
-- range per state).
DROP INDEX vuln_findings_sev;
DROP INDEX vuln_findings_list;
CREATE INDEX vuln_findings_state_list ON vuln_findings (tenant, state, priority_rank, severity, id);
CREATE INDEX vuln_findings_kev_list ON vuln_findings (tenant, priority_rank, severity, id) WHERE kev = 1;
CREATE INDEX vuln_findings_breached_list ON vuln_findings (tenant, priority_rank, severity, id) WHERE sla_breached = 1;
-- Metrics: the trend by first seen (appended to as findings arrive), the
-- remediation times of fixed findings and the open ones without a due
-- date, each read from its index alone.
CREATE INDEX vuln_findings_first_seen ON vuln_findings (tenant, first_seen);
CREATE INDEX vuln_findings_fixed ON vuln_findings (tenant, state, fixed_at, first_seen, due_at) WHERE fixed_at IS NOT NULL;
CREATE INDEX vuln_findings_nodue ON vuln_findings (tenant, state) WHERE due_at IS NULL;

-- Detections are keyed by their scan first, so that an import writes one
-- contiguous part of the key; moving detections on an asset merge finds
-- them by asset, which an import also writes together.
CREATE TABLE vuln_detections_v3 (
	tenant      TEXT NOT NULL,
	scan_id     TEXT NOT NULL,
	finding_id  TEXT NOT NULL,
	source_hash TEXT NOT NULL,
	asset_id    TEXT NOT NULL DEFAULT '',
	severity    INTEGER NOT NULL,
	PRIMARY KEY (tenant, scan_id, finding_id, source_hash)
);
INSERT INTO vuln_detections_v3 (tenant, scan_id, finding_id, source_hash, asset_id, severity)
	SELECT d.tenant, d.scan_id, d.finding_id, d.source_hash, COALESCE(f.asset_id, ''), d.severity
	FROM vuln_detections d LEFT JOIN vuln_findings f ON f.tenant = d.tenant AND f.id = d.finding_id;
DROP TABLE vuln_detections;
ALTER TABLE vuln_detections_v3 RENAME TO vuln_detections;
CREATE INDEX vuln_detections_asset ON vuln_detections (tenant, asset_id, finding_id);

-- +goose Down
DROP INDEX vuln_findings_nodue;
DROP INDEX vuln_findings_fixed;
DROP INDEX vuln_findings_first_seen;
CREATE TABLE vuln_detections_v1 (
	tenant      TEXT NOT NULL,
	scan_id     TEXT NOT NULL,
	finding_id  TEXT NOT NULL,
	source_hash TEXT NOT NULL,
	severity    INTEGER NOT NULL,
	PRIMARY KEY (tenant, scan_id, source_hash)
);
INSERT INTO vuln_detections_v1 (tenant, scan_id, finding_id, source_hash, severity)
	SELECT tenant, scan_id, finding_id, source_hash, severity FROM vuln_detections WHERE true ON CONFLICT DO NOTHING;
DROP TABLE vuln_detections;
ALTER TABLE vuln_detections_v1 RENAME TO vuln_detections;
CREATE INDEX vuln_detections_finding ON vuln_detections (tenant, finding_id);
DROP INDEX vuln_findings_breached_list;
DROP INDEX vuln_findings_kev_list;
DROP INDEX vuln_findings_state_list;
CREATE INDEX vuln_findings_list ON vuln_findings (tenant, priority_rank, severity, id);
CREATE INDEX vuln_findings_sev ON vuln_findings (tenant, severity);
