-- +goose Up
-- Analyst feedback: the verdict of each closed incident for each detector
-- that reported an anomaly on one of its entities (true or false).
CREATE TABLE ueba_feedback (
	tenant      TEXT NOT NULL,
	incident_id TEXT NOT NULL,
	detector    TEXT NOT NULL,
	verdict     TEXT NOT NULL,
	updated_at  TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (tenant, incident_id, detector)
);

-- +goose Down
DROP TABLE ueba_feedback;
