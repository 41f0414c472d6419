package attribution_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/leaktrace/leaktrace/attribution"
	"github.com/leaktrace/leaktrace/canary"
)

// bigInput is 10,000 orders over 3 platforms, 40 merchants and 8 couriers,
// and 1,000,000 contacts: a courier leaking a third of its orders and the
// rest background, each contact quoting one to three tokens.
func bigInput(orders, contacts int) attribution.Input {
	r := rand.New(rand.NewPCG(1, 2))
	in := attribution.Input{Now: t0.Add(200 * 24 * time.Hour), MinObservation: 30 * 24 * time.Hour}
	add := func(prefix string, n int, kind canary.PartyKind) []string {
		var out []string
		for i := range n {
			name := fmt.Sprintf("%s%d", prefix, i)
			out = append(out, name)
			in.Parties = append(in.Parties, canary.Party{Name: name, Kind: kind})
		}
		return out
	}
	ps, ms, cs := add("P", 3, canary.KindPlatform), add("M", 40, canary.KindMerchant), add("C", 8, canary.KindCourier)
	var id int64
	for i := range orders {
		placed := t0.Add(time.Duration(r.IntN(150*24)) * time.Hour)
		o := canary.Order{Investigation: "big", Ref: fmt.Sprintf("o%05d", i), Platform: ps[r.IntN(3)], Merchant: ms[r.IntN(40)],
			Courier: cs[r.IntN(8)], Payment: canary.PaymentPrepaid, PlacedAt: placed, ShippedAt: placed.Add(24 * time.Hour)}
		for _, f := range []struct {
			kind canary.TokenKind
			who  []string
		}{{canary.TokenEmail, []string{o.Platform, o.Merchant}}, {canary.TokenPhone, []string{o.Platform, o.Merchant, o.Courier}},
			{canary.TokenName, []string{o.Platform, o.Merchant, o.Courier}}, {canary.TokenFact, []string{o.Platform, o.Merchant, o.Courier}}} {
			id++
			t := canary.Token{ID: id, Investigation: "big", Order: o.Ref, Orders: []string{o.Ref}, Kind: f.kind, Key: fmt.Sprint(id), Unique: f.kind == canary.TokenFact}
			for _, p := range f.who {
				t.Exposures = append(t.Exposures, canary.Exposure{Party: p, Quality: canary.QualityFull, ExposedAt: o.ShippedAt})
			}
			o.Tokens = append(o.Tokens, t)
			in.Tokens = append(in.Tokens, t)
		}
		in.Orders = append(in.Orders, o)
	}
	for i := range contacts {
		o := in.Orders[r.IntN(orders)]
		c := canary.Contact{ID: int64(i + 1), Channel: canary.ChannelSMS, ReceivedAt: o.ShippedAt.Add(time.Duration(1+r.IntN(40)) * 24 * time.Hour)}
		for k := range 1 + r.IntN(3) {
			t := o.Tokens[(k+r.IntN(4))%4]
			c.Matches = append(c.Matches, canary.Match{TokenID: t.ID, Kind: t.Kind, How: canary.HowBody})
		}
		in.Contacts = append(in.Contacts, c)
	}
	return in
}

func BenchmarkAttribute10kOrders1MContacts(b *testing.B) {
	in := bigInput(10_000, 1_000_000)
	in.SkipIntervals = os.Getenv("SKIP") != ""
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rep := attribution.Attribute(in)
		if len(rep.Contacts) != 1_000_000 {
			b.Fatalf("contacts=%d", len(rep.Contacts))
		}
	}
}
