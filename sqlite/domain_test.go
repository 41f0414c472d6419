package sqlite_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/leaktrace/leaktrace/canary"
)

// A canary domain must be one mail can be sent to: every email token of
// every order is issued at it.
func TestAddDomainRefusesWhatMailCannotReach(t *testing.T) {
	db := MustOpenDB(t)
	for _, tc := range []struct {
		name string
		plus bool
		ok   bool
	}{
		{"canary.example", false, true},
		{"Other.Example.", false, true},
		{"bücher.example", false, true},
		{"bad\xff.vn", false, false},
		{"xn--bücher-kva.vn", false, false}, // IDNA would store xn--bcher-isa8j.vn, someone else's
		{"a_b.example", false, false},
		{"nodot", false, false},
		{"me@gmail.example", true, true},
		{"me@gm\xffail.example", true, false},
	} {
		err := db.AddDomain(t.Context(), &canary.Domain{Name: tc.name, Plus: tc.plus})
		if (err == nil) != tc.ok {
			t.Errorf("AddDomain(%q, plus=%v) err=%v, want ok=%v", tc.name, tc.plus, err, tc.ok)
		}
	}
}

// An international name is kept in the ASCII form senders and checkout
// forms take, and a party's domains likewise, so DKIM's "xn--…" finds it.
func TestDomainsKeptInASCIIForm(t *testing.T) {
	db := MustOpenDB(t)
	ctx := t.Context()
	if err := db.AddDomain(ctx, &canary.Domain{Name: "Bücher.Example."}); err != nil {
		t.Fatal(err)
	}
	if err := db.AddDomain(ctx, &canary.Domain{Name: "Me@Bücher-Mail.example", Plus: true}); err != nil {
		t.Fatal(err)
	}
	doms, err := db.Domains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range doms {
		names = append(names, d.Name)
	}
	slices.Sort(names)
	if want := []string{"me@xn--bcher-mail-9db.example", "xn--bcher-kva.example"}; !slices.Equal(names, want) {
		t.Fatalf("domains=%q, want %q", names, want)
	}
	if err := db.AddDomain(ctx, &canary.Domain{Name: "xn--bcher-kva.example"}); err == nil {
		t.Fatal("the same domain in its ASCII form was added twice")
	}
	p := &canary.Party{Name: "Müller", Kind: canary.KindMerchant, Domains: []string{"Müller.DE."}}
	if err := db.AddParty(ctx, p); err != nil {
		t.Fatal(err)
	}
	if want := []string{"xn--mller-kva.de"}; !slices.Equal(p.Domains, want) {
		t.Fatalf("party domains=%q, want %q", p.Domains, want)
	}
}

// A database from before names were kept in their ASCII form holds the
// Unicode form: the same name in the other form is the same domain, for
// a canary domain and for a party's (whose mail would otherwise be
// credited to whichever party listed it last).
func TestUnicodeNamesOfOlderDatabasesStillTaken(t *testing.T) {
	db := MustOpenDB(t)
	ctx := t.Context()
	raw := rawDB(t, db)
	mustExec(t, raw, `INSERT INTO domains (name, plus, added_at) VALUES ('bücher.vn', 0, '2026-10-01T00:00:00.000000000Z')`)
	err := db.AddDomain(ctx, &canary.Domain{Name: "xn--bcher-kva.vn"})
	if !errors.Is(err, canary.ErrConflict) || !strings.Contains(err.Error(), "bücher.vn") {
		t.Fatalf("AddDomain of the ASCII form: %v, want a conflict naming bücher.vn", err)
	}
	owner := &canary.Party{Name: "Müller", Kind: canary.KindMerchant}
	if err := db.AddParty(ctx, owner); err != nil {
		t.Fatal(err)
	}
	mustExec(t, raw, `INSERT INTO party_senders (party_id, kind, value) VALUES (?, 'domain', 'müller.de')`, owner.ID)
	err = db.AddParty(ctx, &canary.Party{Name: "Müller Fake", Kind: canary.KindMerchant, Domains: []string{"xn--mller-kva.de"}})
	if !errors.Is(err, canary.ErrConflict) {
		t.Fatalf("AddParty with the ASCII form of another party's domain: %v, want a conflict", err)
	}
}
