-- A party's domains and sender IDs decide which mail is first-party: like
-- the other evidence, they are appended, never altered.
CREATE TRIGGER party_senders_no_update BEFORE UPDATE ON party_senders
BEGIN SELECT RAISE(ABORT, 'a party''s sender identities are never altered'); END;
CREATE TRIGGER party_senders_no_delete BEFORE DELETE ON party_senders
BEGIN SELECT RAISE(ABORT, 'a party''s sender identities are never deleted'); END;
