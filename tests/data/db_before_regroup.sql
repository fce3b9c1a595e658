PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO alembic_version VALUES('0016');
CREATE TABLE contact_lists (
	id INTEGER NOT NULL, 
	name VARCHAR(128) NOT NULL, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_contact_lists PRIMARY KEY (id), 
	CONSTRAINT uq_contact_lists_name UNIQUE (name)
);
CREATE TABLE contacts (
	id INTEGER NOT NULL, 
	phone VARCHAR(20) NOT NULL, 
	line_type VARCHAR(24) NOT NULL, 
	area VARCHAR(16), 
	district TEXT, 
	name TEXT, 
	tags TEXT, 
	CONSTRAINT pk_contacts PRIMARY KEY (id), 
	CONSTRAINT uq_contacts_phone UNIQUE (phone)
);
CREATE TABLE optouts (
	channel VARCHAR(32) NOT NULL, 
	address VARCHAR(128) NOT NULL, 
	source VARCHAR(32) NOT NULL, 
	reason TEXT, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_optouts PRIMARY KEY (channel, address)
);
CREATE TABLE campaign_versions (
	id INTEGER NOT NULL, 
	campaign_id VARCHAR(64) NOT NULL, 
	version INTEGER NOT NULL, 
	content_hash VARCHAR(64) NOT NULL, 
	source_path TEXT NOT NULL, 
	source_text TEXT NOT NULL, 
	definition TEXT NOT NULL, 
	created_at DATETIME NOT NULL, approved_by TEXT, approved_at DATETIME, 
	CONSTRAINT pk_campaign_versions PRIMARY KEY (id), 
	CONSTRAINT fk_campaign_versions_campaign_id_campaigns FOREIGN KEY(campaign_id) REFERENCES campaigns (id), 
	CONSTRAINT uq_campaign_versions_campaign_id_version UNIQUE (campaign_id, version)
);
INSERT INTO campaign_versions VALUES(1,'weekdays',1,'3a6b8a9d81d933828375b6c63a7258e941825baf21a7d5bb0121357a9710cf0a','campaign.toml',replace('id = "weekdays"\ntitle = "Drive"\nowner = "Publicity"\ntimezone = "Asia/Shanghai"\n[schedule]\nstart = 2026-12-06T16:00:00+08:00\nmisfire = "run-late"\nend = 2036-01-01T08:00:00+08:00\ncron = "0 9 * * 1-5"\n[[placements]]\nchannel = "sms"\naudience = { lists = ["residents"] }\nbody = "Report gang crime: call 110."\n','\n',char(10)),'{"id": "weekdays", "title": "Drive", "owner": "Publicity", "timezone": "Asia/Shanghai", "description": null, "schedule": {"start": "2026-12-06T16:00:00+08:00", "end": "2036-01-01T08:00:00+08:00", "cron": "0 9 * * 1-5", "send_window": null, "misfire": "run-late"}, "placements": [{"channel": "sms", "audience": {"lists": ["residents"]}, "body": "Report gang crime: call 110."}]}','2026-12-07 22:24:11.305546','approver','2026-12-07 22:24:11.312051');
INSERT INTO campaign_versions VALUES(2,'once',1,'7fe5008da5c7e0b699ad304bcbeb2824a39ff865a029f92a5882eb73be6043ae','campaign.toml',replace('id = "once"\ntitle = "Drive"\nowner = "Publicity"\ntimezone = "Asia/Shanghai"\n[schedule]\nstart = 2036-01-01T09:00:00+08:00\nmisfire = "run-late"\n[[placements]]\nchannel = "sms"\naudience = { lists = ["residents"] }\nbody = "Report gang crime: call 110."\n','\n',char(10)),'{"id": "once", "title": "Drive", "owner": "Publicity", "timezone": "Asia/Shanghai", "description": null, "schedule": {"start": "2036-01-01T09:00:00+08:00", "end": null, "cron": null, "send_window": null, "misfire": "run-late"}, "placements": [{"channel": "sms", "audience": {"lists": ["residents"]}, "body": "Report gang crime: call 110."}]}','2026-12-07 22:24:11.314246','approver','2026-12-07 22:24:11.316182');
CREATE TABLE list_members (
	list_id INTEGER NOT NULL, 
	contact_id INTEGER NOT NULL, 
	CONSTRAINT pk_list_members PRIMARY KEY (list_id, contact_id), 
	CONSTRAINT fk_list_members_contact_id_contacts FOREIGN KEY(contact_id) REFERENCES contacts (id), 
	CONSTRAINT fk_list_members_list_id_contact_lists FOREIGN KEY(list_id) REFERENCES contact_lists (id)
);
CREATE TABLE runs (
	id INTEGER NOT NULL, 
	campaign_id VARCHAR(64) NOT NULL, 
	version INTEGER NOT NULL, 
	fire_time DATETIME NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	created_at DATETIME NOT NULL, 
	planned_at DATETIME, completed_at DATETIME, 
	CONSTRAINT pk_runs PRIMARY KEY (id), 
	CONSTRAINT fk_runs_campaign_id_campaigns FOREIGN KEY(campaign_id) REFERENCES campaigns (id), 
	CONSTRAINT uq_runs_campaign_id_fire_time UNIQUE (campaign_id, fire_time)
);
CREATE TABLE deliveries (
	id INTEGER NOT NULL, 
	run_id INTEGER NOT NULL, 
	channel VARCHAR(32) NOT NULL, 
	placement SMALLINT NOT NULL, 
	target VARCHAR(128) NOT NULL, 
	occurrence SMALLINT NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	reason VARCHAR(16), 
	detail TEXT, 
	contact_id INTEGER, 
	provider_ref VARCHAR(64), 
	error_code VARCHAR(32), 
	attempts SMALLINT DEFAULT '0' NOT NULL, 
	updated_at DATETIME NOT NULL, units SMALLINT, attempt_started_at DATETIME, lease_until DATETIME, next_attempt_at DATETIME, provider_data VARCHAR(64), 
	CONSTRAINT pk_deliveries PRIMARY KEY (id), 
	CONSTRAINT ck_deliveries_only_duplicates_repeat CHECK (occurrence = 1 OR reason = 'duplicate'), 
	CONSTRAINT fk_deliveries_run_id_runs FOREIGN KEY(run_id) REFERENCES runs (id), 
	CONSTRAINT uq_deliveries_run_id_channel_target_occurrence UNIQUE (run_id, channel, target, occurrence)
);
CREATE TABLE delivery_events (
	id INTEGER NOT NULL, 
	delivery_id INTEGER, 
	run_id INTEGER, 
	at DATETIME NOT NULL, 
	actor VARCHAR(32) NOT NULL, 
	event VARCHAR(32) NOT NULL, 
	detail TEXT, 
	CONSTRAINT pk_delivery_events PRIMARY KEY (id), 
	CONSTRAINT fk_delivery_events_run_id_runs FOREIGN KEY(run_id) REFERENCES runs (id)
);
CREATE TABLE audit_log (
	id INTEGER NOT NULL, 
	at DATETIME NOT NULL, 
	actor TEXT NOT NULL, 
	action VARCHAR(32) NOT NULL, 
	campaign_id VARCHAR(64) NOT NULL, 
	version INTEGER, 
	detail TEXT, 
	CONSTRAINT pk_audit_log PRIMARY KEY (id), 
	CONSTRAINT fk_audit_log_campaign_id_campaigns FOREIGN KEY(campaign_id) REFERENCES campaigns (id)
);
INSERT INTO audit_log VALUES(1,'2026-12-07 22:24:11.308573','planner','apply','weekdays',1,'stored from campaign.toml');
INSERT INTO audit_log VALUES(2,'2026-12-07 22:24:11.313101','approver','approve','weekdays',1,NULL);
INSERT INTO audit_log VALUES(3,'2026-12-07 22:24:11.314917','planner','apply','once',1,'stored from campaign.toml');
INSERT INTO audit_log VALUES(4,'2026-12-07 22:24:11.316502','approver','approve','once',1,NULL);
CREATE TABLE IF NOT EXISTS "campaigns" (
	id VARCHAR(64) NOT NULL, 
	title TEXT NOT NULL, 
	owner TEXT NOT NULL, 
	current_version INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	keep_approved BOOLEAN DEFAULT 0 NOT NULL, 
	CONSTRAINT pk_campaigns PRIMARY KEY (id)
);
INSERT INTO campaigns VALUES('weekdays','Drive','Publicity',1,'2026-12-07 22:24:11.305546','2026-12-07 22:24:11.305546',0);
INSERT INTO campaigns VALUES('once','Drive','Publicity',1,'2026-12-07 22:24:11.314246','2026-12-07 22:24:11.314246',0);
CREATE TABLE provider_reports (
	id INTEGER NOT NULL, 
	delivery_id INTEGER NOT NULL, 
	metric VARCHAR(32) NOT NULL, 
	period VARCHAR(10) NOT NULL, 
	value BIGINT NOT NULL, 
	updated_at DATETIME NOT NULL, 
	CONSTRAINT pk_provider_reports PRIMARY KEY (id), 
	CONSTRAINT fk_provider_reports_delivery_id_deliveries FOREIGN KEY(delivery_id) REFERENCES deliveries (id), 
	CONSTRAINT uq_provider_reports_delivery_id_metric_period UNIQUE (delivery_id, metric, period)
);
CREATE TABLE screen_groups (
	name VARCHAR(64) NOT NULL, 
	rule TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_screen_groups PRIMARY KEY (name)
);
CREATE TABLE screens (
	id VARCHAR(64) NOT NULL, 
	name TEXT NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	district TEXT, 
	area VARCHAR(16), 
	address TEXT, 
	latitude FLOAT, 
	longitude FLOAT, 
	width INTEGER NOT NULL, 
	height INTEGER NOT NULL, 
	formats TEXT NOT NULL, 
	timezone VARCHAR(64) NOT NULL, 
	audience_per_play INTEGER NOT NULL, 
	audience_source TEXT NOT NULL, 
	controller VARCHAR(8) NOT NULL, 
	endpoint TEXT, 
	tags TEXT DEFAULT '' NOT NULL, 
	token_version INTEGER DEFAULT '1' NOT NULL, 
	updated_at DATETIME NOT NULL, 
	CONSTRAINT pk_screens PRIMARY KEY (id)
);
CREATE TABLE plays (
	id INTEGER NOT NULL, 
	screen_id VARCHAR(64) NOT NULL, 
	delivery_id INTEGER NOT NULL, 
	started_at DATETIME NOT NULL, 
	ended_at DATETIME NOT NULL, 
	count INTEGER NOT NULL, 
	batch VARCHAR(64) NOT NULL, 
	received_at DATETIME NOT NULL, 
	CONSTRAINT pk_plays PRIMARY KEY (id), 
	CONSTRAINT fk_plays_delivery_id_deliveries FOREIGN KEY(delivery_id) REFERENCES deliveries (id), 
	CONSTRAINT uq_plays_screen_id_delivery_id_started_at UNIQUE (screen_id, delivery_id, started_at)
);
CREATE TABLE cinemas (
	id VARCHAR(64) NOT NULL, 
	name TEXT NOT NULL, 
	district TEXT, 
	address TEXT, 
	system VARCHAR(64) NOT NULL, 
	timezone VARCHAR(64) NOT NULL, 
	preshow TEXT NOT NULL, 
	updated_at DATETIME NOT NULL, token_version INTEGER DEFAULT '0' NOT NULL, 
	CONSTRAINT pk_cinemas PRIMARY KEY (id)
);
CREATE TABLE auditoriums (
	cinema_id VARCHAR(64) NOT NULL, 
	id VARCHAR(64) NOT NULL, 
	name TEXT NOT NULL, 
	seats INTEGER NOT NULL, 
	CONSTRAINT pk_auditoriums PRIMARY KEY (cinema_id, id), 
	CONSTRAINT fk_auditoriums_cinema_id_cinemas FOREIGN KEY(cinema_id) REFERENCES cinemas (id)
);
CREATE TABLE screenings (
	id VARCHAR(96) NOT NULL, 
	cinema_id VARCHAR(64) NOT NULL, 
	auditorium_id VARCHAR(64) NOT NULL, 
	film TEXT NOT NULL, 
	rating VARCHAR(16) NOT NULL, 
	starts_at DATETIME NOT NULL, 
	expected_seats INTEGER NOT NULL, 
	sold_seats INTEGER, 
	status VARCHAR(16) NOT NULL, 
	admissions INTEGER, 
	updated_at DATETIME NOT NULL, 
	CONSTRAINT pk_screenings PRIMARY KEY (id), 
	CONSTRAINT fk_screenings_cinema_id_cinemas FOREIGN KEY(cinema_id) REFERENCES cinemas (id)
);
CREATE TABLE users (
	name VARCHAR(64) NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	password_hash TEXT NOT NULL, 
	disabled BOOLEAN DEFAULT 0 NOT NULL, 
	created_at DATETIME NOT NULL, session_version INTEGER DEFAULT '0' NOT NULL, disabled_at DATETIME, disabled_by TEXT, locale VARCHAR(8), display_name VARCHAR(64), department VARCHAR(64), 
	CONSTRAINT pk_users PRIMARY KEY (name)
);
CREATE TABLE api_tokens (
	id INTEGER NOT NULL, 
	user_name VARCHAR(64) NOT NULL, 
	token_hash VARCHAR(64) NOT NULL, 
	label TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	last_used_at DATETIME, prefix VARCHAR(16), revoked_at DATETIME, revoked_by TEXT, 
	CONSTRAINT pk_api_tokens PRIMARY KEY (id), 
	CONSTRAINT fk_api_tokens_user_name_users FOREIGN KEY(user_name) REFERENCES users (name), 
	CONSTRAINT uq_api_tokens_token_hash UNIQUE (token_hash)
);
CREATE TABLE manual_reach (
	id INTEGER NOT NULL, 
	campaign_id VARCHAR(64) NOT NULL, 
	channel VARCHAR(32) NOT NULL, 
	metric VARCHAR(32) NOT NULL, 
	value BIGINT NOT NULL, 
	district TEXT, 
	area VARCHAR(16), 
	note TEXT, 
	entered_by TEXT NOT NULL, 
	entered_at DATETIME NOT NULL, 
	CONSTRAINT pk_manual_reach PRIMARY KEY (id), 
	CONSTRAINT fk_manual_reach_campaign_id_campaigns FOREIGN KEY(campaign_id) REFERENCES campaigns (id)
);
CREATE TABLE send_tasks (
	id INTEGER NOT NULL, 
	run_id INTEGER NOT NULL, 
	channel VARCHAR(32) NOT NULL, 
	first_id INTEGER NOT NULL, 
	last_id INTEGER NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	due_at DATETIME, 
	enqueued_at DATETIME, 
	enqueued INTEGER DEFAULT '0' NOT NULL, 
	worker VARCHAR(128), 
	started_at DATETIME, 
	heartbeat_at DATETIME, 
	finished_at DATETIME, 
	sent INTEGER DEFAULT '0' NOT NULL, 
	CONSTRAINT pk_send_tasks PRIMARY KEY (id), 
	CONSTRAINT fk_send_tasks_run_id_runs FOREIGN KEY(run_id) REFERENCES runs (id), 
	CONSTRAINT uq_send_tasks_run_id_channel_first_id UNIQUE (run_id, channel, first_id)
);
CREATE TABLE refused_reports (
	id INTEGER NOT NULL, 
	channel VARCHAR(32) NOT NULL, 
	venue TEXT NOT NULL, 
	delivery_id INTEGER, 
	reason VARCHAR(32) NOT NULL, 
	detail TEXT NOT NULL, 
	received_at DATETIME NOT NULL, 
	fingerprint VARCHAR(64) NOT NULL, 
	CONSTRAINT pk_refused_reports PRIMARY KEY (id), 
	CONSTRAINT uq_refused_reports_fingerprint UNIQUE (fingerprint)
);
CREATE TABLE seen_nonces (
	channel VARCHAR(32) NOT NULL, 
	nonce VARCHAR(64) NOT NULL, 
	seen_at DATETIME NOT NULL, 
	CONSTRAINT pk_seen_nonces PRIMARY KEY (channel, nonce)
);
CREATE TABLE review_approvals (
	id INTEGER NOT NULL, 
	campaign_id VARCHAR(64) NOT NULL, 
	version INTEGER NOT NULL, 
	stage VARCHAR(64) NOT NULL, 
	position SMALLINT NOT NULL, 
	approved_by TEXT NOT NULL, 
	approved_at DATETIME NOT NULL, 
	CONSTRAINT pk_review_approvals PRIMARY KEY (id), 
	CONSTRAINT fk_review_approvals_campaign_id_campaigns FOREIGN KEY(campaign_id) REFERENCES campaigns (id), 
	CONSTRAINT uq_review_approvals_campaign_id_version_stage UNIQUE (campaign_id, version, stage), 
	CONSTRAINT uq_review_approvals_campaign_id_version_approved_by UNIQUE (campaign_id, version, approved_by)
);
INSERT INTO review_approvals VALUES(1,'weekdays',1,'approval',1,'approver','2026-12-07 22:24:11.312051');
INSERT INTO review_approvals VALUES(2,'once',1,'approval',1,'approver','2026-12-07 22:24:11.316182');
CREATE TABLE apscheduler_jobs (
	id VARCHAR(191) NOT NULL, 
	next_run_time FLOAT, 
	job_state BLOB NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO apscheduler_jobs VALUES('once',2082762000.0,X'800595ba010000000000007d94288c0776657273696f6e944b018c026964948c046f6e6365948c0466756e63948c19646973706174636865722e7363686564756c65723a66697265948c0774726967676572948c1961707363686564756c65722e74726967676572732e64617465948c0b44617465547269676765729493942981947d942868014b018c0872756e5f64617465948c086461746574696d65948c086461746574696d65949394430a07f40101090000000000948c086275696c74696e73948c07676574617474729493948c087a6f6e65696e666f948c085a6f6e65496e666f9493948c095f756e7069636b6c6594869452948c0d417369612f5368616e67686169944b01869452948694529475628c086578656375746f72948c0764656661756c74948c04617267739468038c19323033362d30312d30315430393a30303a30302b30383a30309486948c066b7761726773947d948c046e616d65948c146f6e636520763120303835653862626534303637948c126d6973666972655f67726163655f74696d65944a803a09008c08636f616c6573636594888c0d6d61785f696e7374616e636573944b018c0d6e6578745f72756e5f74696d6594681e752e');
INSERT INTO apscheduler_jobs VALUES('weekdays',1796691600.0,X'800595bf040000000000007d94288c0776657273696f6e944b018c026964948c087765656b64617973948c0466756e63948c19646973706174636865722e7363686564756c65723a66697265948c0774726967676572948c1961707363686564756c65722e74726967676572732e63726f6e948c0b43726f6e547269676765729493942981947d942868014b028c0874696d657a6f6e65948c086275696c74696e73948c07676574617474729493948c087a6f6e65696e666f948c085a6f6e65496e666f9493948c095f756e7069636b6c6594869452948c0d417369612f5368616e67686169944b01869452948c0a73746172745f64617465948c086461746574696d65948c086461746574696d65949394430a07ea0c06100000000000946818869452948c08656e645f6461746594681c430a07f40101080000000000946818869452948c066669656c6473945d94288c2061707363686564756c65722e74726967676572732e63726f6e2e6669656c6473948c09426173654669656c649493942981947d94288c046e616d65948c0479656172948c0a69735f64656661756c7494888c0b65787072657373696f6e73945d948c2561707363686564756c65722e74726967676572732e63726f6e2e65787072657373696f6e73948c0d416c6c45787072657373696f6e9493942981947d948c0473746570944e736261756268268c0a4d6f6e74684669656c649493942981947d9428682b8c056d6f6e746894682d89682e5d9468322981947d9468354e736261756268268c0f4461794f664d6f6e74684669656c649493942981947d9428682b8c0364617994682d89682e5d9468322981947d9468354e736261756268268c095765656b4669656c649493942981947d9428682b8c047765656b94682d88682e5d9468322981947d9468354e736261756268268c0e4461794f665765656b4669656c649493942981947d9428682b8c0b6461795f6f665f7765656b94682d89682e5d942868308c165765656b64617952616e676545787072657373696f6e9493942981947d942868354e8c056669727374944b008c046c617374944b00756268552981947d942868354e68584b0168594b01756268552981947d942868354e68584b0268594b02756268552981947d942868354e68584b0368594b03756268552981947d942868354e68584b0468594b04756265756268282981947d9428682b8c04686f757294682d89682e5d9468308c0f52616e676545787072657373696f6e9493942981947d942868354e68584b0968594b09756261756268282981947d9428682b8c066d696e75746594682d89682e5d9468672981947d942868354e68584b0068594b00756261756268282981947d9428682b8c067365636f6e6494682d88682e5d9468672981947d942868354e68584b0068594b007562617562658c066a6974746572944e75628c086578656375746f72948c0764656661756c74948c04617267739468038c009486948c066b7761726773947d94682b8c187765656b6461797320763120386134663962383032663338948c126d6973666972655f67726163655f74696d65944a00490f118c08636f616c6573636594888c0d6d61785f696e7374616e636573944b018c0d6e6578745f72756e5f74696d6594681c430a07ea0c0809000000000094681886945294752e');
CREATE INDEX ix_list_members_contact_id_list_id ON list_members (contact_id, list_id);
CREATE INDEX ix_deliveries_run_id_channel_placement_status_reason ON deliveries (run_id, channel, placement, status, reason);
CREATE INDEX ix_deliveries_updated_at_id ON deliveries (updated_at, id);
CREATE INDEX ix_delivery_events_delivery_id ON delivery_events (delivery_id);
CREATE INDEX ix_deliveries_provider_ref ON deliveries (provider_ref);
CREATE INDEX ix_deliveries_run_id_status ON deliveries (run_id, status);
CREATE INDEX ix_audit_log_campaign_id_id ON audit_log (campaign_id, id);
CREATE INDEX ix_plays_delivery_id_started_at ON plays (delivery_id, started_at);
CREATE INDEX ix_screenings_cinema_id_starts_at ON screenings (cinema_id, starts_at);
CREATE INDEX ix_deliveries_target_updated_at_id ON deliveries (target, updated_at, id);
CREATE INDEX ix_deliveries_run_id_updated_at_id ON deliveries (run_id, updated_at, id);
CREATE INDEX ix_manual_reach_campaign_id_channel ON manual_reach (campaign_id, channel);
CREATE INDEX ix_send_tasks_state_due_at ON send_tasks (state, due_at);
CREATE INDEX ix_refused_reports_channel_received_at ON refused_reports (channel, received_at);
CREATE INDEX ix_seen_nonces_seen_at ON seen_nonces (seen_at);
CREATE INDEX ix_contacts_name ON contacts (name);
CREATE INDEX ix_apscheduler_jobs_next_run_time ON apscheduler_jobs (next_run_time);
COMMIT;
