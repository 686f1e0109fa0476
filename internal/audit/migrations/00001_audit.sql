-- +goose Up
-- The audit trail: one append-only log for the instance. Each record is
-- chained to the one before (hash = SHA-256(prev_hash || record)) and is a
-- leaf of a Merkle tree (golang.org/x/mod/sumdb/tlog) whose stored hashes
-- are in audit_tree; audit_checkpoints holds signed tree heads. tenant on
-- audit_tree and audit_checkpoints is "_system": they belong to the log.
CREATE TABLE audit_records (
	seq         BIGINT PRIMARY KEY,
	tenant      TEXT NOT NULL,
	at          TIMESTAMPTZ NOT NULL,
	actor       TEXT NOT NULL,
	action      TEXT NOT NULL,
	subject     TEXT NOT NULL,
	source      TEXT NOT NULL,
	outcome     TEXT NOT NULL,
	before_hash TEXT NOT NULL,
	after_hash  TEXT NOT NULL,
	detail      TEXT NOT NULL,
	prev_hash   TEXT NOT NULL,
	hash        TEXT NOT NULL
);
CREATE INDEX audit_records_tenant ON audit_records (tenant, at);
CREATE TABLE audit_tree (
	idx    BIGINT PRIMARY KEY,
	tenant TEXT NOT NULL,
	hash   TEXT NOT NULL
);
CREATE TABLE audit_checkpoints (
	size   BIGINT PRIMARY KEY,
	tenant TEXT NOT NULL,
	root   TEXT NOT NULL,
	note   TEXT NOT NULL,
	at     TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE audit_checkpoints;
DROP TABLE audit_tree;
DROP TABLE audit_records;
