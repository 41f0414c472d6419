package sqlite_test

import (
	"context"
	"testing"

	"github.com/leaktrace/leaktrace/canary"
)

func TestMailboxState(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	key := canary.MailboxKey{Server: "imap.mail.example:993", User: "me@mail.example", Mailbox: "Junk"}
	st, err := db.MailboxState(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if st != (canary.MailboxState{}) {
		t.Fatalf("state of a mailbox never read=%+v, want zero", st)
	}
	for _, want := range []canary.MailboxState{{UIDValidity: 1700000000, LastUID: 42}, {UIDValidity: 4294967295, LastUID: 4294967290}} {
		if err := db.SaveMailboxState(ctx, key, want); err != nil {
			t.Fatal(err)
		}
		got, err := db.MailboxState(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("MailboxState=%+v, want %+v", got, want)
		}
	}
	other := key
	other.Mailbox = "INBOX"
	if got, _ := db.MailboxState(ctx, other); got != (canary.MailboxState{}) {
		t.Fatalf("INBOX state=%+v, want zero: mailboxes are kept apart", got)
	}
}
