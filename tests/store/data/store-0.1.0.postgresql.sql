-- The same state store on PostgreSQL, written by tenantsync 0.1.0 (commit 967aa94) into a schema
-- of its own, then `pg_dump --schema=... --no-owner --no-privileges --inserts`, with the SET
-- lines, psql meta-commands and schema qualifications removed so that it loads into whatever
-- schema the connection's search_path selects. Do not regenerate with a newer tenantsync.

CREATE TABLE ts_config_fingerprints (
    config character varying NOT NULL,
    part character varying NOT NULL,
    digest character varying NOT NULL,
    cycle_id character varying,
    recorded timestamp with time zone NOT NULL
);

CREATE TABLE ts_cycles (
    seq bigint NOT NULL,
    config character varying NOT NULL,
    cycle_id character varying NOT NULL,
    kind character varying NOT NULL,
    dry_run boolean NOT NULL,
    started timestamp with time zone NOT NULL,
    ended timestamp with time zone,
    status character varying NOT NULL,
    counts json,
    job_status character varying,
    quarantine_reason character varying,
    quarantine_next_attempt timestamp with time zone,
    quarantine_series_count integer,
    error text
);

CREATE SEQUENCE ts_cycles_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE ts_cycles_seq_seq OWNED BY ts_cycles.seq;

CREATE TABLE ts_deleted_configs (
    config character varying NOT NULL,
    deleted timestamp with time zone NOT NULL,
    archive text,
    details json
);

CREATE TABLE ts_escrows (
    config character varying NOT NULL,
    source_id character varying NOT NULL,
    failures integer NOT NULL,
    next_retry timestamp with time zone NOT NULL,
    last_error text,
    updated timestamp with time zone NOT NULL
);

CREATE TABLE ts_jobs (
    config character varying NOT NULL,
    code character varying NOT NULL,
    quarantine_current_began timestamp with time zone,
    quarantine_next_attempt timestamp with time zone,
    quarantine_reason character varying,
    quarantine_series_began timestamp with time zone,
    quarantine_series_count integer,
    quarantine_error json,
    last_execution timestamp with time zone,
    last_successful_execution timestamp with time zone,
    count_successive_complete_failures integer NOT NULL,
    notified_reason character varying,
    updated timestamp with time zone NOT NULL
);

CREATE TABLE ts_links (
    config character varying NOT NULL,
    source_id character varying NOT NULL,
    target_id character varying NOT NULL,
    state character varying NOT NULL,
    source_upn character varying,
    updated timestamp with time zone NOT NULL
);

CREATE TABLE ts_locks (
    config character varying NOT NULL,
    holder character varying NOT NULL,
    host character varying NOT NULL,
    pid character varying NOT NULL,
    what character varying NOT NULL,
    acquired timestamp with time zone NOT NULL,
    expires timestamp with time zone NOT NULL
);

CREATE TABLE ts_memberships (
    config character varying NOT NULL,
    group_id character varying NOT NULL,
    member_id character varying NOT NULL
);

CREATE TABLE ts_notifications (
    seq bigint NOT NULL,
    config character varying NOT NULL,
    kind character varying NOT NULL,
    subject text NOT NULL,
    body text NOT NULL,
    recipient character varying,
    sent timestamp with time zone NOT NULL
);

CREATE SEQUENCE ts_notifications_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE ts_notifications_seq_seq OWNED BY ts_notifications.seq;

CREATE TABLE ts_pending_references (
    config character varying NOT NULL,
    source_id character varying NOT NULL,
    attribute character varying NOT NULL,
    reference_id character varying NOT NULL,
    updated timestamp with time zone NOT NULL
);

