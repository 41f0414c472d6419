package attribution_test

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/leaktrace/leaktrace/attribution"
	"github.com/leaktrace/leaktrace/canary"
)

var t0 = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)

func day(n int) time.Time { return t0.Add(time.Duration(n) * 24 * time.Hour) }

// tok builds a token of order ref shown to parties at day 0 (or at the day
// given after a party name with "@": "FastExpress@3").
func tok(id int64, kind canary.TokenKind, unique bool, ref string, seen ...string) *canary.Token {
	t := &canary.Token{ID: id, Investigation: "inv", Order: ref, Orders: []string{ref}, Kind: kind,
		Field: string(kind), Value: string(kind) + "-" + ref, Key: string(kind) + "-" + ref, Unique: unique}
	for _, s := range seen {
		at := day(0)
		if i := len(s) - 2; i > 0 && s[i] == '@' {
			at = day(int(s[i+1] - '0'))
			s = s[:i]
		}
		t.Exposures = append(t.Exposures, canary.Exposure{Party: s, Quality: canary.QualityFull, ExposedAt: at})
	}
	return t
}

func index(ts ...*canary.Token) map[int64]*canary.Token {
	m := map[int64]*canary.Token{}
	for _, t := range ts {
		m[t.ID] = t
	}
	return m
}

func contact(id int64, at time.Time, ids ...int64) canary.Contact {
	c := canary.Contact{ID: id, Channel: canary.ChannelSMS, ReceivedAt: at}
	for _, i := range ids {
		c.Matches = append(c.Matches, canary.Match{TokenID: i, How: canary.HowBody})
	}
	return c
}

func TestAttributeContact(t *testing.T) {
	email := tok(1, canary.TokenEmail, false, "o1", "P")
	phone := tok(2, canary.TokenPhone, false, "o1", "P", "M", "C@3")
	price := tok(3, canary.TokenFact, false, "o1", "P", "M")
	name := tok(4, canary.TokenName, false, "o1", "P")
	orderNo := tok(5, canary.TokenFact, true, "o1", "P", "M", "C@3")
	other := tok(6, canary.TokenEmail, false, "o2", "Q")
	control := tok(7, canary.TokenEmail, false, "o3")
	chat := tok(8, canary.TokenEmail, false, "o1", "P", "M")
	toks := index(email, phone, price, name, orderNo, other, control, chat)
	for _, tc := range []struct {
		name      string
		c         canary.Contact
		status    string
		cand      []string
		exclusive bool
	}{
		{"one email", contact(1, day(5), 1), attribution.StatusAttributed, []string{"P"}, true},
		{"phone and price narrow to platform and merchant", contact(2, day(5), 2, 3), attribution.StatusAmbiguous, []string{"M", "P"}, false},
		{"courier exposed after the contact is dropped", contact(3, day(2), 2, 5), attribution.StatusAmbiguous, []string{"M", "P"}, false},
		{"courier exposed before the contact stays", contact(4, day(5), 2, 5), attribution.StatusAmbiguous, []string{"C", "M", "P"}, false},
		{"a guessable name narrows but is not exclusive", contact(5, day(5), 8, 4), attribution.StatusAttributed, []string{"P"}, false},
		{"disjoint sources are merged", contact(6, day(5), 1, 6), attribution.StatusMerged, []string{"P", "Q"}, false},
		{"a token nobody was shown is noise", contact(7, day(5), 7), attribution.StatusUnissued, []string{}, false},
		{"nothing matched", contact(8, day(5)), attribution.StatusUnmatched, []string{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := attribution.AttributeContact(tc.c, toks, nil)
			if r.Status != tc.status || !slices.Equal(r.Candidates, tc.cand) || r.Exclusive != tc.exclusive {
				t.Fatalf("status=%q candidates=%q exclusive=%v, want %q %q %v", r.Status, r.Candidates, r.Exclusive, tc.status, tc.cand, tc.exclusive)
			}
		})
	}
}

func TestPartialMatchesNarrowNothing(t *testing.T) {
	phone := tok(1, canary.TokenPhone, false, "o1", "C")
	c := canary.Contact{ID: 1, ReceivedAt: day(5), Matches: []canary.Match{{TokenID: 1, How: canary.HowBody, Partial: true}}}
	r := attribution.AttributeContact(c, index(phone), nil)
	if r.Status != attribution.StatusAmbiguous || r.Exclusive {
		t.Fatalf("status=%q exclusive=%v, want ambiguous and never exclusive", r.Status, r.Exclusive)
	}
	// With a full match too, the partial one must not narrow the set.
	email := tok(2, canary.TokenEmail, false, "o1", "P", "C")
	c.Matches = append(c.Matches, canary.Match{TokenID: 2, How: canary.HowRecipient})
	r = attribution.AttributeContact(c, index(phone, email), nil)
	if want := []string{"C", "P"}; !slices.Equal(r.Candidates, want) {
		t.Fatalf("candidates=%q, want %q", r.Candidates, want)
	}
}

