-- +goose Up
-- case_group_gen counts changes to a tenant's group keys: a node's
-- in-memory copy of the keys is valid while the count is the one it last
-- wrote or read. (On SQLite this version also rebuilds case_group_keys
-- WITHOUT ROWID; PostgreSQL tables have no rowid.)
CREATE TABLE case_group_gen (
	tenant TEXT NOT NULL,
	gen    BIGINT NOT NULL,
	PRIMARY KEY (tenant)
);

-- +goose Down
DROP TABLE case_group_gen;
