-- leaktrace schema 1. Evidence tables (raw_objects, audit_log, contacts,
-- matches, marks) are append-only: triggers refuse UPDATE and DELETE, except
-- that purge may empty raw bytes and leave the hash as a tombstone.

CREATE TABLE investigations (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	locale     TEXT NOT NULL,
	time_zone  TEXT NOT NULL,
	address    TEXT NOT NULL DEFAULT '',
	secret     BLOB NOT NULL CHECK (length(secret) = 32),
	created_at TEXT NOT NULL
);

CREATE TABLE parties (
	id        INTEGER PRIMARY KEY,
	name      TEXT NOT NULL,
	name_key  TEXT NOT NULL UNIQUE,
	kind      TEXT NOT NULL CHECK (kind IN ('platform','merchant','courier','payment','livestream','broker','software','other','public')),
	parent_id INTEGER REFERENCES parties(id),
	added_at  TEXT NOT NULL
);

-- Sender identities: mail domains, SMS sender IDs and phone numbers.
CREATE TABLE party_senders (
	party_id INTEGER NOT NULL REFERENCES parties(id),
	kind     TEXT NOT NULL CHECK (kind IN ('domain','sender')),
	value    TEXT NOT NULL,
	PRIMARY KEY (kind, value)
);

CREATE TABLE domains (
	name     TEXT PRIMARY KEY,   -- lower-case domain, or the mailbox of a plus-address base
	plus     INTEGER NOT NULL DEFAULT 0,
	added_at TEXT NOT NULL
);

CREATE TABLE phones (
	e164             TEXT PRIMARY KEY,
	provider         TEXT NOT NULL DEFAULT '',
	label            TEXT NOT NULL DEFAULT '',
	imported_at      TEXT NOT NULL,
	quarantine_until TEXT NOT NULL,
	retired_at       TEXT,
	-- The exposure set the number serves, once bound; it never changes.
	bound_to         TEXT
);

CREATE TABLE accounts (
	id               INTEGER PRIMARY KEY,
	investigation_id INTEGER NOT NULL REFERENCES investigations(id),
	ref              TEXT NOT NULL,
	platform_id      INTEGER NOT NULL REFERENCES parties(id),
	created_at       TEXT NOT NULL,
	UNIQUE (investigation_id, ref)
);

CREATE TABLE orders (
	id               INTEGER PRIMARY KEY,
	investigation_id INTEGER NOT NULL REFERENCES investigations(id),
	ref              TEXT NOT NULL,
	account_id       INTEGER NOT NULL REFERENCES accounts(id),
	platform_id      INTEGER NOT NULL REFERENCES parties(id),
	merchant_id      INTEGER REFERENCES parties(id),
	courier_id       INTEGER REFERENCES parties(id),
	outlet_id        INTEGER REFERENCES parties(id),
	payment          TEXT NOT NULL CHECK (payment IN ('prepaid','cod')),
	created_at       TEXT NOT NULL,
	placed_at        TEXT,
	placed_text      TEXT,
	shipped_at       TEXT,
	abandoned_at     TEXT,
	UNIQUE (investigation_id, ref)
);

CREATE TABLE tokens (
	id               INTEGER PRIMARY KEY,
	investigation_id INTEGER NOT NULL REFERENCES investigations(id),
	order_id         INTEGER REFERENCES orders(id),
	account_id       INTEGER REFERENCES accounts(id),
	kind             TEXT NOT NULL CHECK (kind IN ('email','phone','name','address','fact')),
	field            TEXT NOT NULL,
	value            TEXT NOT NULL,
	match_key        TEXT NOT NULL CHECK (match_key <> ''),
	greet_key        TEXT,
	unique_fact      INTEGER NOT NULL DEFAULT 0,
	issued_at        TEXT NOT NULL,
	CHECK ((order_id IS NULL) <> (account_id IS NULL))
);
-- Email, name and address tokens are never shared by two orders: the schema,
-- not only the code, refuses a second token with the same folded key.
CREATE UNIQUE INDEX tokens_unique_key ON tokens(kind, match_key) WHERE kind IN ('email','name','address');
CREATE UNIQUE INDEX tokens_unique_greeting ON tokens(investigation_id, greet_key) WHERE greet_key IS NOT NULL;
CREATE INDEX tokens_order ON tokens(order_id);
CREATE INDEX tokens_account ON tokens(account_id);
CREATE INDEX tokens_key ON tokens(match_key);

CREATE TABLE exposures (
	token_id   INTEGER NOT NULL REFERENCES tokens(id),
	party_id   INTEGER NOT NULL REFERENCES parties(id),
	field      TEXT NOT NULL,
	quality    TEXT NOT NULL CHECK (quality IN ('full','masked','virtual')),
	exposed_at TEXT NOT NULL,
	PRIMARY KEY (token_id, party_id)
);

CREATE TABLE raw_objects (
	sha256    TEXT PRIMARY KEY CHECK (length(sha256) = 64),
	size      INTEGER NOT NULL,
	bytes     BLOB,              -- NULL once purged: the hash stays as a tombstone
	stored_at TEXT NOT NULL,
	purged_at TEXT
);

