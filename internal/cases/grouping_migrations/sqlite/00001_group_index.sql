-- +goose Up
-- Group keys become a WITHOUT ROWID table: one B-tree instead of a rowid
-- table plus its primary-key index, so an upserted key costs one random
-- page instead of two. case_group_gen counts changes to a tenant's keys:
-- a node's in-memory copy of the keys is valid while the count is the one
-- it last wrote or read.
CREATE TABLE case_group_keys_new (
	tenant       TEXT NOT NULL,
	gkey         TEXT NOT NULL,
	incident_id  TEXT NOT NULL,
	last_seen_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (tenant, gkey)
) WITHOUT ROWID;
INSERT INTO case_group_keys_new (tenant, gkey, incident_id, last_seen_at)
	SELECT tenant, gkey, incident_id, last_seen_at FROM case_group_keys;
DROP TABLE case_group_keys;
ALTER TABLE case_group_keys_new RENAME TO case_group_keys;

CREATE TABLE case_group_gen (
	tenant TEXT NOT NULL,
	gen    BIGINT NOT NULL,
	PRIMARY KEY (tenant)
);

-- +goose Down
DROP TABLE case_group_gen;
CREATE TABLE case_group_keys_old (
	tenant       TEXT NOT NULL,
	gkey         TEXT NOT NULL,
	incident_id  TEXT NOT NULL,
	last_seen_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (tenant, gkey)
);
INSERT INTO case_group_keys_old (tenant, gkey, incident_id, last_seen_at)
	SELECT tenant, gkey, incident_id, last_seen_at FROM case_group_keys;
DROP TABLE case_group_keys;
ALTER TABLE case_group_keys_old RENAME TO case_group_keys;
