package canary

import "context"

// MailboxKey names one mailbox on one IMAP server for one login.
type MailboxKey struct {
	Server  string // host:port as the user gave it
	User    string
	Mailbox string
}

// MailboxState is how far a mailbox has been read: every message with a UID
// up to LastUID under UIDValidity has been recorded. A new UIDValidity
// means the server renumbered the mailbox and it must be read again.
type MailboxState struct {
	UIDValidity uint32
	LastUID     uint32
}

// MailboxStateStore remembers how far each mailbox has been read. A
// mailbox never read has the zero state and no error.
type MailboxStateStore interface {
	MailboxState(ctx context.Context, key MailboxKey) (MailboxState, error)
	SaveMailboxState(ctx context.Context, key MailboxKey, st MailboxState) error
}
