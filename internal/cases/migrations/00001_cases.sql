-- +goose Up
-- Alerts keep a copy of their triggering events (JSON) so that evidence
-- outlives the event store's retention.
CREATE TABLE case_alerts (
	tenant        TEXT NOT NULL,
	id            TEXT NOT NULL,
	incident_id   TEXT NOT NULL DEFAULT '',
	source        TEXT NOT NULL,
	rule_id       TEXT NOT NULL,
	rule_title    TEXT NOT NULL,
	severity      TEXT NOT NULL,
	attack        TEXT NOT NULL,
	entities      TEXT NOT NULL,
	dedup_key     TEXT NOT NULL,
	hit_count     BIGINT NOT NULL,
	score         BIGINT NOT NULL,
	priority      TEXT NOT NULL,
	explanation   TEXT NOT NULL,
	ioc_conf      BIGINT NOT NULL,
	asset_crit    BIGINT NOT NULL,
	logsource     TEXT NOT NULL,
	description   TEXT NOT NULL,
	events        TEXT NOT NULL,
	event_time    TIMESTAMPTZ,
	created_at    TIMESTAMPTZ NOT NULL,
	last_seen_at  TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (tenant, id)
);
CREATE INDEX case_alerts_created ON case_alerts (tenant, created_at);
CREATE INDEX case_alerts_dedup ON case_alerts (tenant, dedup_key, last_seen_at);
CREATE INDEX case_alerts_incident ON case_alerts (tenant, incident_id, created_at);
CREATE INDEX case_alerts_rule ON case_alerts (tenant, rule_id, created_at);
CREATE INDEX case_alerts_severity ON case_alerts (tenant, severity, created_at);

CREATE TABLE case_incidents (
	tenant          TEXT NOT NULL,
	id              TEXT NOT NULL,
	title           TEXT NOT NULL,
	description     TEXT NOT NULL,
	kind            TEXT NOT NULL,
	status          TEXT NOT NULL,
	resolution      TEXT NOT NULL,
	severity        TEXT NOT NULL,
	priority        TEXT NOT NULL,
	priority_manual BIGINT NOT NULL,
	score           BIGINT NOT NULL,
	explanation     TEXT NOT NULL,
	assignee        TEXT NOT NULL,
	team            TEXT NOT NULL,
	alert_count     BIGINT NOT NULL,
	entities        TEXT NOT NULL,
	attack          TEXT NOT NULL,
	rules           TEXT NOT NULL,
	waiting         BIGINT NOT NULL,
	waiting_reason  TEXT NOT NULL,
	merged_into     TEXT NOT NULL,
	first_alert_at  TIMESTAMPTZ,
	last_alert_at   TIMESTAMPTZ,
	created_at      TIMESTAMPTZ NOT NULL,
	updated_at      TIMESTAMPTZ NOT NULL,
	ack_at          TIMESTAMPTZ,
	contained_at    TIMESTAMPTZ,
	resolved_at     TIMESTAMPTZ,
	-- SLA: targets in seconds of (business) clock time, time spent waiting,
	-- breaches, escalation, and the next wall time the sweeper must look.
	sla_ack_s       BIGINT NOT NULL,
	sla_contain_s   BIGINT NOT NULL,
	sla_resolve_s   BIGINT NOT NULL,
	sla_paused_s    BIGINT NOT NULL,
	sla_paused_at   TIMESTAMPTZ,
	sla_ack_breach  TIMESTAMPTZ,
	sla_cont_breach TIMESTAMPTZ,
	sla_res_breach  TIMESTAMPTZ,
	escalation      BIGINT NOT NULL,
	escalated_to    TEXT NOT NULL,
	sla_next_at     TIMESTAMPTZ,
	version         BIGINT NOT NULL,
	PRIMARY KEY (tenant, id)
);
CREATE INDEX case_incidents_status ON case_incidents (tenant, status, updated_at);
CREATE INDEX case_incidents_created ON case_incidents (tenant, created_at);
CREATE INDEX case_incidents_sla ON case_incidents (sla_next_at);

