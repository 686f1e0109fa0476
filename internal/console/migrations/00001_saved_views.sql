-- +goose Up
-- Saved views: a user's named filters and grouping of a console page (the
-- alert queue), kept per tenant and user.
CREATE TABLE console_views (
	tenant     TEXT NOT NULL,
	subject    TEXT NOT NULL,
	page       TEXT NOT NULL,
	name       TEXT NOT NULL,
	query      TEXT NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (tenant, subject, page, name)
);

-- +goose Down
DROP TABLE console_views;