CREATE TABLE ts_provisioning_log (
    seq bigint NOT NULL,
    config character varying NOT NULL,
    cycle_id character varying,
    activity_date_time timestamp with time zone NOT NULL,
    log_id character varying NOT NULL,
    job_id character varying,
    change_id character varying,
    provisioning_action character varying,
    status character varying,
    error_code character varying,
    reason text,
    source_id character varying,
    source_display_name character varying,
    target_id character varying,
    target_display_name character varying,
    modified_properties json NOT NULL,
    provisioning_steps json NOT NULL,
    duration_ms integer
);

CREATE SEQUENCE ts_provisioning_log_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE ts_provisioning_log_seq_seq OWNED BY ts_provisioning_log.seq;

CREATE TABLE ts_reevaluations (
    config character varying NOT NULL,
    source_id character varying NOT NULL,
    reason text NOT NULL,
    requested timestamp with time zone NOT NULL
);

CREATE TABLE ts_reference_escrows (
    config character varying NOT NULL,
    source_id character varying NOT NULL,
    attribute character varying NOT NULL,
    failures integer NOT NULL,
    next_retry timestamp with time zone NOT NULL,
    last_error text,
    updated timestamp with time zone NOT NULL
);

CREATE TABLE ts_schema_version (
    version integer NOT NULL,
    applied timestamp with time zone NOT NULL
);

CREATE TABLE ts_setup (
    config character varying NOT NULL,
    key character varying NOT NULL,
    value text NOT NULL,
    updated timestamp with time zone NOT NULL
);

CREATE TABLE ts_snapshots (
    config character varying NOT NULL,
    object_id character varying NOT NULL,
    data json NOT NULL
);

CREATE TABLE ts_staged_deletions (
    config character varying NOT NULL,
    source_id character varying NOT NULL,
    cycle_id character varying NOT NULL,
    target_id character varying,
    action character varying NOT NULL,
    reason text,
    display_name character varying,
    staged timestamp with time zone NOT NULL
);

CREATE TABLE ts_watermarks (
    config character varying NOT NULL,
    resource character varying NOT NULL,
    delta_link text NOT NULL,
    saved timestamp with time zone NOT NULL
);

ALTER TABLE ONLY ts_cycles ALTER COLUMN seq SET DEFAULT nextval('ts_cycles_seq_seq'::regclass);

ALTER TABLE ONLY ts_notifications ALTER COLUMN seq SET DEFAULT nextval('ts_notifications_seq_seq'::regclass);

ALTER TABLE ONLY ts_provisioning_log ALTER COLUMN seq SET DEFAULT nextval('ts_provisioning_log_seq_seq'::regclass);

INSERT INTO ts_config_fingerprints VALUES ('emea-to-hq', 'scope filters', 'f1', 'a01c288f-0072-44f7-a8a1-4d8fcf9c8b00', '2026-11-30 03:12:28.068734+00');
INSERT INTO ts_config_fingerprints VALUES ('emea-to-hq', 'attribute mappings', 'm1', 'a01c288f-0072-44f7-a8a1-4d8fcf9c8b00', '2026-11-30 03:12:28.068734+00');

INSERT INTO ts_cycles VALUES (1, 'emea-to-hq', 'a01c288f-0072-44f7-a8a1-4d8fcf9c8b00', 'initial', false, '2026-11-30 03:12:28.04674+00', '2026-11-30 03:12:28.059491+00', 'failure', '{"create":1,"update":1,"success":1,"failure":1}', 'Quarantine', 'EncounteredQuarantineException', '2026-01-05 15:30:00+00', 2, 'quarantined');

INSERT INTO ts_deleted_configs VALUES ('old-config', '2026-01-05 09:30:00+00', NULL, '{"links":0}');

INSERT INTO ts_escrows VALUES ('emea-to-hq', 's2', 1, '2026-01-05 10:10:00+00', '429 Too Many Requests', '2026-01-05 09:30:00+00');

