-- +goose Up
-- Compliance: evaluation runs and their append-only results (each stamped
-- with the policy bundle's and the facts' SHA-256), the status of every
-- requirement per run (history), waivers, evidence items with revisions,
-- manual assessments (applicability, result, maturity), imported catalogs
-- and tenant policy bundles. No row of comply_runs, comply_results or
-- comply_status is ever updated or deleted.
CREATE TABLE comply_runs (
	id          TEXT PRIMARY KEY,
	tenant      TEXT NOT NULL,
	at          TIMESTAMPTZ NOT NULL,
	policy_hash TEXT NOT NULL,
	facts_hash  TEXT NOT NULL,
	cause       TEXT NOT NULL,
	actor       TEXT NOT NULL,
	created_at  TIMESTAMPTZ NOT NULL,
	results     BIGINT NOT NULL,
	failing     BIGINT NOT NULL
);
CREATE INDEX comply_runs_tenant_at ON comply_runs (tenant, at);

CREATE TABLE comply_results (
	tenant      TEXT NOT NULL,
	run_id      TEXT NOT NULL,
	check_id    TEXT NOT NULL,
	subject     TEXT NOT NULL,
	status      TEXT NOT NULL,
	observed    TEXT NOT NULL,
	reason      TEXT NOT NULL,
	waiver_id   TEXT NOT NULL,
	at          TIMESTAMPTZ NOT NULL,
	policy_hash TEXT NOT NULL,
	facts_hash  TEXT NOT NULL,
	PRIMARY KEY (tenant, run_id, check_id, subject)
);
CREATE INDEX comply_results_check ON comply_results (tenant, check_id, at);

CREATE TABLE comply_status (
	tenant      TEXT NOT NULL,
	run_id      TEXT NOT NULL,
	framework   TEXT NOT NULL,
	requirement TEXT NOT NULL,
	status      TEXT NOT NULL,
	passing     BIGINT NOT NULL,
	failing     BIGINT NOT NULL,
	waived      BIGINT NOT NULL,
	errors      BIGINT NOT NULL,
	at          TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (tenant, run_id, framework, requirement)
);
CREATE INDEX comply_status_req ON comply_status (tenant, framework, requirement, at);

CREATE TABLE comply_waivers (
	id            TEXT PRIMARY KEY,
	tenant        TEXT NOT NULL,
	check_id      TEXT NOT NULL,
	subject       TEXT NOT NULL,
	justification TEXT NOT NULL,
	owner         TEXT NOT NULL,
	requested_by  TEXT NOT NULL,
	requested_at  TIMESTAMPTZ NOT NULL,
	approved_by   TEXT NOT NULL,
	approved_at   TIMESTAMPTZ,
	rejected      INTEGER NOT NULL,
	revoked_at    TIMESTAMPTZ,
	expires_at    TIMESTAMPTZ NOT NULL,
	warned_at     TIMESTAMPTZ,
	version       BIGINT NOT NULL
);
CREATE INDEX comply_waivers_check ON comply_waivers (tenant, check_id);

CREATE TABLE comply_evidence (
	id           TEXT PRIMARY KEY,
	tenant       TEXT NOT NULL,
	title        TEXT NOT NULL,
	kind         TEXT NOT NULL,
	framework    TEXT NOT NULL,
	requirement  TEXT NOT NULL,
	revisions    BIGINT NOT NULL,
	created_at   TIMESTAMPTZ NOT NULL,
	version      BIGINT NOT NULL
);
CREATE INDEX comply_evidence_req ON comply_evidence (tenant, framework, requirement);

CREATE TABLE comply_evidence_revisions (
	tenant       TEXT NOT NULL,
	evidence_id  TEXT NOT NULL,
	revision     BIGINT NOT NULL,
	name         TEXT NOT NULL,
	media_type   TEXT NOT NULL,
	url          TEXT NOT NULL,
	sha256       TEXT NOT NULL,
	size         BIGINT NOT NULL,
	content      TEXT NOT NULL,
	effective_at TIMESTAMPTZ NOT NULL,
	uploaded_at  TIMESTAMPTZ NOT NULL,
	uploaded_by  TEXT NOT NULL,
	renew_by     TIMESTAMPTZ,
	PRIMARY KEY (tenant, evidence_id, revision)
);

CREATE TABLE comply_assessments (
	tenant        TEXT NOT NULL,
	framework     TEXT NOT NULL,
	requirement   TEXT NOT NULL,
	applicable    INTEGER NOT NULL,
	justification TEXT NOT NULL,
	result        TEXT NOT NULL,
	maturity      INTEGER NOT NULL,
	note          TEXT NOT NULL,
	assessor      TEXT NOT NULL,
	assessed_at   TIMESTAMPTZ NOT NULL,
	version       BIGINT NOT NULL,
	PRIMARY KEY (tenant, framework, requirement)
);

CREATE TABLE comply_catalogs (
	tenant      TEXT NOT NULL,
	id          TEXT NOT NULL,
	body        TEXT NOT NULL,
	imported_at TIMESTAMPTZ NOT NULL,
	imported_by TEXT NOT NULL,
	PRIMARY KEY (tenant, id)
);

CREATE TABLE comply_bundles (
	tenant      TEXT NOT NULL,
	id          TEXT NOT NULL,
	body        TEXT NOT NULL,
	hash        TEXT NOT NULL,
	uploaded_at TIMESTAMPTZ NOT NULL,
	uploaded_by TEXT NOT NULL,
	PRIMARY KEY (tenant, id)
);

-- +goose Down
DROP TABLE comply_bundles;
DROP TABLE comply_catalogs;
DROP TABLE comply_assessments;
DROP TABLE comply_evidence_revisions;
DROP TABLE comply_evidence;
DROP TABLE comply_waivers;
DROP TABLE comply_status;
DROP TABLE comply_results;
DROP TABLE comply_runs;
