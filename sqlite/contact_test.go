package sqlite_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/leaktrace/leaktrace/canary"
)

func TestRecordContactKeepsRawBytes(t *testing.T) {
	ctx := context.Background()
	f := newEvidenceFixture(t)
	email := token(t, f.order, canary.FieldChatEmail)
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"crlf and trailing space", []byte("Subject: x \r\n\r\nbody  \r\n\r\n")},
		{"invalid utf-8 and nul", []byte("From: a\r\n\r\n\xff\xfe\x00\x00 gbk \xc4\xe3\xba\xc3\n")},
		{"bom and lone cr", []byte("\ufeffhello\rworld")},
		{"empty", []byte{}},
		{"large", bytes.Repeat([]byte("Chị ơi 0912.345.678 "), 50000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mailContact(email)
			id, dup, err := f.db.RecordContact(ctx, c, tc.raw)
			if err != nil || dup {
				t.Fatalf("RecordContact=%d, %v, %v, want a new contact", id, dup, err)
			}
			sum := sha256.Sum256(tc.raw)
			if want := hex.EncodeToString(sum[:]); c.RawSHA256 != want || c.RawSize != int64(len(tc.raw)) || c.ID != id {
				t.Fatalf("contact RawSHA256=%s RawSize=%d ID=%d, want %s, %d, %d", c.RawSHA256, c.RawSize, c.ID, want, len(tc.raw), id)
			}
			got, err := f.db.RawObject(ctx, c.RawSHA256)
			if err != nil {
				t.Fatalf("RawObject: %v", err)
			}
			if !bytes.Equal(got, tc.raw) {
				t.Fatalf("RawObject=%d bytes %q…, want the %d bytes stored", len(got), trunc(got), len(tc.raw))
			}
		})
	}
	if _, err := f.db.RawObject(ctx, "00"); !errors.Is(err, canary.ErrNotFound) {
		t.Fatalf("RawObject(unknown) err=%v, want ErrNotFound", err)
	}
}

