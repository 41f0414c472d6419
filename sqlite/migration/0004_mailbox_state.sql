-- How far each IMAP mailbox has been read. Not evidence: it only saves
-- fetching again what was already recorded (contacts dedupe by raw SHA-256).
CREATE TABLE mailbox_state (
	server       TEXT NOT NULL,
	username     TEXT NOT NULL,
	mailbox      TEXT NOT NULL,
	uid_validity INTEGER NOT NULL,
	last_uid     INTEGER NOT NULL,
	updated_at   TEXT NOT NULL,
	PRIMARY KEY (server, username, mailbox)
);