func TestSharedValueIsAUnion(t *testing.T) {
	// Two orders share a price: the scammer knew it through one of them.
	a := tok(1, canary.TokenFact, false, "o1", "P", "M1")
	b := tok(2, canary.TokenFact, false, "o2", "P", "M2")
	b.Key = a.Key
	r := attribution.AttributeContact(contact(1, day(5), 1, 2), index(a, b), nil)
	if want := []string{"M1", "M2", "P"}; r.Status != attribution.StatusAmbiguous || !slices.Equal(r.Candidates, want) {
		t.Fatalf("status=%q candidates=%q, want ambiguous %q", r.Status, r.Candidates, want)
	}
}

func TestFirstPartyIsKeptButNotCounted(t *testing.T) {
	email := tok(1, canary.TokenEmail, false, "o1", "P")
	c := contact(1, day(5), 1)
	c.Mark = canary.MarkFirstParty
	r := attribution.AttributeContact(c, index(email), nil)
	if r.Status != attribution.StatusFirstParty || r.Exclusive {
		t.Fatalf("status=%q exclusive=%v, want first_party, not exclusive", r.Status, r.Exclusive)
	}
}

func TestAuthenticatedMail(t *testing.T) {
	senders := attribution.NewSenders([]canary.Party{{Name: "P", Domains: []string{"shopa.vn", "müller.de"}}, {Name: "C", Domains: []string{"fast.vn"}}})
	email := tok(1, canary.TokenEmail, false, "o1", "P")
	for _, tc := range []struct {
		name   string
		auth   []string
		mark   string
		status string
	}{
		{"the party's own signed mail", []string{"mail.shopa.vn"}, "", attribution.StatusFirstParty},
		{"a claim in From proves nothing", nil, "", attribution.StatusAttributed},
		{"signed by a party never shown the token", []string{"fast.vn"}, "", attribution.StatusAttributed},
		{"a look-alike domain is not the party", []string{"shopa.vn.evil.example"}, "", attribution.StatusAttributed},
		// DKIM writes the ASCII form of a name the party was added with
		// in Unicode: still its own mail, not a leak.
		{"its international domain, signed in ASCII", []string{"news.xn--mller-kva.de"}, "", attribution.StatusFirstParty},
		{"a name that only folds to it is another domain", []string{"muller.de"}, "", attribution.StatusAttributed},
		{"a person's scam mark wins", []string{"shopa.vn"}, canary.MarkScam, attribution.StatusAttributed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := contact(1, day(5), 1)
			c.AuthDomains, c.Mark = tc.auth, tc.mark
			if r := attribution.AttributeContact(c, index(email), senders); r.Status != tc.status {
				t.Fatalf("status=%q, want %q", r.Status, tc.status)
			}
		})
	}
}

func verdicts(rep *attribution.Report) map[string]string {
	m := map[string]string{}
	for _, p := range rep.Parties {
		m[p.Name] = p.Verdict + "/" + p.Basis
	}
	return m
}

func TestVerdicts(t *testing.T) {
	parties := []canary.Party{{Name: "P", Kind: canary.KindPlatform}, {Name: "M", Kind: canary.KindMerchant},
		{Name: "C", Kind: canary.KindCourier}, {Name: "Twin", Kind: canary.KindSoftware}, {Name: "Crowd", Kind: canary.KindPublic}}
	mk := func() []canary.Token {
		var out []canary.Token
		for i, ref := range []string{"o1", "o2", "o3"} {
			id := int64(i * 10)
			out = append(out,
				*tok(id+1, canary.TokenEmail, false, ref, "P"),
				*tok(id+2, canary.TokenEmail, false, ref, "C", "Twin"),
				*tok(id+3, canary.TokenName, false, ref, "P", "M", "C", "Twin", "Crowd"))
		}
		return out
	}
	in := func(cs ...canary.Contact) attribution.Input {
		return attribution.Input{Parties: parties, Tokens: mk(), Contacts: cs, Now: day(60), MinObservation: 30 * 24 * time.Hour}
	}
	t.Run("one exclusive contact is suspected", func(t *testing.T) {
		v := verdicts(attribution.Attribute(in(contact(1, day(5), 1))))
		if v["P"] != "suspected/" {
			t.Fatalf("P=%q, want suspected", v["P"])
		}
	})
	t.Run("two on one order stay suspected", func(t *testing.T) {
		v := verdicts(attribution.Attribute(in(contact(1, day(5), 1), contact(2, day(6), 1))))
		if v["P"] != "suspected/" {
			t.Fatalf("P=%q, want suspected", v["P"])
		}
	})
	t.Run("two on different orders are leaked", func(t *testing.T) {
		v := verdicts(attribution.Attribute(in(contact(1, day(5), 1), contact(2, day(6), 11))))
		if v["P"] != "leaked/exclusive" {
			t.Fatalf("P=%q, want leaked/exclusive", v["P"])
		}
		for _, p := range []string{"M", "C", "Twin"} {
			if v[p] == "leaked/exclusive" {
				t.Fatalf("innocent %s=%q", p, v[p])
			}
		}
	})
	t.Run("twins are indistinguishable, never leaked", func(t *testing.T) {
		rep := attribution.Attribute(in(contact(1, day(5), 2), contact(2, day(6), 12), contact(3, day(7), 22)))
		v := verdicts(rep)
		if v["C"] != "indistinguishable/" || v["Twin"] != "indistinguishable/" {
			t.Fatalf("C=%q Twin=%q, want both indistinguishable", v["C"], v["Twin"])
		}
		for _, p := range rep.Parties {
			if p.Name == "C" && !slices.Equal(p.IndistinguishableFrom, []string{"Twin"}) {
				t.Fatalf("C indistinguishable_from=%q, want [Twin]", p.IndistinguishableFrom)
			}
		}
	})
	t.Run("ignored contacts do not count", func(t *testing.T) {
		a, b := contact(1, day(5), 1), contact(2, day(6), 11)
		b.Mark = canary.MarkIgnore
		if v := verdicts(attribution.Attribute(in(a, b))); v["P"] != "suspected/" {
			t.Fatalf("P=%q, want suspected", v["P"])
		}
	})
	t.Run("public gets no verdict", func(t *testing.T) {
		if _, ok := verdicts(attribution.Attribute(in()))["Crowd"]; ok {
			t.Fatal("public party Crowd got a verdict")
		}
	})
	t.Run("silence gives an upper bound", func(t *testing.T) {
		rep := attribution.Attribute(in())
		for _, p := range rep.Parties {
			if p.Name == "P" && (p.CIHigh == nil || *p.CIHigh <= 0 || *p.CIHigh >= 1) {
				t.Fatalf("P ci_high=%v, want a bound in (0,1)", p.CIHigh)
			}
		}
	})
}

