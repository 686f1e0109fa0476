-- +goose Up
-- SQLite: the indicator table is WITHOUT ROWID, so the primary key is the
-- table and an import updates one B-tree less.
-- Indicators: one row per tenant and (type, value); the id is derived from
-- type and value, so the same value from two feeds is one indicator.
CREATE TABLE intel_indicators (
	tenant       TEXT NOT NULL,
	id           TEXT NOT NULL,
	type         TEXT NOT NULL,
	value        TEXT NOT NULL,
	confidence   INTEGER NOT NULL,
	tlp          TEXT NOT NULL,
	pap          TEXT NOT NULL,
	valid_from   TIMESTAMPTZ,
	valid_until  TIMESTAMPTZ,
	source       TEXT NOT NULL,
	first_seen   TIMESTAMPTZ NOT NULL,
	last_seen    TIMESTAMPTZ NOT NULL,
	sightings    BIGINT NOT NULL DEFAULT 0,
	last_sighted TIMESTAMPTZ,
	tags         TEXT NOT NULL DEFAULT '',
	attack       TEXT NOT NULL DEFAULT '',
	stix_id      TEXT NOT NULL DEFAULT '',
	description  TEXT NOT NULL DEFAULT '',
	warninglist  TEXT NOT NULL DEFAULT '',
	updated_at   TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (tenant, id)
) WITHOUT ROWID;

-- Sightings: matches of an indicator in a tenant's events.
CREATE TABLE intel_sightings (
	tenant       TEXT NOT NULL,
	id           TEXT NOT NULL,
	indicator_id TEXT NOT NULL,
	seen_at      TIMESTAMPTZ NOT NULL,
	event_id     TEXT NOT NULL,
	field        TEXT NOT NULL,
	observed     TEXT NOT NULL,
	PRIMARY KEY (tenant, id)
);
CREATE INDEX intel_sightings_indicator ON intel_sightings (tenant, indicator_id, seen_at);

-- MISP warninglists: values on them never alert.
CREATE TABLE intel_warninglists (
	tenant      TEXT NOT NULL,
	name        TEXT NOT NULL,
	description TEXT NOT NULL,
	version     BIGINT NOT NULL,
	type        TEXT NOT NULL,
	attributes  TEXT NOT NULL,
	entries     TEXT NOT NULL,
	updated_at  TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (tenant, name)
);

-- Feeds pulled on a schedule over HTTP.
CREATE TABLE intel_feeds (
	tenant        TEXT NOT NULL,
	name          TEXT NOT NULL,
	url           TEXT NOT NULL,
	format        TEXT NOT NULL,
	interval_s    BIGINT NOT NULL,
	confidence    INTEGER NOT NULL,
	tlp           TEXT NOT NULL,
	etag          TEXT NOT NULL DEFAULT '',
	last_modified TEXT NOT NULL DEFAULT '',
	last_pulled   TIMESTAMPTZ,
	next_pull     TIMESTAMPTZ,
	last_error    TEXT NOT NULL DEFAULT '',
	last_count    BIGINT NOT NULL DEFAULT 0,
	enabled       INTEGER NOT NULL DEFAULT 1,
	PRIMARY KEY (tenant, name)
);

-- +goose Down
DROP TABLE intel_feeds;
DROP TABLE intel_warninglists;
DROP TABLE intel_sightings;
DROP TABLE intel_indicators;
