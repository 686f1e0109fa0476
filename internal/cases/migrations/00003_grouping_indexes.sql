-- +goose Up
-- Grouping writes one alert's keys at random places of their indexes: the
-- incident_id index of case_group_keys cost a write per key per alert and
-- served only merges (rare; they scan now). Incident lists sort by
-- created_at, so the status index ends with it (updated_at moved on every
-- alert).
DROP INDEX case_group_keys_incident;
DROP INDEX case_incidents_status;
CREATE INDEX case_incidents_status ON case_incidents (tenant, status, created_at);

-- +goose Down
DROP INDEX case_incidents_status;
CREATE INDEX case_incidents_status ON case_incidents (tenant, status, updated_at);
CREATE INDEX case_group_keys_incident ON case_group_keys (tenant, incident_id);