// A broker list merging two leaks: order 1's number from its courier and
// order 2's chat email from its merchant. Both records share the platform,
// which must not come out as the exclusive source.
func TestMergedBrokerListBlamesNoCommonParty(t *testing.T) {
	orderNo := tok(1, canary.TokenFact, true, "o1", "P", "M1", "C1")
	chat := tok(2, canary.TokenEmail, false, "o2", "P", "M2")
	r := attribution.AttributeContact(contact(1, day(5), 1, 2), index(orderNo, chat), nil)
	if want := []string{"C1", "M1", "M2", "P"}; r.Status != attribution.StatusMerged || r.Exclusive || !slices.Equal(r.Candidates, want) {
		t.Fatalf("status=%q exclusive=%v candidates=%q, want merged, not exclusive, %q", r.Status, r.Exclusive, r.Candidates, want)
	}
	if want := []string{"o1", "o2"}; !slices.Equal(r.Orders, want) {
		t.Fatalf("orders=%q, want %q", r.Orders, want)
	}
}

func TestRatesAndTimelines(t *testing.T) {
	// Ten orders through courier C, placed on day 0; four contacted within
	// 30 days (days 2, 4, 6, 8), one on day 40 (outside the window).
	in := attribution.Input{Parties: []canary.Party{{Name: "C", Kind: canary.KindCourier}},
		Now: day(90), MinObservation: 30 * 24 * time.Hour, Days: 30, Timelines: true}
	for i := range 10 {
		ref := fmt.Sprintf("o%d", i)
		tk := tok(int64(i+1), canary.TokenPhone, false, ref, "C")
		in.Tokens = append(in.Tokens, *tk)
		in.Orders = append(in.Orders, canary.Order{Investigation: "inv", Ref: ref, PlacedAt: day(0), Tokens: []canary.Token{*tk}})
	}
	for i, d := range []int{2, 4, 6, 8, 40} {
		in.Contacts = append(in.Contacts, contact(int64(i+1), day(d), int64(i+1)))
	}
	rep := attribution.Attribute(in)
	if len(rep.Rates) != 1 {
		t.Fatalf("rates=%+v, want one for C", rep.Rates)
	}
	r := rep.Rates[0]
	if r.Orders != 10 || r.Contacted != 4 || r.Share != 0.4 {
		t.Fatalf("n=%d contacted=%d share=%v, want 10, 4, 0.4", r.Orders, r.Contacted, r.Share)
	}
	// Wilson 95% for 4/10 is 0.168–0.687.
	if math.Abs(r.WilsonLow-0.1682) > 0.001 || math.Abs(r.WilsonHi-0.6873) > 0.001 {
		t.Fatalf("wilson=%.4f–%.4f, want 0.1682–0.6873", r.WilsonLow, r.WilsonHi)
	}
	if r.DelayMedian == nil || *r.DelayMedian != 6 || *r.DelayQ1 != 4 || *r.DelayQ3 != 8 {
		t.Fatalf("delays q1/median/q3=%v/%v/%v, want 4/6/8", deref(r.DelayQ1), deref(r.DelayMedian), deref(r.DelayQ3))
	}
	if len(rep.Timelines) != 10 || len(rep.Timelines[0].Events) != 2 || rep.Timelines[0].Events[1].What != "contact" {
		t.Fatalf("timelines=%+v, want placed then a contact for o0", rep.Timelines[:1])
	}
}
