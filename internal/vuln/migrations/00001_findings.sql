-- +goose Up
CREATE TABLE vuln_findings (
	id                TEXT PRIMARY KEY,
	tenant            TEXT NOT NULL,
	asset_id          TEXT NOT NULL,
	vuln_id           TEXT NOT NULL,
	component         TEXT NOT NULL,
	source            TEXT NOT NULL,
	aliases           TEXT NOT NULL DEFAULT '',
	title             TEXT NOT NULL DEFAULT '',
	description       TEXT NOT NULL DEFAULT '',
	package           TEXT NOT NULL DEFAULT '',
	pkg_version       TEXT NOT NULL DEFAULT '',
	fixed_version     TEXT NOT NULL DEFAULT '',
	location          TEXT NOT NULL DEFAULT '',
	severity          INTEGER NOT NULL,
	cvss3_vector      TEXT NOT NULL DEFAULT '',
	cvss3_score       DOUBLE PRECISION NOT NULL DEFAULT 0,
	cvss4_vector      TEXT NOT NULL DEFAULT '',
	cvss4_score       DOUBLE PRECISION NOT NULL DEFAULT 0,
	epss              DOUBLE PRECISION NOT NULL DEFAULT 0,
	epss_percentile   DOUBLE PRECISION NOT NULL DEFAULT 0,
	kev               INTEGER NOT NULL DEFAULT 0,
	exploit_available INTEGER NOT NULL DEFAULT 0,
	priority          TEXT NOT NULL DEFAULT '',
	priority_rank     INTEGER NOT NULL DEFAULT 0,
	timeline          TEXT NOT NULL DEFAULT '',
	reasons           TEXT NOT NULL DEFAULT '',
	due_at            TIMESTAMPTZ,
	sla_breached      INTEGER NOT NULL DEFAULT 0,
	state             TEXT NOT NULL,
	state_reason      TEXT NOT NULL DEFAULT '',
	approver          TEXT NOT NULL DEFAULT '',
	accepted_until    TIMESTAMPTZ,
	first_seen        TIMESTAMPTZ NOT NULL,
	last_seen         TIMESTAMPTZ NOT NULL,
	fixed_at          TIMESTAMPTZ,
	last_scan         TEXT NOT NULL DEFAULT '',
	updated_at        TIMESTAMPTZ NOT NULL,
	version           INTEGER NOT NULL DEFAULT 1
);
-- List order: most urgent first; filters are checked while walking it.
CREATE INDEX vuln_findings_list ON vuln_findings (tenant, priority_rank, severity, id);
CREATE INDEX vuln_findings_sev ON vuln_findings (tenant, severity);
CREATE INDEX vuln_findings_vuln ON vuln_findings (tenant, vuln_id, priority_rank, severity, id);
CREATE INDEX vuln_findings_asset_list ON vuln_findings (tenant, asset_id, priority_rank, severity, id);
-- The sweep runs across tenants: its indexes lead with what it selects.
CREATE INDEX vuln_findings_due ON vuln_findings (sla_breached, due_at);
CREATE INDEX vuln_findings_accepted ON vuln_findings (state, accepted_until);

-- A scan is one imported report; its detections point at findings.
CREATE TABLE vuln_scans (
	id          TEXT PRIMARY KEY,
	tenant      TEXT NOT NULL,
	format      TEXT NOT NULL,
	scanner     TEXT NOT NULL DEFAULT '',
	full_scan   INTEGER NOT NULL DEFAULT 1,
	imported_at TIMESTAMPTZ NOT NULL,
	actor       TEXT NOT NULL DEFAULT '',
	detections  INTEGER NOT NULL DEFAULT 0,
	created     INTEGER NOT NULL DEFAULT 0,
	reopened    INTEGER NOT NULL DEFAULT 0,
	closed      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX vuln_scans_tenant ON vuln_scans (tenant, imported_at);
CREATE TABLE vuln_detections (
	tenant      TEXT NOT NULL,
	scan_id     TEXT NOT NULL,
	finding_id  TEXT NOT NULL,
	source_hash TEXT NOT NULL,
	severity    INTEGER NOT NULL,
	PRIMARY KEY (tenant, scan_id, source_hash)
);
CREATE INDEX vuln_detections_finding ON vuln_detections (tenant, finding_id);

-- Feeds are shared by every tenant: their rows carry tenant '*'.
CREATE TABLE vuln_kev (
	tenant      TEXT NOT NULL,
	cve         TEXT NOT NULL,
	date_added  TEXT NOT NULL DEFAULT '',
	due_date    TEXT NOT NULL DEFAULT '',
	ransomware  TEXT NOT NULL DEFAULT '',
	name        TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (tenant, cve)
);
CREATE TABLE vuln_epss (
	tenant     TEXT NOT NULL,
	cve        TEXT NOT NULL,
	score      DOUBLE PRECISION NOT NULL,
	percentile DOUBLE PRECISION NOT NULL,
	PRIMARY KEY (tenant, cve)
);

-- +goose Down
DROP TABLE vuln_epss;
DROP TABLE vuln_kev;
DROP TABLE vuln_detections;
DROP TABLE vuln_scans;
DROP TABLE vuln_findings;
