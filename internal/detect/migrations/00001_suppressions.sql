-- +goose Up
-- Suppressions silence a rule, for one entity value or entirely, until they
-- expire. They are configured through the API, never in the rule files.
CREATE TABLE detect_suppressions (
	id         TEXT PRIMARY KEY,
	tenant     TEXT NOT NULL,
	rule_id    TEXT NOT NULL,
	field      TEXT NOT NULL,
	value      TEXT NOT NULL,
	reason     TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX detect_suppressions_tenant ON detect_suppressions (tenant, expires_at);

-- +goose Down
DROP TABLE detect_suppressions;
