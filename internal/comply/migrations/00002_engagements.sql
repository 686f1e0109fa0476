-- +goose Up
-- Audit engagements: an auditor (an identity's subject) reads one
-- framework's data for an observation window until access ends; findings
-- with owners and due dates.
CREATE TABLE comply_engagements (
	id           TEXT PRIMARY KEY,
	tenant       TEXT NOT NULL,
	framework    TEXT NOT NULL,
	scope        TEXT NOT NULL,
	auditor      TEXT NOT NULL,
	window_from  TIMESTAMPTZ NOT NULL,
	window_to    TIMESTAMPTZ NOT NULL,
	access_until TIMESTAMPTZ NOT NULL,
	created_by   TEXT NOT NULL,
	created_at   TIMESTAMPTZ NOT NULL,
	version      BIGINT NOT NULL
);
CREATE INDEX comply_engagements_auditor ON comply_engagements (tenant, auditor);

CREATE TABLE comply_audit_findings (
	id            TEXT PRIMARY KEY,
	tenant        TEXT NOT NULL,
	engagement_id TEXT NOT NULL,
	kind          TEXT NOT NULL,
	requirement   TEXT NOT NULL,
	title         TEXT NOT NULL,
	description   TEXT NOT NULL,
	owner         TEXT NOT NULL,
	due_at        TIMESTAMPTZ,
	status        TEXT NOT NULL,
	created_by    TEXT NOT NULL,
	created_at    TIMESTAMPTZ NOT NULL,
	closed_at     TIMESTAMPTZ,
	version       BIGINT NOT NULL
);
CREATE INDEX comply_audit_findings_engagement ON comply_audit_findings (tenant, engagement_id);

-- +goose Down
DROP TABLE comply_audit_findings;
DROP TABLE comply_engagements;
