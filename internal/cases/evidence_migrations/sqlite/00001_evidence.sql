-- +goose Up
-- Evidence attachments live in the state database (not on a node's disk)
-- so that every node of a scaled-out deployment serves them; the content's
-- SHA-256 is checked again on every download.
CREATE TABLE case_evidence (
	tenant      TEXT NOT NULL,
	id          TEXT NOT NULL,
	incident_id TEXT NOT NULL,
	name        TEXT NOT NULL,
	media_type  TEXT NOT NULL,
	description TEXT NOT NULL,
	size        BIGINT NOT NULL,
	sha256      TEXT NOT NULL,
	added_by    TEXT NOT NULL,
	added_at    TIMESTAMPTZ NOT NULL,
	content     BLOB NOT NULL,
	PRIMARY KEY (tenant, id)
);
CREATE INDEX case_evidence_incident ON case_evidence (tenant, incident_id, added_at);

-- Chain of custody: every addition, download and verification.
CREATE TABLE case_custody (
	tenant      TEXT NOT NULL,
	id          TEXT NOT NULL,
	evidence_id TEXT NOT NULL,
	at          TIMESTAMPTZ NOT NULL,
	actor       TEXT NOT NULL,
	action      TEXT NOT NULL,
	sha256      TEXT NOT NULL,
	intact      BIGINT NOT NULL,
	PRIMARY KEY (tenant, id)
);
CREATE INDEX case_custody_evidence ON case_custody (tenant, evidence_id, at);

-- +goose Down
DROP TABLE case_custody;
DROP TABLE case_evidence;