INSERT INTO ts_jobs VALUES ('emea-to-hq', 'Quarantine', '2026-01-05 09:30:00+00', '2026-01-05 15:30:00+00', 'EncounteredQuarantineException', '2026-01-05 09:30:00+00', 2, '{"code":"Authorization_RequestDenied"}', '2026-01-05 09:30:00+00', '2026-01-04 09:30:00+00', 3, 'EncounteredQuarantineException', '2026-11-30 03:12:28.06056+00');

INSERT INTO ts_links VALUES ('emea-to-hq', 's1', 't1', 'active', 'ann@emea.example', '2026-01-05 09:30:00+00');
INSERT INTO ts_links VALUES ('emea-to-hq', 's2', 't2', 'disabled', 'bob@emea.example', '2026-01-05 09:30:00+00');
INSERT INTO ts_links VALUES ('emea-to-hq', 's3', 't3', 'pending', NULL, '2026-01-05 09:30:00+00');
INSERT INTO ts_links VALUES ('apac-to-hq', 'a1', 'b1', 'active', 'cho@apac.example', '2026-01-05 09:30:00+00');

INSERT INTO ts_memberships VALUES ('emea-to-hq', 'g1', 's2');
INSERT INTO ts_memberships VALUES ('emea-to-hq', 'g1', 's1');
INSERT INTO ts_memberships VALUES ('emea-to-hq', 'g2', 's3');

INSERT INTO ts_notifications VALUES (1, 'emea-to-hq', 'quarantine', 'Quarantine: emea-to-hq', 'body text', 'ops@example.com', '2026-11-30 03:12:28.064937+00');

INSERT INTO ts_pending_references VALUES ('emea-to-hq', 's3', 'manager', 's9', '2026-11-30 03:12:28.057204+00');

INSERT INTO ts_provisioning_log VALUES (1, 'emea-to-hq', 'a01c288f-0072-44f7-a8a1-4d8fcf9c8b00', '2026-01-05 09:30:00+00', 'log-1', 'job-1', 'ch-1', 'create', 'success', NULL, NULL, 's1', 'Ann Élise', 't1', 'Ann Élise', '[{"displayName":"department","oldValue":null,"newValue":"Sales"}]', '[{"name":"EntryImport","status":"success"}]', 120);
INSERT INTO ts_provisioning_log VALUES (2, 'emea-to-hq', 'a01c288f-0072-44f7-a8a1-4d8fcf9c8b00', '2026-01-05 09:30:01+00', 'log-2', NULL, NULL, 'update', 'failure', 'Throttled', '429', 's2', NULL, 't2', NULL, '[]', '[]', NULL);

INSERT INTO ts_reevaluations VALUES ('emea-to-hq', 's1', 'SMS sign-in turned off', '2026-11-30 03:12:28.07044+00');

INSERT INTO ts_reference_escrows VALUES ('emea-to-hq', 's1', 'manager', 1, '2026-01-05 10:10:00+00', 'manager refused', '2026-01-05 09:30:00+00');

INSERT INTO ts_schema_version VALUES (1, '2026-11-30 03:12:28.033616+00');

INSERT INTO ts_setup VALUES ('emea-to-hq', 'anchor_attribute', 'extension_0123_tenantsyncAnchor', '2026-11-30 03:12:28.066777+00');
INSERT INTO ts_setup VALUES ('emea-to-hq', 'anchor_app_id', '0123', '2026-11-30 03:12:28.066777+00');

INSERT INTO ts_snapshots VALUES ('emea-to-hq', 's1', '{"id":"s1","displayName":"Ann Élise","department":"Sales","manager":{"id":"s2"}}');
INSERT INTO ts_snapshots VALUES ('emea-to-hq', 's2', '{"id":"s2","displayName":"Bob","accountEnabled":false}');

INSERT INTO ts_staged_deletions VALUES ('emea-to-hq', 's4', 'a01c288f-0072-44f7-a8a1-4d8fcf9c8b00', 't4', 'delete', 'out of scope', 'Dee', '2026-11-30 03:12:28.062825+00');

