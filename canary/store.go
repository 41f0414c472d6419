package canary

import "context"

// Universe is everything matching needs to know: what was issued, to whom,
// and which domains and numbers are canaries.
type Universe struct {
	Investigations []Investigation
	Parties        []Party
	Tokens         []Token
	Domains        []Domain
	Pool           []Phone
}

// UniverseSource loads the Universe.
type UniverseSource interface {
	Universe(ctx context.Context) (*Universe, error)
}

// ContactRecorder stores a contact with its raw bytes and matches in one
// transaction. Identical raw bytes are one contact: duplicate reports that
// the evidence was already held, under the returned ID.
type ContactRecorder interface {
	RecordContact(ctx context.Context, c *Contact, raw []byte) (id int64, duplicate bool, err error)
}
