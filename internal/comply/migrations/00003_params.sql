-- +goose Up
-- A tenant's targets for the built-in checks' parameters (hours of
-- silence allowed, backup age…), merged over the defaults.
CREATE TABLE comply_params (
	tenant     TEXT NOT NULL,
	check_id   TEXT NOT NULL,
	body       TEXT NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL,
	updated_by TEXT NOT NULL,
	PRIMARY KEY (tenant, check_id)
);

-- +goose Down
DROP TABLE comply_params;
