-- +goose Up
-- Allow-list: an entity (with a detector, or every detector) whose
-- anomalies are recorded but never add risk or alert, until it expires.
CREATE TABLE ueba_allowlist (
	tenant       TEXT NOT NULL,
	id           TEXT NOT NULL,
	detector     TEXT NOT NULL,
	entity_kind  TEXT NOT NULL,
	entity_value TEXT NOT NULL,
	reason       TEXT NOT NULL,
	created_by   TEXT NOT NULL,
	created_at   TIMESTAMPTZ NOT NULL,
	expires_at   TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (tenant, id)
);

-- +goose Down
DROP TABLE ueba_allowlist;