INSERT INTO ts_watermarks VALUES ('emea-to-hq', 'users', 'https://graph.microsoft.com/v1.0/users/delta?$deltatoken=u1', '2026-11-30 03:12:28.044603+00');
INSERT INTO ts_watermarks VALUES ('emea-to-hq', 'groups', 'https://graph.microsoft.com/v1.0/groups/delta?$deltatoken=g1', '2026-11-30 03:12:28.044603+00');

SELECT pg_catalog.setval('ts_cycles_seq_seq', 1, true);

SELECT pg_catalog.setval('ts_notifications_seq_seq', 1, true);

SELECT pg_catalog.setval('ts_provisioning_log_seq_seq', 2, true);

ALTER TABLE ONLY ts_config_fingerprints
    ADD CONSTRAINT ts_config_fingerprints_pkey PRIMARY KEY (config, part);

ALTER TABLE ONLY ts_cycles
    ADD CONSTRAINT ts_cycles_cycle_id_key UNIQUE (cycle_id);

ALTER TABLE ONLY ts_cycles
    ADD CONSTRAINT ts_cycles_pkey PRIMARY KEY (seq);

ALTER TABLE ONLY ts_deleted_configs
    ADD CONSTRAINT ts_deleted_configs_pkey PRIMARY KEY (config);

ALTER TABLE ONLY ts_escrows
    ADD CONSTRAINT ts_escrows_pkey PRIMARY KEY (config, source_id);

ALTER TABLE ONLY ts_jobs
    ADD CONSTRAINT ts_jobs_pkey PRIMARY KEY (config);

ALTER TABLE ONLY ts_links
    ADD CONSTRAINT ts_links_pkey PRIMARY KEY (config, source_id);

ALTER TABLE ONLY ts_locks
    ADD CONSTRAINT ts_locks_pkey PRIMARY KEY (config);

ALTER TABLE ONLY ts_memberships
    ADD CONSTRAINT ts_memberships_pkey PRIMARY KEY (config, group_id, member_id);

ALTER TABLE ONLY ts_notifications
    ADD CONSTRAINT ts_notifications_pkey PRIMARY KEY (seq);

ALTER TABLE ONLY ts_pending_references
    ADD CONSTRAINT ts_pending_references_pkey PRIMARY KEY (config, source_id, attribute);

ALTER TABLE ONLY ts_provisioning_log
    ADD CONSTRAINT ts_provisioning_log_pkey PRIMARY KEY (seq);

ALTER TABLE ONLY ts_reevaluations
    ADD CONSTRAINT ts_reevaluations_pkey PRIMARY KEY (config, source_id);

ALTER TABLE ONLY ts_reference_escrows
    ADD CONSTRAINT ts_reference_escrows_pkey PRIMARY KEY (config, source_id, attribute);

ALTER TABLE ONLY ts_schema_version
    ADD CONSTRAINT ts_schema_version_pkey PRIMARY KEY (version);

ALTER TABLE ONLY ts_setup
    ADD CONSTRAINT ts_setup_pkey PRIMARY KEY (config, key);

ALTER TABLE ONLY ts_snapshots
    ADD CONSTRAINT ts_snapshots_pkey PRIMARY KEY (config, object_id);

ALTER TABLE ONLY ts_staged_deletions
    ADD CONSTRAINT ts_staged_deletions_pkey PRIMARY KEY (config, source_id);

ALTER TABLE ONLY ts_watermarks
    ADD CONSTRAINT ts_watermarks_pkey PRIMARY KEY (config, resource);

CREATE INDEX ix_ts_cycles_config ON ts_cycles USING btree (config, seq);

CREATE INDEX ix_ts_links_state ON ts_links USING btree (config, state);

CREATE INDEX ix_ts_notifications_config ON ts_notifications USING btree (config, seq);

CREATE INDEX ix_ts_provisioning_log_cycle ON ts_provisioning_log USING btree (config, cycle_id);

