-- +goose Up
-- API tokens: only the SHA-256 of a token is stored (hex); the token itself
-- is shown once at creation.
CREATE TABLE api_tokens (
	id           TEXT PRIMARY KEY,
	tenant       TEXT NOT NULL,
	name         TEXT NOT NULL,
	hash         TEXT NOT NULL,
	role         TEXT NOT NULL,
	created_at   TIMESTAMPTZ NOT NULL,
	expires_at   TIMESTAMPTZ,
	revoked_at   TIMESTAMPTZ,
	last_used_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX api_tokens_hash ON api_tokens (hash);
CREATE INDEX api_tokens_tenant ON api_tokens (tenant, created_at);

-- +goose Down
DROP TABLE api_tokens;
