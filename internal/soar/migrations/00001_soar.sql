-- +goose Up
-- Every save of a playbook is a new version; runs pin the version.
CREATE TABLE soar_playbooks (
	tenant      TEXT NOT NULL,
	name        TEXT NOT NULL,
	version     BIGINT NOT NULL,
	source      TEXT NOT NULL,
	description TEXT NOT NULL,
	triggers    TEXT NOT NULL,
	created_at  TIMESTAMPTZ NOT NULL,
	created_by  TEXT NOT NULL,
	PRIMARY KEY (tenant, name, version)
);

CREATE TABLE soar_runs (
	tenant       TEXT NOT NULL,
	id           TEXT NOT NULL,
	playbook     TEXT NOT NULL,
	pb_version   BIGINT NOT NULL,
	status       TEXT NOT NULL,
	trigger_type TEXT NOT NULL,
	subject      TEXT NOT NULL,
	started_by   TEXT NOT NULL,
	incident_id  TEXT NOT NULL,
	alert_id     TEXT NOT NULL,
	context      TEXT NOT NULL,
	error        TEXT NOT NULL,
	dry_run      BIGINT NOT NULL,
	replay_of    TEXT NOT NULL,
	created_at   TIMESTAMPTZ NOT NULL,
	finished_at  TIMESTAMPTZ,
	deadline     TIMESTAMPTZ NOT NULL,
	version      BIGINT NOT NULL,
	PRIMARY KEY (tenant, id)
);
CREATE INDEX soar_runs_created ON soar_runs (tenant, created_at);
CREATE INDEX soar_runs_status ON soar_runs (status, deadline);

-- Step states are the run's durable progress; runners claim them.
CREATE TABLE soar_steps (
	tenant        TEXT NOT NULL,
	id            TEXT NOT NULL,
	run_id        TEXT NOT NULL,
	step_id       TEXT NOT NULL,
	idx           BIGINT NOT NULL,
	status        TEXT NOT NULL,
	attempt       BIGINT NOT NULL,
	run_at        TIMESTAMPTZ NOT NULL,
	lease_owner   TEXT NOT NULL,
	lease_until   TIMESTAMPTZ,
	input         TEXT NOT NULL,
	output        TEXT NOT NULL,
	error         TEXT NOT NULL,
	started_at    TIMESTAMPTZ,
	finished_at   TIMESTAMPTZ,
	approval_role TEXT NOT NULL,
	message       TEXT NOT NULL,
	decided_by    TEXT NOT NULL,
	version       BIGINT NOT NULL,
	PRIMARY KEY (tenant, id)
);
CREATE UNIQUE INDEX soar_steps_id ON soar_steps (id);
CREATE INDEX soar_steps_run ON soar_steps (tenant, run_id, idx);
CREATE INDEX soar_steps_due ON soar_steps (status, run_at);

-- Secrets are AES-256-GCM sealed; the API never returns them.
CREATE TABLE soar_secrets (
	tenant     TEXT NOT NULL,
	name       TEXT NOT NULL,
	sealed     TEXT NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL,
	updated_by TEXT NOT NULL,
	PRIMARY KEY (tenant, name)
);

-- +goose Down
DROP TABLE soar_secrets;
DROP TABLE soar_steps;
DROP TABLE soar_runs;
DROP TABLE soar_playbooks;
