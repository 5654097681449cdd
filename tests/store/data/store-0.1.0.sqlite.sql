-- A SQLite state store written by tenantsync 0.1.0 (commit 967aa94), the last release with the
-- hand-rolled ts_schema_version table (version 1) instead of Alembic: Store(url), rows added
-- through the Store API (two configurations, every table, a lock taken and released), then
-- `sqlite3 store.db .dump`. tests/store/test_migrations.py loads it and opens it with this code.
-- Do not regenerate with a newer tenantsync: its point is to be what the old release wrote.
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE ts_schema_version (
	version INTEGER NOT NULL, 
	applied DATETIME NOT NULL, 
	PRIMARY KEY (version)
);
INSERT INTO ts_schema_version VALUES(1,'2026-11-30 03:12:25.449628');
CREATE TABLE ts_links (
	config VARCHAR NOT NULL, 
	source_id VARCHAR NOT NULL, 
	target_id VARCHAR NOT NULL, 
	state VARCHAR NOT NULL, 
	source_upn VARCHAR, 
	updated DATETIME NOT NULL, 
	PRIMARY KEY (config, source_id)
);
INSERT INTO ts_links VALUES('emea-to-hq','s1','t1','active','ann@emea.example','2026-01-05 09:30:00');
INSERT INTO ts_links VALUES('emea-to-hq','s2','t2','disabled','bob@emea.example','2026-01-05 09:30:00');
INSERT INTO ts_links VALUES('emea-to-hq','s3','t3','pending',NULL,'2026-01-05 09:30:00');
INSERT INTO ts_links VALUES('apac-to-hq','a1','b1','active','cho@apac.example','2026-01-05 09:30:00');
CREATE TABLE ts_snapshots (
	config VARCHAR NOT NULL, 
	object_id VARCHAR NOT NULL, 
	data JSON NOT NULL, 
	PRIMARY KEY (config, object_id)
);
INSERT INTO ts_snapshots VALUES('emea-to-hq','s1','{"id":"s1","displayName":"Ann Élise","department":"Sales","manager":{"id":"s2"}}');
INSERT INTO ts_snapshots VALUES('emea-to-hq','s2','{"id":"s2","displayName":"Bob","accountEnabled":false}');
CREATE TABLE ts_memberships (
	config VARCHAR NOT NULL, 
	group_id VARCHAR NOT NULL, 
	member_id VARCHAR NOT NULL, 
	PRIMARY KEY (config, group_id, member_id)
);
INSERT INTO ts_memberships VALUES('emea-to-hq','g1','s2');
INSERT INTO ts_memberships VALUES('emea-to-hq','g1','s1');
INSERT INTO ts_memberships VALUES('emea-to-hq','g2','s3');
CREATE TABLE ts_watermarks (
	config VARCHAR NOT NULL, 
	resource VARCHAR NOT NULL, 
	delta_link TEXT NOT NULL, 
	saved DATETIME NOT NULL, 
	PRIMARY KEY (config, resource)
);
INSERT INTO ts_watermarks VALUES('emea-to-hq','users','https://graph.microsoft.com/v1.0/users/delta?$deltatoken=u1','2026-11-30 03:12:25.452997');
INSERT INTO ts_watermarks VALUES('emea-to-hq','groups','https://graph.microsoft.com/v1.0/groups/delta?$deltatoken=g1','2026-11-30 03:12:25.452997');
CREATE TABLE ts_jobs (
	config VARCHAR NOT NULL, 
	code VARCHAR NOT NULL, 
	quarantine_current_began DATETIME, 
	quarantine_next_attempt DATETIME, 
	quarantine_reason VARCHAR, 
	quarantine_series_began DATETIME, 
	quarantine_series_count INTEGER, 
	quarantine_error JSON, 
	last_execution DATETIME, 
	last_successful_execution DATETIME, 
	count_successive_complete_failures INTEGER NOT NULL, 
	notified_reason VARCHAR, 
	updated DATETIME NOT NULL, 
	PRIMARY KEY (config)
);
INSERT INTO ts_jobs VALUES('emea-to-hq','Quarantine','2026-01-05 09:30:00','2026-01-05 15:30:00','EncounteredQuarantineException','2026-01-05 09:30:00',2,'{"code":"Authorization_RequestDenied"}','2026-01-05 09:30:00','2026-01-04 09:30:00',3,'EncounteredQuarantineException','2026-11-30 03:12:25.459282');
CREATE TABLE ts_cycles (
	seq INTEGER NOT NULL, 
	config VARCHAR NOT NULL, 
	cycle_id VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	dry_run BOOLEAN NOT NULL, 
	started DATETIME NOT NULL, 
	ended DATETIME, 
	status VARCHAR NOT NULL, 
	counts JSON, 
	job_status VARCHAR, 
	quarantine_reason VARCHAR, 
	quarantine_next_attempt DATETIME, 
	quarantine_series_count INTEGER, 
	error TEXT, 
	PRIMARY KEY (seq), 
	UNIQUE (cycle_id)
);
INSERT INTO ts_cycles VALUES(1,'emea-to-hq','98808516-4d3e-4ced-96a9-1ba8dba221d8','initial',0,'2026-11-30 03:12:25.453334','2026-11-30 03:12:25.458457','failure','{"create":1,"update":1,"success":1,"failure":1}','Quarantine','EncounteredQuarantineException','2026-01-05 15:30:00.000000',2,'quarantined');
CREATE TABLE ts_provisioning_log (
	seq INTEGER NOT NULL, 
	config VARCHAR NOT NULL, 
	cycle_id VARCHAR, 
	activity_date_time DATETIME NOT NULL, 
	log_id VARCHAR NOT NULL, 
	job_id VARCHAR, 
	change_id VARCHAR, 
	provisioning_action VARCHAR, 
	status VARCHAR, 
	error_code VARCHAR, 
	reason TEXT, 
	source_id VARCHAR, 
	source_display_name VARCHAR, 
	target_id VARCHAR, 
	target_display_name VARCHAR, 
	modified_properties JSON NOT NULL, 
	provisioning_steps JSON NOT NULL, 
	duration_ms INTEGER, 
	PRIMARY KEY (seq)
);
INSERT INTO ts_provisioning_log VALUES(1,'emea-to-hq','98808516-4d3e-4ced-96a9-1ba8dba221d8','2026-01-05 09:30:00','log-1','job-1','ch-1','create','success',NULL,NULL,'s1','Ann Élise','t1','Ann Élise','[{"displayName":"department","oldValue":null,"newValue":"Sales"}]','[{"name":"EntryImport","status":"success"}]',120);
INSERT INTO ts_provisioning_log VALUES(2,'emea-to-hq','98808516-4d3e-4ced-96a9-1ba8dba221d8','2026-01-05 09:30:01','log-2',NULL,NULL,'update','failure','Throttled','429','s2',NULL,'t2',NULL,'[]','[]',NULL);
CREATE TABLE ts_escrows (
	config VARCHAR NOT NULL, 
	source_id VARCHAR NOT NULL, 
	failures INTEGER NOT NULL, 
	next_retry DATETIME NOT NULL, 
	last_error TEXT, 
	updated DATETIME NOT NULL, 
	PRIMARY KEY (config, source_id)
);
INSERT INTO ts_escrows VALUES('emea-to-hq','s2',1,'2026-01-05 10:10:00','429 Too Many Requests','2026-01-05 09:30:00');
CREATE TABLE ts_staged_deletions (
	config VARCHAR NOT NULL, 
	source_id VARCHAR NOT NULL, 
	cycle_id VARCHAR NOT NULL, 
	target_id VARCHAR, 
	action VARCHAR NOT NULL, 
	reason TEXT, 
	display_name VARCHAR, 
	staged DATETIME NOT NULL, 
	PRIMARY KEY (config, source_id)
);
INSERT INTO ts_staged_deletions VALUES('emea-to-hq','s4','98808516-4d3e-4ced-96a9-1ba8dba221d8','t4','delete','out of scope','Dee','2026-11-30 03:12:25.459516');
CREATE TABLE ts_notifications (
	seq INTEGER NOT NULL, 
	config VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	subject TEXT NOT NULL, 
	body TEXT NOT NULL, 
	recipient VARCHAR, 
	sent DATETIME NOT NULL, 
	PRIMARY KEY (seq)
);
INSERT INTO ts_notifications VALUES(1,'emea-to-hq','quarantine','Quarantine: emea-to-hq','body text','ops@example.com','2026-11-30 03:12:25.459801');
CREATE TABLE ts_setup (
	config VARCHAR NOT NULL, 
	"key" VARCHAR NOT NULL, 
	value TEXT NOT NULL, 
	updated DATETIME NOT NULL, 
	PRIMARY KEY (config, "key")
);
INSERT INTO ts_setup VALUES('emea-to-hq','anchor_attribute','extension_0123_tenantsyncAnchor','2026-11-30 03:12:25.460429');
INSERT INTO ts_setup VALUES('emea-to-hq','anchor_app_id','0123','2026-11-30 03:12:25.460429');
CREATE TABLE ts_reference_escrows (
	config VARCHAR NOT NULL, 
	source_id VARCHAR NOT NULL, 
	attribute VARCHAR NOT NULL, 
	failures INTEGER NOT NULL, 
	next_retry DATETIME NOT NULL, 
	last_error TEXT, 
	updated DATETIME NOT NULL, 
	PRIMARY KEY (config, source_id, attribute)
);
INSERT INTO ts_reference_escrows VALUES('emea-to-hq','s1','manager',1,'2026-01-05 10:10:00','manager refused','2026-01-05 09:30:00');
CREATE TABLE ts_config_fingerprints (
	config VARCHAR NOT NULL, 
	part VARCHAR NOT NULL, 
	digest VARCHAR NOT NULL, 
	cycle_id VARCHAR, 
	recorded DATETIME NOT NULL, 
	PRIMARY KEY (config, part)
);
INSERT INTO ts_config_fingerprints VALUES('emea-to-hq','scope filters','f1','98808516-4d3e-4ced-96a9-1ba8dba221d8','2026-11-30 03:12:25.460633');
INSERT INTO ts_config_fingerprints VALUES('emea-to-hq','attribute mappings','m1','98808516-4d3e-4ced-96a9-1ba8dba221d8','2026-11-30 03:12:25.460633');
CREATE TABLE ts_reevaluations (
	config VARCHAR NOT NULL, 
	source_id VARCHAR NOT NULL, 
	reason TEXT NOT NULL, 
	requested DATETIME NOT NULL, 
	PRIMARY KEY (config, source_id)
);
INSERT INTO ts_reevaluations VALUES('emea-to-hq','s1','SMS sign-in turned off','2026-11-30 03:12:25.461150');
CREATE TABLE ts_deleted_configs (
	config VARCHAR NOT NULL, 
	deleted DATETIME NOT NULL, 
	archive TEXT, 
	details JSON, 
	PRIMARY KEY (config)
);
INSERT INTO ts_deleted_configs VALUES('old-config','2026-01-05 09:30:00.000000',NULL,'{"links":0}');
CREATE TABLE ts_pending_references (
	config VARCHAR NOT NULL, 
	source_id VARCHAR NOT NULL, 
	attribute VARCHAR NOT NULL, 
	reference_id VARCHAR NOT NULL, 
	updated DATETIME NOT NULL, 
	PRIMARY KEY (config, source_id, attribute)
);
INSERT INTO ts_pending_references VALUES('emea-to-hq','s3','manager','s9','2026-11-30 03:12:25.458056');
CREATE TABLE ts_locks (
	config VARCHAR NOT NULL, 
	holder VARCHAR NOT NULL, 
	host VARCHAR NOT NULL, 
	pid VARCHAR NOT NULL, 
	what VARCHAR NOT NULL, 
	acquired DATETIME NOT NULL, 
	expires DATETIME NOT NULL, 
	PRIMARY KEY (config)
);
CREATE INDEX ix_ts_links_state ON ts_links (config, state);
CREATE INDEX ix_ts_cycles_config ON ts_cycles (config, seq);
CREATE INDEX ix_ts_provisioning_log_cycle ON ts_provisioning_log (config, cycle_id);
CREATE INDEX ix_ts_notifications_config ON ts_notifications (config, seq);
COMMIT;
