-- Idempotency keys of contacts delivered by webhooks (Twilio's MessageSid,
-- CallSid): a provider's retry of a delivery already recorded is the same
-- contact, even when the retried request's headers differ.
CREATE TABLE contact_keys (
	key        TEXT PRIMARY KEY,
	contact_id INTEGER NOT NULL REFERENCES contacts(id),
	added_at   TEXT NOT NULL
);

CREATE TRIGGER contact_keys_no_update BEFORE UPDATE ON contact_keys
BEGIN SELECT RAISE(ABORT, 'contact keys are never altered'); END;
CREATE TRIGGER contact_keys_no_delete BEFORE DELETE ON contact_keys
BEGIN SELECT RAISE(ABORT, 'contact keys are never deleted'); END;