func trunc(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

func TestRecordContactDuplicate(t *testing.T) {
	ctx := context.Background()
	f := newEvidenceFixture(t)
	raw := rawDB(t, f.db)
	email := token(t, f.order, canary.FieldChatEmail)
	before := counts(t, raw)
	c := mailContact(email)
	c.Source = "imap:INBOX"
	id, dup, err := f.db.RecordContact(ctx, c, []byte(rawMail(email.Value)))
	if err != nil {
		t.Fatalf("RecordContact: %v", err)
	}
	if !dup || id != f.contact || c.ID != f.contact {
		t.Fatalf("RecordContact of the same bytes=%d, duplicate %v, want %d, true", id, dup, f.contact)
	}
	sameCounts(t, before, counts(t, raw))
	// One byte more is another contact.
	if id, dup, err := f.db.RecordContact(ctx, mailContact(email), []byte(rawMail(email.Value)+" ")); err != nil || dup || id == f.contact {
		t.Fatalf("RecordContact of other bytes=%d, %v, %v, want a new contact", id, dup, err)
	}
}

// TestRecordContactConcurrent records the same messages from several
// goroutines, as the SMTP server and an IMAP poller may: one contact each.
func TestRecordContactConcurrent(t *testing.T) {
	ctx := context.Background()
	f := newEvidenceFixture(t)
	raw := rawDB(t, f.db)
	email := token(t, f.order, canary.FieldChatEmail)
	before := count(t, raw, "contacts")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	ids := make([][2]int64, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, dup, err := f.db.RecordContact(ctx, mailContact(email), []byte(fmt.Sprintf("message %d", i%2)))
			if err != nil {
				errs <- err
				return
			}
			ids[i] = [2]int64{id, map[bool]int64{true: 1}[dup]}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("RecordContact: %v", err)
	}
	if n := count(t, raw, "contacts") - before; n != 2 {
		t.Fatalf("%d contacts from 2 distinct messages, want 2", n)
	}
	fresh := 0
	for _, x := range ids {
		if x[1] == 0 {
			fresh++
		}
	}
	if fresh != 2 {
		t.Fatalf("%d calls reported a new contact, want 2", fresh)
	}
	if rep := mustVerify(t, f.db, ""); !rep.OK {
		t.Fatalf("Verify=%+v, want OK", rep)
	}
}

func TestRecordContactAllOrNothing(t *testing.T) {
	ctx := context.Background()
	f := newEvidenceFixture(t)
	raw := rawDB(t, f.db)
	email := token(t, f.order, canary.FieldChatEmail)
	for _, tc := range []struct {
		name   string
		change func(*canary.Contact)
	}{
		{"unknown token", func(c *canary.Contact) {
			c.Matches = append(c.Matches, canary.Match{TokenID: 999999, Kind: canary.TokenEmail, How: canary.HowBody})
		}},
		{"unknown token only", func(c *canary.Contact) {
			c.Matches = []canary.Match{{TokenID: 999999, Kind: canary.TokenEmail, How: canary.HowBody}}
		}},
		{"bad channel", func(c *canary.Contact) { c.Channel = "fax" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := counts(t, raw)
			c := mailContact(email)
			tc.change(c)
			rawBytes := []byte("a message that must leave no trace: " + tc.name)
			if _, _, err := f.db.RecordContact(ctx, c, rawBytes); err == nil {
				t.Fatalf("RecordContact err=nil, want an error")
			}
			sameCounts(t, before, counts(t, raw))
			sum := sha256.Sum256(rawBytes)
			if _, err := f.db.RawObject(ctx, hex.EncodeToString(sum[:])); !errors.Is(err, canary.ErrNotFound) {
				t.Fatalf("RawObject after a failed RecordContact err=%v, want ErrNotFound", err)
			}
		})
	}
	if rep := mustVerify(t, f.db, ""); !rep.OK {
		t.Fatalf("Verify=%+v, want OK", rep)
	}
}

func TestContactsReadBack(t *testing.T) {
	ctx := context.Background()
	f := newEvidenceFixture(t)
	email := token(t, f.order, canary.FieldChatEmail)
	if err := f.db.MarkContact(ctx, f.contact, canary.MarkFirstParty, "order confirmation"); err != nil {
		t.Fatalf("MarkContact: %v", err)
	}
	f.clock.Advance(time.Minute)
	if err := f.db.MarkContact(ctx, f.contact, canary.MarkScam, "'; DROP TABLE marks; --"); err != nil {
		t.Fatalf("MarkContact: %v", err)
	}
	if err := f.db.MarkContact(ctx, f.contact, "spam", ""); !errors.Is(err, canary.ErrInvalid) {
		t.Fatalf("MarkContact(spam) err=%v, want ErrInvalid", err)
	}
	if err := f.db.MarkContact(ctx, 999999, canary.MarkScam, ""); !errors.Is(err, canary.ErrNotFound) {
		t.Fatalf("MarkContact(unknown) err=%v, want ErrNotFound", err)
	}
	cs, err := f.db.Contacts(ctx)
	if err != nil {
		t.Fatalf("Contacts: %v", err)
	}
	var c *canary.Contact
	for i := range cs {
		if cs[i].ID == f.contact {
			c = &cs[i]
		}
	}
	if c == nil {
		t.Fatalf("contact %d not listed", f.contact)
	}
	want := mailContact(email)
	if c.Channel != want.Channel || !c.ReceivedAt.Equal(want.ReceivedAt) || c.ReceivedText != want.ReceivedText || c.Source != want.Source ||
		c.From != want.From || len(c.To) != 1 || c.To[0] != email.Value || c.Subject != want.Subject || c.RawSHA256 != f.rawSHA {
		t.Fatalf("Contacts()=%+v, want %+v", *c, *want)
	}
	if c.Mark != canary.MarkScam || c.MarkWhy != "'; DROP TABLE marks; --" {
		t.Fatalf("Mark=%q MarkWhy=%q, want the latest mark", c.Mark, c.MarkWhy)
	}
	if len(c.Matches) != 1 || c.Matches[0].TokenID != email.ID || c.Matches[0].Value != email.Value || c.Matches[0].How != canary.HowRecipient {
		t.Fatalf("Matches=%+v, want the chat email as recipient", c.Matches)
	}
}

func TestUniverse(t *testing.T) {
	f := newEvidenceFixture(t)
	u, err := f.db.Universe(context.Background())
	if err != nil {
		t.Fatalf("Universe: %v", err)
	}
	if len(u.Investigations) != 1 || len(u.Parties) != 6 || len(u.Domains) != 1 || len(u.Pool) != 5 {
		t.Fatalf("Universe has %d investigations, %d parties, %d domains, %d numbers; want 1, 6, 1, 5",
			len(u.Investigations), len(u.Parties), len(u.Domains), len(u.Pool))
	}
	if got := len(u.Investigations[0].Secret); got != 32 {
		t.Fatalf("secret length=%d, want 32", got)
	}
	if len(u.Tokens) != len(f.order.Tokens) {
		t.Fatalf("Universe has %d tokens, want the order's %d", len(u.Tokens), len(f.order.Tokens))
	}
	for _, p := range u.Parties {
		if p.Name == "ShopA" && (len(p.Domains) != 1 || p.Domains[0] != "shopa.example") {
			t.Fatalf("ShopA Domains=%q, want [shopa.example]", p.Domains)
		}
		if p.Name == "FastExpress" && (len(p.Senders) != 1 || p.Senders[0] != "fastexp") {
			t.Fatalf("FastExpress Senders=%q, want [fastexp]", p.Senders)
		}
	}
}
