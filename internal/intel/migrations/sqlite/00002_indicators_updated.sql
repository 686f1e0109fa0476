-- +goose Up
-- TAXII serves a tenant's indicators in the order they were written.
CREATE INDEX intel_indicators_updated ON intel_indicators (tenant, updated_at, id);

-- +goose Down
DROP INDEX intel_indicators_updated;
