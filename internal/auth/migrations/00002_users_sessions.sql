-- +goose Up
-- Local users (argon2id password hashes, TOTP secrets), their role bindings
-- per tenant, web sessions (only the SHA-256 of the session secret is
-- stored), login throttling, OIDC login states, custom roles and the
-- certificates the built-in CA issued. tenant on users is the user's home
-- tenant; a user reaches other tenants only through role_bindings.
CREATE TABLE users (
	id             TEXT PRIMARY KEY,
	tenant         TEXT NOT NULL,
	username       TEXT NOT NULL,
	display_name   TEXT NOT NULL,
	password_hash  TEXT NOT NULL,
	totp_secret    TEXT NOT NULL,
	totp_last_step BIGINT NOT NULL,
	oidc_subject   TEXT NOT NULL,
	disabled       INTEGER NOT NULL,
	created_at     TIMESTAMPTZ NOT NULL,
	version        BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_username ON users (username);
CREATE TABLE role_bindings (
	tenant  TEXT NOT NULL,
	user_id TEXT NOT NULL,
	role    TEXT NOT NULL,
	PRIMARY KEY (tenant, user_id)
);
CREATE INDEX role_bindings_user ON role_bindings (user_id);
CREATE TABLE sessions (
	id          TEXT PRIMARY KEY,
	tenant      TEXT NOT NULL,
	hash        TEXT NOT NULL,
	user_id     TEXT NOT NULL,
	csrf        TEXT NOT NULL,
	method      TEXT NOT NULL,
	source      TEXT NOT NULL,
	created_at  TIMESTAMPTZ NOT NULL,
	last_seen   TIMESTAMPTZ NOT NULL,
	verified_at TIMESTAMPTZ,
	expires_at  TIMESTAMPTZ NOT NULL,
	revoked_at  TIMESTAMPTZ
);
CREATE UNIQUE INDEX sessions_hash ON sessions (hash);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE TABLE login_attempts (
	tenant       TEXT NOT NULL,
	username     TEXT NOT NULL,
	failures     BIGINT NOT NULL,
	locked_until TIMESTAMPTZ,
	PRIMARY KEY (tenant, username)
);
CREATE TABLE oidc_states (
	state      TEXT PRIMARY KEY,
	tenant     TEXT NOT NULL,
	nonce      TEXT NOT NULL,
	verifier   TEXT NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE custom_roles (
	tenant      TEXT NOT NULL,
	name        TEXT NOT NULL,
	description TEXT NOT NULL,
	grants      TEXT NOT NULL,
	denies      TEXT NOT NULL,
	PRIMARY KEY (tenant, name)
);
CREATE TABLE pki_certs (
	serial     TEXT PRIMARY KEY,
	tenant     TEXT NOT NULL,
	name       TEXT NOT NULL,
	not_after  TIMESTAMPTZ NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	revoked_at TIMESTAMPTZ
);

-- +goose Down
DROP TABLE pki_certs;
DROP TABLE custom_roles;
DROP TABLE oidc_states;
DROP TABLE login_attempts;
DROP TABLE sessions;
DROP TABLE role_bindings;
DROP TABLE users;
