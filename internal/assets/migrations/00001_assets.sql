-- +goose Up
CREATE TABLE assets (
	id                 TEXT PRIMARY KEY,
	tenant             TEXT NOT NULL,
	kind               TEXT NOT NULL,
	name               TEXT NOT NULL,
	owner              TEXT NOT NULL DEFAULT '',
	team               TEXT NOT NULL DEFAULT '',
	business_service   TEXT NOT NULL DEFAULT '',
	environment        TEXT NOT NULL DEFAULT '',
	criticality        INTEGER NOT NULL DEFAULT 0,
	exposure           TEXT NOT NULL DEFAULT '',
	data_class         TEXT NOT NULL DEFAULT '',
	mission_prevalence TEXT NOT NULL DEFAULT '',
	lifecycle          TEXT NOT NULL DEFAULT '',
	os                 TEXT NOT NULL DEFAULT '',
	tags               TEXT NOT NULL DEFAULT '',
	source             TEXT NOT NULL DEFAULT '',
	first_seen         TIMESTAMPTZ NOT NULL,
	last_seen          TIMESTAMPTZ NOT NULL,
	version            INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX assets_tenant_name ON assets (tenant, name);
CREATE TABLE asset_identifiers (
	tenant   TEXT NOT NULL,
	type     TEXT NOT NULL,
	value    TEXT NOT NULL,
	asset_id TEXT NOT NULL,
	PRIMARY KEY (tenant, type, value)
);
CREATE INDEX asset_identifiers_asset ON asset_identifiers (tenant, asset_id);

-- +goose Down
DROP TABLE asset_identifiers;
DROP TABLE assets;
