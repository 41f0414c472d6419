package sqlite_test

import (
	"slices"
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