CREATE TABLE order_attachments (
	order_id    INTEGER NOT NULL REFERENCES orders(id),
	raw_sha256  TEXT NOT NULL REFERENCES raw_objects(sha256),
	what        TEXT NOT NULL CHECK (what IN ('checkout','label','confirmation','chat')),
	file_name   TEXT NOT NULL,
	attached_at TEXT NOT NULL
);

CREATE TABLE contacts (
	id            INTEGER PRIMARY KEY,
	channel       TEXT NOT NULL CHECK (channel IN ('email','sms','call','postal','chat','other')),
	received_at   TEXT NOT NULL,
	received_text TEXT NOT NULL DEFAULT '',
	source        TEXT NOT NULL,
	from_text     TEXT NOT NULL DEFAULT '',
	to_json       TEXT NOT NULL DEFAULT '[]',
	subject       TEXT NOT NULL DEFAULT '',
	raw_sha256    TEXT NOT NULL REFERENCES raw_objects(sha256),
	unissued_json TEXT NOT NULL DEFAULT '[]',
	problems_json TEXT NOT NULL DEFAULT '[]',
	auth_json     TEXT NOT NULL DEFAULT '',
	stored_at     TEXT NOT NULL
);
CREATE INDEX contacts_raw ON contacts(raw_sha256);

CREATE TABLE matches (
	contact_id INTEGER NOT NULL REFERENCES contacts(id),
	token_id   INTEGER NOT NULL REFERENCES tokens(id),
	how        TEXT NOT NULL,
	partial    INTEGER NOT NULL DEFAULT 0,
	excerpt    TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (contact_id, token_id, how)
);
CREATE INDEX matches_token ON matches(token_id);

-- A person's judgement on a contact; the latest one holds.
CREATE TABLE marks (
	id         INTEGER PRIMARY KEY,
	contact_id INTEGER NOT NULL REFERENCES contacts(id),
	mark       TEXT NOT NULL CHECK (mark IN ('first-party','scam','ignore')),
	why        TEXT NOT NULL DEFAULT '',
	marked_at  TEXT NOT NULL
);

CREATE TABLE audit_log (
	chain     TEXT NOT NULL,
	seq       INTEGER NOT NULL,
	at        TEXT NOT NULL,
	action    TEXT NOT NULL,
	subject   TEXT NOT NULL,
	detail    TEXT NOT NULL,
	prev_hash TEXT NOT NULL,
	hash      TEXT NOT NULL,
	PRIMARY KEY (chain, seq)
);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;

CREATE TRIGGER raw_objects_no_delete BEFORE DELETE ON raw_objects
BEGIN SELECT RAISE(ABORT, 'raw evidence is never deleted; purge leaves a tombstone'); END;
CREATE TRIGGER raw_objects_only_purge BEFORE UPDATE ON raw_objects
WHEN NEW.sha256 IS NOT OLD.sha256 OR NEW.size IS NOT OLD.size OR NEW.stored_at IS NOT OLD.stored_at
  OR OLD.purged_at IS NOT NULL OR NEW.purged_at IS NULL OR NEW.bytes IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'raw evidence is never altered; only purge may empty it'); END;

CREATE TRIGGER contacts_no_update BEFORE UPDATE ON contacts
BEGIN SELECT RAISE(ABORT, 'contacts are evidence and never altered'); END;
CREATE TRIGGER contacts_no_delete BEFORE DELETE ON contacts
BEGIN SELECT RAISE(ABORT, 'contacts are evidence and never deleted'); END;
CREATE TRIGGER matches_no_update BEFORE UPDATE ON matches
BEGIN SELECT RAISE(ABORT, 'matches are never altered'); END;
CREATE TRIGGER matches_no_delete BEFORE DELETE ON matches
BEGIN SELECT RAISE(ABORT, 'matches are never deleted'); END;
CREATE TRIGGER marks_no_update BEFORE UPDATE ON marks
BEGIN SELECT RAISE(ABORT, 'marks are appended, never altered'); END;
CREATE TRIGGER marks_no_delete BEFORE DELETE ON marks
BEGIN SELECT RAISE(ABORT, 'marks are appended, never deleted'); END;
CREATE TRIGGER tokens_no_update BEFORE UPDATE ON tokens
BEGIN SELECT RAISE(ABORT, 'issued tokens are never altered'); END;
CREATE TRIGGER tokens_no_delete BEFORE DELETE ON tokens
BEGIN SELECT RAISE(ABORT, 'issued tokens are never deleted'); END;
CREATE TRIGGER exposures_no_update BEFORE UPDATE ON exposures
BEGIN SELECT RAISE(ABORT, 'recorded exposures are never altered'); END;
CREATE TRIGGER exposures_no_delete BEFORE DELETE ON exposures
BEGIN SELECT RAISE(ABORT, 'recorded exposures are never deleted'); END;
