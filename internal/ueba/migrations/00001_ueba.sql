-- +goose Up
-- Behaviour analytics: the learned state of each tenant (a snapshot of the
-- detectors' baselines and the risk ledger, gob-encoded), the mode of each
-- detector, and the anomalies found.
CREATE TABLE ueba_state (
	tenant     TEXT PRIMARY KEY,
	engine     BYTEA NOT NULL,
	risk       BYTEA NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE ueba_modes (
	tenant     TEXT NOT NULL,
	detector   TEXT NOT NULL,
	mode       TEXT NOT NULL,
	updated_by TEXT NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (tenant, detector)
);

CREATE TABLE ueba_anomalies (
	tenant       TEXT NOT NULL,
	id           TEXT NOT NULL,
	detector     TEXT NOT NULL,
	mode         TEXT NOT NULL,
	entity_kind  TEXT NOT NULL,
	entity_value TEXT NOT NULL,
	at           TIMESTAMPTZ NOT NULL,
	score        DOUBLE PRECISION NOT NULL,
	body         TEXT NOT NULL,
	PRIMARY KEY (tenant, id)
);
CREATE INDEX ueba_anomalies_time ON ueba_anomalies (tenant, at);
CREATE INDEX ueba_anomalies_entity ON ueba_anomalies (tenant, entity_kind, entity_value, at);

-- +goose Down
DROP TABLE ueba_anomalies;
DROP TABLE ueba_modes;
DROP TABLE ueba_state;
