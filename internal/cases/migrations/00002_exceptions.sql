-- +goose Up
-- Exceptions (tuning): Sigma filter documents made from an alert's field
-- values, scoped to a rule or a logsource, with every version kept.
CREATE TABLE case_exceptions (
	tenant      TEXT NOT NULL,
	id          TEXT NOT NULL,
	title       TEXT NOT NULL,
	scope       TEXT NOT NULL,
	rule_id     TEXT NOT NULL,
	logsource   TEXT NOT NULL,
	fields      TEXT NOT NULL,
	sigma       TEXT NOT NULL,
	author      TEXT NOT NULL,
	reason      TEXT NOT NULL,
	source_alert TEXT NOT NULL,
	status      TEXT NOT NULL,
	expires_at  TIMESTAMPTZ,
	created_at  TIMESTAMPTZ NOT NULL,
	updated_at  TIMESTAMPTZ NOT NULL,
	version     BIGINT NOT NULL,
	PRIMARY KEY (tenant, id)
);
CREATE INDEX case_exceptions_rule ON case_exceptions (tenant, status, rule_id);
CREATE INDEX case_exceptions_expiry ON case_exceptions (status, expires_at);

CREATE TABLE case_exception_versions (
	tenant       TEXT NOT NULL,
	exception_id TEXT NOT NULL,
	version      BIGINT NOT NULL,
	status       TEXT NOT NULL,
	fields       TEXT NOT NULL,
	sigma        TEXT NOT NULL,
	reason       TEXT NOT NULL,
	expires_at   TIMESTAMPTZ,
	changed_by   TEXT NOT NULL,
	changed_at   TIMESTAMPTZ NOT NULL,
	change       TEXT NOT NULL,
	PRIMARY KEY (tenant, exception_id, version)
);

-- +goose Down
DROP TABLE case_exception_versions;
DROP TABLE case_exceptions;