-- Grouping keys ("rule|host:pc1", "user:alice") point at the open incident
-- that last took an alert with that key.
CREATE TABLE case_group_keys (
	tenant       TEXT NOT NULL,
	gkey         TEXT NOT NULL,
	incident_id  TEXT NOT NULL,
	last_seen_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (tenant, gkey)
);
CREATE INDEX case_group_keys_incident ON case_group_keys (tenant, incident_id);

CREATE TABLE case_timeline (
	tenant      TEXT NOT NULL,
	id          TEXT NOT NULL,
	incident_id TEXT NOT NULL,
	at          TIMESTAMPTZ NOT NULL,
	kind        TEXT NOT NULL,
	actor       TEXT NOT NULL,
	text        TEXT NOT NULL,
	ref         TEXT NOT NULL,
	PRIMARY KEY (tenant, id)
);
CREATE INDEX case_timeline_incident ON case_timeline (tenant, incident_id, at);

CREATE TABLE case_comments (
	tenant       TEXT NOT NULL,
	id           TEXT NOT NULL,
	subject_kind TEXT NOT NULL,
	subject_id   TEXT NOT NULL,
	author       TEXT NOT NULL,
	body         TEXT NOT NULL,
	created_at   TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (tenant, id)
);
CREATE INDEX case_comments_subject ON case_comments (tenant, subject_kind, subject_id, created_at);

CREATE TABLE case_tasks (
	tenant      TEXT NOT NULL,
	id          TEXT NOT NULL,
	incident_id TEXT NOT NULL,
	position    BIGINT NOT NULL,
	title       TEXT NOT NULL,
	assignee    TEXT NOT NULL,
	done_at     TIMESTAMPTZ,
	done_by     TEXT NOT NULL,
	created_at  TIMESTAMPTZ NOT NULL,
	version     BIGINT NOT NULL,
	PRIMARY KEY (tenant, id)
);
CREATE INDEX case_tasks_incident ON case_tasks (tenant, incident_id, position);

CREATE TABLE case_observables (
	tenant        TEXT NOT NULL,
	id            TEXT NOT NULL,
	incident_id   TEXT NOT NULL,
	kind          TEXT NOT NULL,
	value         TEXT NOT NULL,
	tlp           TEXT NOT NULL,
	pap           TEXT NOT NULL,
	source        TEXT NOT NULL,
	first_seen_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (tenant, id)
);
CREATE UNIQUE INDEX case_observables_unique ON case_observables (tenant, incident_id, kind, value);
CREATE INDEX case_observables_value ON case_observables (tenant, kind, value);

-- Regulatory reporting: one flag per regime, one row per stage.
CREATE TABLE case_reg_flags (
	tenant        TEXT NOT NULL,
	incident_id   TEXT NOT NULL,
	regime        TEXT NOT NULL,
	aware_at      TIMESTAMPTZ NOT NULL,
	classified_at TIMESTAMPTZ,
	flagged_by    TEXT NOT NULL,
	flagged_at    TIMESTAMPTZ NOT NULL,
	facts         TEXT NOT NULL,
	PRIMARY KEY (tenant, incident_id, regime)
);

CREATE TABLE case_reg_stages (
	tenant       TEXT NOT NULL,
	id           TEXT NOT NULL,
	incident_id  TEXT NOT NULL,
	regime       TEXT NOT NULL,
	stage        TEXT NOT NULL,
	position     BIGINT NOT NULL,
	status       TEXT NOT NULL,
	due_at       TIMESTAMPTZ,
	submitted_at TIMESTAMPTZ,
	submitted_by TEXT NOT NULL,
	reference    TEXT NOT NULL,
	warned_at    TIMESTAMPTZ,
	overdue_at   TIMESTAMPTZ,
	version      BIGINT NOT NULL,
	PRIMARY KEY (tenant, id)
);
CREATE INDEX case_reg_stages_incident ON case_reg_stages (tenant, incident_id, regime, position);
CREATE INDEX case_reg_stages_due ON case_reg_stages (status, due_at);

-- +goose Down
DROP TABLE case_reg_stages;
DROP TABLE case_reg_flags;
DROP TABLE case_observables;
DROP TABLE case_tasks;
DROP TABLE case_comments;
DROP TABLE case_timeline;
DROP TABLE case_group_keys;
DROP TABLE case_incidents;
DROP TABLE case_alerts;
