-- Domains a mail was authenticated for at receipt (DKIM pass, or SPF pass
-- aligned with the From domain). They decide first-party status.
ALTER TABLE contacts ADD COLUMN auth_domains_json TEXT NOT NULL DEFAULT '[]';
