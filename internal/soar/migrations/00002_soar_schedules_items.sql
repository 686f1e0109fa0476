-- +goose Up
-- The next fire time of each scheduled playbook: a runner that fires a
-- schedule advances next_at in the transaction that inserts the run, so a
-- restart neither loses nor repeats a fire.
CREATE TABLE soar_schedules (
	tenant   TEXT NOT NULL,
	playbook TEXT NOT NULL,
	cron     TEXT NOT NULL,
	next_at  TIMESTAMPTZ NOT NULL,
	last_at  TIMESTAMPTZ,
	version  BIGINT NOT NULL,
	PRIMARY KEY (tenant, playbook)
);
CREATE INDEX soar_schedules_due ON soar_schedules (next_at);

-- One row per finished iteration of a for_each step: a step re-executed
-- after a crash or retried skips what is recorded here.
CREATE TABLE soar_items (
	tenant      TEXT NOT NULL,
	step_id     TEXT NOT NULL,
	idx         BIGINT NOT NULL,
	attempt     BIGINT NOT NULL,
	status      TEXT NOT NULL,
	output      TEXT NOT NULL,
	error       TEXT NOT NULL,
	finished_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (tenant, step_id, idx)
);

-- +goose Down
DROP TABLE soar_items;
DROP TABLE soar_schedules;
