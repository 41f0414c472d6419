package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/norm"
	"github.com/leaktrace/leaktrace/sqlite"
)

// TestSixtyOrders issues the tokens of 60 orders over several paths and
// checks the rules SPEC.md sets for sharing them.
func TestSixtyOrders(t *testing.T) {
	f := newFixture(t, 60)
	ctx := context.Background()
	platforms := []string{"ShopA", "ShopB"}
	merchants := []string{"Lens Pharmacy", "Beauty Corner", ""}
	couriers := []string{"FastExpress", "SlowPost", ""}
	// Two shared accounts; other orders get an account of their own.
	for _, p := range platforms {
		if _, toks, _, err := f.db.CreateAccount(ctx, invName, p, "shared-"+p); err != nil || len(toks) != 3 {
			t.Fatalf("CreateAccount(%s)=%d tokens, %v, want 3 tokens", p, len(toks), err)
		}
	}
	for i := 0; i < 60; i++ {
		f.clock.Advance(time.Minute)
		spec := sqlite.OrderSpec{Ref: fmt.Sprintf("o-%03d", i+1), Platform: platforms[i%2], Merchant: merchants[i%3],
			Payment: []string{canary.PaymentPrepaid, canary.PaymentCOD}[i/2%2]}
		if i%5 == 0 {
			spec.Account = "shared-" + spec.Platform
		}
		if c := couriers[i/3%3]; c != "" && i%7 != 0 {
			spec.Courier = c
			spec.PlacedAt = f.clock.now
			spec.ShippedAt = f.clock.now.Add(5 * time.Minute)
			spec.Facts = []sqlite.Fact{{canary.FactOrderNo, fmt.Sprintf("2611%06d", i)}, {canary.FactPrice, "68.500đ"}}
		}
		o, warn := f.mustCreateOrder(t, spec)
		if len(warn) != 0 || !hasToken(o, canary.FieldShippingPhone) || !hasToken(o, canary.FieldAccountPhone) {
			t.Fatalf("order %s: warnings %q, want every token issued", o.Ref, warn)
		}
	}
	orders, err := f.db.Orders(ctx, invName)
	if err != nil {
		t.Fatalf("Orders: %v", err)
	}
	if len(orders) != 60 {
		t.Fatalf("len(Orders)=%d, want 60", len(orders))
	}
	toks, err := f.db.Tokens(ctx, invName)
	if err != nil {
		t.Fatalf("Tokens: %v", err)
	}
	values, keys, greet := map[string]int64{}, map[string]int64{}, map[string]int64{}
	phoneSets := map[string]string{} // number -> exposure set
	phoneTokens := map[string]int{}
	names, noGreet := 0, 0
	for _, tok := range toks {
		switch tok.Kind {
		case canary.TokenEmail, canary.TokenName, canary.TokenAddress:
			k := string(tok.Kind) + ":"
			if id, dup := values[k+tok.Value]; dup {
				t.Fatalf("tokens %d and %d share the %s value %q", id, tok.ID, tok.Kind, tok.Value)
			}
			if id, dup := keys[k+tok.Key]; dup {
				t.Fatalf("tokens %d and %d share the %s key %q", id, tok.ID, tok.Kind, tok.Key)
			}
			values[k+tok.Value], keys[k+tok.Key] = tok.ID, tok.ID
			if tok.Kind == canary.TokenEmail && !strings.HasSuffix(tok.Value, "@canary.example") {
				t.Fatalf("email token %q is not at the canary domain", tok.Value)
			}
			if tok.Kind == canary.TokenEmail {
				local, _, _ := canary.SplitAddress(tok.Value)
				if !canary.CheckLocalPart(f.inv.Secret, local) {
					t.Fatalf("email token %q fails its own check", tok.Value)
				}
			}
		case canary.TokenPhone:
			set := exposedTo(tok)
			if prev, ok := phoneSets[tok.Value]; ok && prev != set {
				t.Fatalf("number %s serves exposure sets %q and %q", tok.Value, prev, set)
			}
			phoneSets[tok.Value] = set
			phoneTokens[tok.Value]++
		}
		if tok.Kind == canary.TokenName {
			names++
			if tok.Key != norm.Fold(tok.Value) {
				t.Fatalf("name token Key=%q, want %q", tok.Key, norm.Fold(tok.Value))
			}
			if tok.GreetKey == "" {
				noGreet++
				continue
			}
			if id, dup := greet[tok.GreetKey]; dup {
				t.Fatalf("tokens %d and %d share the greet key %q", id, tok.ID, tok.GreetKey)
			}
			greet[tok.GreetKey] = tok.ID
		}
	}
	// 104 names (60 shipping, 44 accounts) against 158 greeted parts.
	if noGreet != 0 {
		t.Fatalf("%d of %d names have no greet key while the lists last", noGreet, names)
	}
	shared := 0
	for _, n := range phoneTokens {
		if n > 1 {
			shared++
		}
	}
	if shared == 0 {
		t.Fatalf("no number is shared: the test checks nothing (%v)", phoneTokens)
	}
	// Account phones on one platform share a number.
	if n := phoneTokens[accountPhone(t, orders, "shared-ShopA")]; n < 2 {
		t.Fatalf("ShopA's account phone serves %d tokens, want several", n)
	}
	t.Logf("%d tokens, %d numbers used, %d shared", len(toks), len(phoneTokens), shared)
}

func accountPhone(tb testing.TB, orders []canary.Order, account string) string {
	tb.Helper()
	for _, o := range orders {
		if o.Account == account {
			return token(tb, &o, canary.FieldAccountPhone).Value
		}
	}
	tb.Fatalf("no order of account %s", account)
	return ""
}

func TestOrderTokens(t *testing.T) {
	f := newFixture(t, 5)
	o, warn := f.mustCreateOrder(t, sqlite.OrderSpec{Ref: "o-1", Platform: "ShopA", Merchant: "Lens Pharmacy"})
	if len(warn) != 0 {
		t.Fatalf("warnings=%q, want none", warn)
	}
	if o.Stage() != "created" || o.Account != "o-1-account" || o.Payment != canary.PaymentPrepaid {
		t.Fatalf("order=%+v, want a created prepaid order with account o-1-account", o)
	}
	fields := map[string]canary.TokenKind{}
	for _, tok := range o.Tokens {
		fields[tok.Field] = tok.Kind
		if len(tok.Exposures) != 0 && tok.Account == "" {
			t.Fatalf("%s of an unplaced order was shown to %q", tok.Field, exposedTo(tok))
		}
		if tok.Investigation != invName || tok.IssuedAt.IsZero() {
			t.Fatalf("token %+v: want investigation %s and an issue time", tok, invName)
		}
	}
	for name, kind := range map[string]canary.TokenKind{
		canary.FieldAccountEmail: canary.TokenEmail, canary.FieldAccountPhone: canary.TokenPhone,
		canary.FieldAccountName: canary.TokenName, canary.FieldChatEmail: canary.TokenEmail,
		canary.FieldShippingName: canary.TokenName, canary.FieldShippingPhone: canary.TokenPhone,
		canary.FieldShippingAddr: canary.TokenAddress,
	} {
		if fields[name] != kind {
			t.Fatalf("token of %s has kind %q, want %q", name, fields[name], kind)
		}
	}
	addr := token(t, o, canary.FieldShippingAddr)
	if !strings.HasPrefix(addr.Value, baseAddress+", Phòng ") || !strings.Contains(norm.Fold(addr.Value), addr.Key) {
		t.Fatalf("address token %q key %q: want a Phòng variant of the base address holding the key", addr.Value, addr.Key)
	}
	// The account's tokens are shown to the platform when it is created.
	if got := exposedTo(token(t, o, canary.FieldAccountEmail)); got != "ShopA" {
		t.Fatalf("account email exposed to %q, want ShopA", got)
	}
}

func TestOrderWithoutAddressOrDomain(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	if err := db.CreateInvestigation(ctx, &canary.Investigation{Name: "bare", Locale: canary.LocaleUS}); err != nil {
		t.Fatalf("CreateInvestigation: %v", err)
	}
	if err := db.AddParty(ctx, &canary.Party{Name: "ShopA", Kind: canary.KindPlatform}); err != nil {
		t.Fatalf("AddParty: %v", err)
	}
	_, _, err := db.CreateOrder(ctx, sqlite.OrderSpec{Investigation: "bare", Platform: "ShopA"})
	if !errors.Is(err, canary.ErrInvalid) || !strings.Contains(err.Error(), "leaktrace domain add") {
		t.Fatalf("CreateOrder without a domain err=%v, want ErrInvalid naming `leaktrace domain add`", err)
	}
	if err := db.AddDomain(ctx, &canary.Domain{Name: "me@gmail.com", Plus: true}); err != nil {
		t.Fatalf("AddDomain(plus): %v", err)
	}
	o, warn, err := db.CreateOrder(ctx, sqlite.OrderSpec{Investigation: "bare", Platform: "ShopA"})
	if err != nil {
		t.Fatalf("CreateOrder: %v", err)
	}
	if o.Ref != "o-001" {
		t.Fatalf("Ref=%q, want o-001", o.Ref)
	}
	if hasToken(o, canary.FieldShippingAddr) || !strings.Contains(strings.Join(warn, "\n"), "no base address") {
		t.Fatalf("warnings=%q, want one about the missing base address and no address token", warn)
	}
	email := token(t, o, canary.FieldAccountEmail).Value
	if !strings.HasPrefix(email, "me+") || !strings.HasSuffix(email, "@gmail.com") {
		t.Fatalf("plus-style email=%q, want me+…@gmail.com", email)
	}
}

func TestOrderLifeCycle(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 10)
	created := f.clock.now
	mustOrder := func(ref, payment string) {
		t.Helper()
		f.mustCreateOrder(t, sqlite.OrderSpec{Ref: ref, Platform: "ShopA", Merchant: "Lens Pharmacy", Payment: payment})
	}
	mustOrder("o-1", canary.PaymentPrepaid)
	mustOrder("o-2", canary.PaymentCOD)

	t.Run("placed before created", func(t *testing.T) {
		_, err := f.db.PlaceOrder(ctx, invName, "o-1", created.Add(-time.Hour), "", nil)
		if !errors.Is(err, canary.ErrInvalid) {
			t.Fatalf("PlaceOrder before creation err=%v, want ErrInvalid", err)
		}
	})
	t.Run("shipped before placed", func(t *testing.T) {
		if _, err := f.db.ShipOrder(ctx, invName, "o-1", "FastExpress", "", created.Add(time.Hour), nil); !errors.Is(err, canary.ErrInvalid) {
			t.Fatalf("ShipOrder of an unplaced order err=%v, want ErrInvalid", err)
		}
	})
	placed := created.Add(2 * time.Hour)
	shipped := created.Add(26 * time.Hour)
	f.clock.Set(created.Add(3 * time.Hour))
	for _, ref := range []string{"o-1", "o-2"} {
		o, err := f.db.PlaceOrder(ctx, invName, ref, placed, "01/11/2026 09:00", []sqlite.Fact{
			{canary.FactItem, "Kem chống nắng SPF50"}, {canary.FactPrice, "68.500đ"}, {canary.FactOrderNo, "2611-01-" + ref}})
		if err != nil {
			t.Fatalf("PlaceOrder(%s): %v", ref, err)
		}
		if o.Stage() != "placed" || !o.PlacedAt.Equal(placed) {
			t.Fatalf("after PlaceOrder: stage %s placed %v, want placed at %v", o.Stage(), o.PlacedAt, placed)
		}
	}
	t.Run("placed twice", func(t *testing.T) {
		if _, err := f.db.PlaceOrder(ctx, invName, "o-1", placed, "", nil); !errors.Is(err, canary.ErrInvalid) {
			t.Fatalf("second PlaceOrder err=%v, want ErrInvalid", err)
		}
	})
	t.Run("abandon after placing", func(t *testing.T) {
		if _, err := f.db.AbandonOrder(ctx, invName, "o-1"); !errors.Is(err, canary.ErrInvalid) {
			t.Fatalf("AbandonOrder of a placed order err=%v, want ErrInvalid", err)
		}
	})
	t.Run("shipped before placed time", func(t *testing.T) {
		if _, err := f.db.ShipOrder(ctx, invName, "o-1", "FastExpress", "", placed.Add(-time.Second), nil); !errors.Is(err, canary.ErrInvalid) {
			t.Fatalf("ShipOrder before placing err=%v, want ErrInvalid", err)
		}
	})
	f.clock.Set(shipped.Add(time.Hour))
	var orders []*canary.Order
	for _, ref := range []string{"o-1", "o-2"} {
		o, err := f.db.ShipOrder(ctx, invName, ref, "FastExpress", "", shipped, []sqlite.Fact{{canary.FactTracking, "FE" + ref + "99887766"}})
		if err != nil {
			t.Fatalf("ShipOrder(%s): %v", ref, err)
		}
		orders = append(orders, o)
	}
	t.Run("shipped twice", func(t *testing.T) {
		if _, err := f.db.ShipOrder(ctx, invName, "o-1", "SlowPost", "", shipped, nil); !errors.Is(err, canary.ErrInvalid) {
			t.Fatalf("second ShipOrder err=%v, want ErrInvalid", err)
		}
	})
	t.Run("exposure times", func(t *testing.T) {
		o := orders[0]
		for _, field := range []string{canary.FieldShippingName, canary.FieldShippingPhone, canary.FieldShippingAddr, canary.FactOrderNo} {
			tok := token(t, o, field)
			for _, tc := range []struct {
				party string
				want  time.Time
			}{{"ShopA", placed}, {"Lens Pharmacy", placed}, {"FastExpress", shipped}} {
				at, ok := exposure(tok, tc.party)
				if !ok || !at.Equal(tc.want) {
					t.Fatalf("%s exposed to %s at %v (%v), want %v", field, tc.party, at, ok, tc.want)
				}
			}
		}
		tr := token(t, o, canary.FactTracking)
		if got := exposedTo(tr); got != "FastExpress,Lens Pharmacy,ShopA" {
			t.Fatalf("tracking number exposed to %q, want all three", got)
		}
		if !tr.Unique || !token(t, o, canary.FactOrderNo).Unique || token(t, o, canary.FactItem).Unique {
			t.Fatalf("Unique: order number and tracking number identify an order, the item does not")
		}
		// Facts are written in the investigation's time zone.
		if got, want := token(t, o, canary.FactPlacedAt).Value, placed.In(f.inv.Location()).Format("2006-01-02 15:04"); got != want {
			t.Fatalf("placed_at fact=%q, want the local time %q", got, want)
		}
	})
	t.Run("price goes to the courier on cod only", func(t *testing.T) {
		for i, want := range []string{"Lens Pharmacy,ShopA", "FastExpress,Lens Pharmacy,ShopA"} {
			for _, field := range []string{canary.FactPrice, canary.FactItem, canary.FactPlacedAt} {
				if got := exposedTo(token(t, orders[i], field)); got != want {
					t.Fatalf("%s %s (%s) exposed to %q, want %q", orders[i].Ref, field, orders[i].Payment, got, want)
				}
			}
		}
	})
	t.Run("facts are matched by key", func(t *testing.T) {
		if k := token(t, orders[0], canary.FactPrice).Key; k == "" || k == "68.500đ" {
			t.Fatalf("price key=%q, want a normalised price", k)
		}
		if k := token(t, orders[0], canary.FactOrderNo).Key; k != "261101o1" {
			t.Fatalf("order number key=%q, want %q", k, "261101o1")
		}
	})
	t.Run("abandon", func(t *testing.T) {
		mustOrder("o-3", canary.PaymentPrepaid)
		o, err := f.db.AbandonOrder(ctx, invName, "o-3")
		if err != nil || o.Stage() != "abandoned" {
			t.Fatalf("AbandonOrder=%v, %v, want an abandoned order", o, err)
		}
		for _, tok := range o.Tokens {
			if tok.Account == "" && len(tok.Exposures) != 0 {
				t.Fatalf("control token %s was exposed to %q", tok.Field, exposedTo(tok))
			}
		}
		if _, err := f.db.PlaceOrder(ctx, invName, "o-3", f.clock.now, "", nil); !errors.Is(err, canary.ErrInvalid) {
			t.Fatalf("PlaceOrder of an abandoned order err=%v, want ErrInvalid", err)
		}
		if _, err := f.db.AddExposures(ctx, invName, "o-3", []sqlite.ExtraExposure{{Field: canary.FieldShippingName, To: []string{"ShopB"}}}); !errors.Is(err, canary.ErrInvalid) {
			t.Fatalf("AddExposures to an abandoned order err=%v, want ErrInvalid", err)
		}
	})
}

func TestAccountNameShownToEachMerchant(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 10)
	if _, _, _, err := f.db.CreateAccount(ctx, invName, "ShopA", "acct"); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	times := map[string]time.Time{}
	for i, m := range []string{"Lens Pharmacy", "Beauty Corner"} {
		f.clock.Advance(time.Hour)
		at := f.clock.now.Add(time.Minute)
		times[m] = at
		f.mustCreateOrder(t, sqlite.OrderSpec{Ref: fmt.Sprintf("o-%d", i+1), Account: "acct", Platform: "ShopA", Merchant: m, PlacedAt: at})
	}
	orders, err := f.db.Orders(ctx, invName)
	if err != nil {
		t.Fatalf("Orders: %v", err)
	}
	name := token(t, &orders[1], canary.FieldAccountName)
	if got := exposedTo(name); got != "Beauty Corner,Lens Pharmacy,ShopA" {
		t.Fatalf("account name exposed to %q, want the platform and both merchants", got)
	}
	for m, want := range times {
		if at, _ := exposure(name, m); !at.Equal(want) {
			t.Fatalf("account name shown to %s at %v, want %v", m, at, want)
		}
	}
	if got := strings.Join(name.Orders, ","); got != "o-1,o-2" {
		t.Fatalf("account name Orders=%q, want o-1,o-2", got)
	}
	// The account email stays with the platform.
	if got := exposedTo(token(t, &orders[1], canary.FieldAccountEmail)); got != "ShopA" {
		t.Fatalf("account email exposed to %q, want ShopA", got)
	}
	_, _, err = f.db.CreateOrder(ctx, sqlite.OrderSpec{Investigation: invName, Account: "acct", Platform: "ShopB"})
	if !errors.Is(err, canary.ErrInvalid) {
		t.Fatalf("order on ShopB with a ShopA account err=%v, want ErrInvalid", err)
	}
}

func TestOrderErrorsSayWhatToDo(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 2)
	for _, tc := range []struct {
		name string
		spec sqlite.OrderSpec
		is   error
		want string
	}{
		{"unknown investigation", sqlite.OrderSpec{Investigation: "nope", Platform: "ShopA"}, canary.ErrNotFound, `leaktrace investigation new "nope"`},
		{"unknown platform", sqlite.OrderSpec{Investigation: invName, Platform: "NoShop"}, canary.ErrNotFound, `leaktrace party add --kind KIND "NoShop"`},
		{"unknown merchant", sqlite.OrderSpec{Investigation: invName, Platform: "ShopA", Merchant: "Nobody"}, canary.ErrNotFound, "leaktrace party add"},
		{"unknown courier", sqlite.OrderSpec{Investigation: invName, Platform: "ShopA", Courier: "Nobody", PlacedAt: f.clock.now}, canary.ErrNotFound, "leaktrace party add"},
		{"unknown account", sqlite.OrderSpec{Investigation: invName, Platform: "ShopA", Account: "a-9"}, canary.ErrNotFound, "leaktrace account new"},
		{"no platform", sqlite.OrderSpec{Investigation: invName}, canary.ErrInvalid, "platform"},
		{"platform is a merchant", sqlite.OrderSpec{Investigation: invName, Platform: "Lens Pharmacy"}, canary.ErrInvalid, "not a platform"},
		{"bad payment", sqlite.OrderSpec{Investigation: invName, Platform: "ShopA", Payment: "bitcoin"}, canary.ErrInvalid, "prepaid or cod"},
		{"shipping time without placing", sqlite.OrderSpec{Investigation: invName, Platform: "ShopA", Courier: "FastExpress", ShippedAt: f.clock.now}, canary.ErrInvalid, "placed"},
		{"facts without placing", sqlite.OrderSpec{Investigation: invName, Platform: "ShopA", Facts: []sqlite.Fact{{canary.FactItem, "lipstick"}}}, canary.ErrInvalid, "placed"},
		{"bad price", sqlite.OrderSpec{Investigation: invName, Platform: "ShopA", PlacedAt: f.clock.now, Facts: []sqlite.Fact{{canary.FactPrice, "cheap"}}}, canary.ErrInvalid, "price"},
		{"short order number", sqlite.OrderSpec{Investigation: invName, Platform: "ShopA", PlacedAt: f.clock.now, Facts: []sqlite.Fact{{canary.FactOrderNo, "12"}}}, canary.ErrInvalid, "too short"},
		{"empty fact", sqlite.OrderSpec{Investigation: invName, Platform: "ShopA", PlacedAt: f.clock.now, Facts: []sqlite.Fact{{canary.FactItem, " "}}}, canary.ErrInvalid, "key=value"},
		{"placed_at twice", sqlite.OrderSpec{Investigation: invName, Platform: "ShopA", PlacedAt: f.clock.now, Facts: []sqlite.Fact{{canary.FactPlacedAt, "2026-11-01 09:00"}}}, canary.ErrInvalid, "already recorded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := rawDB(t, f.db)
			before := counts(t, raw)
			_, _, err := f.db.CreateOrder(ctx, tc.spec)
			if !errors.Is(err, tc.is) {
				t.Fatalf("CreateOrder err=%v, want %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err=%q, want it to say %q", err, tc.want)
			}
			sameCounts(t, before, counts(t, raw))
		})
	}
	if _, err := f.db.PlaceOrder(ctx, invName, "o-404", t0, "", nil); !errors.Is(err, canary.ErrNotFound) {
		t.Fatalf("PlaceOrder(unknown order) err=%v, want ErrNotFound", err)
	}
	f.mustCreateOrder(t, sqlite.OrderSpec{Ref: "dup", Platform: "ShopA"})
	if _, _, err := f.db.CreateOrder(ctx, sqlite.OrderSpec{Investigation: invName, Ref: "dup", Platform: "ShopA"}); !errors.Is(err, canary.ErrConflict) {
		t.Fatalf("CreateOrder(duplicate ref) err=%v, want ErrConflict", err)
	}
}

func TestImportOrdersIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 10)
	raw := rawDB(t, f.db)
	placed := f.clock.now.Add(time.Minute)
	good := func(ref string) sqlite.OrderSpec {
		return sqlite.OrderSpec{Investigation: invName, Ref: ref, Platform: "NewMall", Merchant: "New Shop", Courier: "New Courier",
			PlacedAt: placed, Facts: []sqlite.Fact{{canary.FactOrderNo, "NM" + ref + "0001"}, {canary.FactPrice, "68.50 CNY"}}, CreateParties: true}
	}
	bad := good("o-2")
	bad.Facts = append(bad.Facts, sqlite.Fact{canary.FactPrice, "free"})
	before := counts(t, raw)
	_, _, err := f.db.ImportOrders(ctx, []sqlite.OrderSpec{good("o-1"), bad, good("o-3")})
	if err == nil || !strings.Contains(err.Error(), `order 2 ("o-2")`) {
		t.Fatalf("ImportOrders err=%v, want an error naming order 2", err)
	}
	sameCounts(t, before, counts(t, raw))
	// The same file without the bad order goes in whole.
	out, warn, err := f.db.ImportOrders(ctx, []sqlite.OrderSpec{good("o-1"), good("o-3")})
	if err != nil {
		t.Fatalf("ImportOrders: %v", err)
	}
	if len(out) != 2 || out[1].Stage() != "shipped" {
		t.Fatalf("ImportOrders=%d orders (second %s), want 2 shipped", len(out), out[1].Stage())
	}
	if !strings.Contains(strings.Join(warn, "\n"), "party NewMall created as a platform") {
		t.Fatalf("warnings=%q, want one about creating NewMall", warn)
	}
	// Both orders have the same path: their shipping numbers may be one.
	if a, b := token(t, out[0], canary.FieldShippingPhone), token(t, out[1], canary.FieldShippingPhone); exposedTo(a) != exposedTo(b) && a.Value == b.Value {
		t.Fatalf("one number, two exposure sets")
	}
}

// TestExtraExposureKeepsPhoneSetsIdentical records a party beyond the
// template on a shipping phone. The number must not then serve another
// order whose phone that party never saw.
func TestExtraExposureKeepsPhoneSetsIdentical(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 10)
	if err := f.db.AddParty(ctx, &canary.Party{Name: "LabelSoft", Kind: canary.KindSoftware}); err != nil {
		t.Fatalf("AddParty: %v", err)
	}
	spec := func(ref string) sqlite.OrderSpec {
		return sqlite.OrderSpec{Ref: ref, Platform: "ShopA", Merchant: "Lens Pharmacy", Courier: "FastExpress",
			PlacedAt: f.clock.now.Add(time.Minute)}
	}
	o1, _ := f.mustCreateOrder(t, spec("o-1"))
	s := spec("o-2")
	s.Exposures = []sqlite.ExtraExposure{{Field: canary.FieldShippingPhone, Kind: canary.TokenPhone, To: []string{"LabelSoft"}}}
	o2, _ := f.mustCreateOrder(t, s)
	o3, _ := f.mustCreateOrder(t, spec("o-3"))
	p1, p2, p3 := token(t, o1, canary.FieldShippingPhone), token(t, o2, canary.FieldShippingPhone), token(t, o3, canary.FieldShippingPhone)
	if p1.Value != p3.Value {
		t.Fatalf("o-1 and o-3 have one path but numbers %s and %s", p1.Value, p3.Value)
	}
	if p2.Value == p1.Value || exposedTo(p2) != "FastExpress,LabelSoft,Lens Pharmacy,ShopA" {
		t.Fatalf("o-2's number %s is exposed to %q (o-1 has %s)", p2.Value, exposedTo(p2), p1.Value)
	}
	// After the fact: a party outside the set was shown a shared number.
	raw := rawDB(t, f.db)
	before := counts(t, raw)
	_, err := f.db.AddExposures(ctx, invName, "o-3", []sqlite.ExtraExposure{{Field: canary.FieldShippingPhone, To: []string{"LabelSoft"}}})
	if !errors.Is(err, canary.ErrInvalid) || !strings.Contains(err.Error(), "phone field of its own") {
		t.Fatalf("AddExposures err=%v, want ErrInvalid saying to use a phone field of its own", err)
	}
	sameCounts(t, before, counts(t, raw))
	// A party already in the set may be recorded again, and o-2's own number
	// may be shown to anyone.
	if _, err := f.db.AddExposures(ctx, invName, "o-3", []sqlite.ExtraExposure{{Field: canary.FieldShippingPhone, To: []string{"fastexpress"}}}); err != nil {
		t.Fatalf("AddExposures(courier again): %v", err)
	}
	if _, err := f.db.AddExposures(ctx, invName, "o-2", []sqlite.ExtraExposure{{Field: canary.FieldShippingPhone, To: []string{"ShopB"}}}); err != nil {
		t.Fatalf("AddExposures(o-2's own number): %v", err)
	}
	toks, err := f.db.Tokens(ctx, invName)
	if err != nil {
		t.Fatalf("Tokens: %v", err)
	}
	sets := map[string]string{}
	for _, tok := range toks {
		if tok.Kind != canary.TokenPhone {
			continue
		}
		if prev, ok := sets[tok.Value]; ok && prev != exposedTo(tok) {
			t.Fatalf("number %s serves exposure sets %q and %q", tok.Value, prev, exposedTo(tok))
		}
		sets[tok.Value] = exposedTo(tok)
	}
}

func TestExtraExposures(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 10)
	placed := f.clock.now
	shipped := placed.Add(5 * time.Minute)
	s := sqlite.OrderSpec{Ref: "o-1", Platform: "ShopA", Merchant: "Lens Pharmacy", Courier: "FastExpress", PlacedAt: placed, ShippedAt: shipped,
		Exposures: []sqlite.ExtraExposure{
			{Field: "courier app email", Kind: canary.TokenEmail, To: []string{"FastExpress"}},
			{Field: "gift note", Kind: canary.TokenFact, Value: "Chúc mừng sinh nhật", To: []string{"Lens Pharmacy"}},
		}}
	o, _ := f.mustCreateOrder(t, s)
	app := token(t, o, "courier app email")
	if got := exposedTo(app); got != "FastExpress" {
		t.Fatalf("courier app email exposed to %q, want FastExpress", got)
	}
	if at, _ := exposure(app, "FastExpress"); !at.Equal(shipped) {
		t.Fatalf("courier app email shown at %v, want the shipping time %v", at, shipped)
	}
	if got := exposedTo(token(t, o, "gift note")); got != "Lens Pharmacy" {
		t.Fatalf("gift note exposed to %q, want Lens Pharmacy", got)
	}
	for _, tc := range []struct {
		name string
		x    sqlite.ExtraExposure
		is   error
	}{
		{"no party", sqlite.ExtraExposure{Field: "x", Kind: canary.TokenEmail}, canary.ErrInvalid},
		{"unknown party", sqlite.ExtraExposure{Field: "x", Kind: canary.TokenEmail, To: []string{"Nobody"}}, canary.ErrNotFound},
		{"bad kind", sqlite.ExtraExposure{Field: "x", Kind: "url", To: []string{"ShopA"}}, canary.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := rawDB(t, f.db)
			before := counts(t, raw)
			if _, err := f.db.AddExposures(ctx, invName, "o-1", []sqlite.ExtraExposure{tc.x}); !errors.Is(err, tc.is) {
				t.Fatalf("AddExposures err=%v, want %v", err, tc.is)
			}
			sameCounts(t, before, counts(t, raw))
		})
	}
}

// TestHostileStrings stores strings that would break SQL built by hand.
func TestHostileStrings(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 5)
	raw := rawDB(t, f.db)
	hostile := []string{`'; DROP TABLE orders; --`, `Robert'); DELETE FROM tokens;--`, `" OR 1=1 --`, `x%_\`}
	for i, h := range hostile {
		p := &canary.Party{Name: h, Kind: canary.KindMerchant}
		if err := f.db.AddParty(ctx, p); err != nil {
			t.Fatalf("AddParty(%q): %v", h, err)
		}
		item := "Son môi " + h
		o, _ := f.mustCreateOrder(t, sqlite.OrderSpec{Ref: h, Platform: "ShopA", Merchant: h, PlacedAt: f.clock.now.Add(time.Minute),
			Facts: []sqlite.Fact{{canary.FactItem, item}}})
		if o.Ref != h || o.Merchant != h {
			t.Fatalf("order %d: Ref=%q Merchant=%q, want %q", i, o.Ref, o.Merchant, h)
		}
		if got := token(t, o, canary.FactItem).Value; got != item {
			t.Fatalf("item=%q, want %q", got, item)
		}
	}
	if n := count(t, raw, "orders"); n != len(hostile) {
		t.Fatalf("orders=%d, want %d", n, len(hostile))
	}
	parties, err := f.db.Parties(ctx)
	if err != nil {
		t.Fatalf("Parties: %v", err)
	}
	for _, h := range hostile {
		found := false
		for _, p := range parties {
			found = found || p.Name == h
		}
		if !found {
			t.Fatalf("party %q not stored verbatim", h)
		}
	}
	refs, err := f.db.OrderInvestigations(ctx, hostile[1])
	if err != nil || len(refs) != 1 || refs[0] != invName {
		t.Fatalf("OrderInvestigations(%q)=%q, %v, want [%s]", hostile[1], refs, err, invName)
	}
	rep, err := f.db.Verify(ctx, "")
	if err != nil || !rep.OK {
		t.Fatalf("Verify=%+v, %v, want OK", rep, err)
	}
}

// TestSchemaRefusesSharedTokens writes tokens behind the code's back: the
// schema itself refuses a second email, name or address with the same key.
func TestSchemaRefusesSharedTokens(t *testing.T) {
	f := newFixture(t, 5)
	o, _ := f.mustCreateOrder(t, sqlite.OrderSpec{Ref: "o-1", Platform: "ShopA", Merchant: "Lens Pharmacy"})
	f.mustCreateOrder(t, sqlite.OrderSpec{Ref: "o-2", Platform: "ShopA", Merchant: "Lens Pharmacy"})
	raw := rawDB(t, f.db)
	var o2 int64
	if err := raw.QueryRow(`SELECT id FROM orders WHERE ref = 'o-2'`).Scan(&o2); err != nil {
		t.Fatalf("read o-2: %v", err)
	}
	copyToken := `INSERT INTO tokens (investigation_id, order_id, kind, field, value, match_key, greet_key, issued_at)
		SELECT investigation_id, ?, kind, field || ' copy', value || ' copy', match_key, ?, issued_at FROM tokens WHERE id = ?`
	for _, tc := range []struct {
		field  string
		greet  any
		refuse bool
	}{
		{canary.FieldChatEmail, nil, true},
		{canary.FieldShippingName, nil, true},
		{canary.FieldShippingAddr, nil, true},
		{canary.FieldShippingPhone, nil, false},
	} {
		t.Run(tc.field, func(t *testing.T) {
			_, err := raw.Exec(copyToken, o2, tc.greet, token(t, o, tc.field).ID)
			if tc.refuse && err == nil {
				t.Fatalf("second %s token with the same key was stored", tc.field)
			}
			if !tc.refuse && err != nil {
				t.Fatalf("second %s token refused: %v (numbers may be shared)", tc.field, err)
			}
		})
	}
	t.Run("greet key", func(t *testing.T) {
		name := token(t, o, canary.FieldShippingName)
		_, err := raw.Exec(`INSERT INTO tokens (investigation_id, order_id, kind, field, value, match_key, greet_key, issued_at)
			SELECT investigation_id, ?, kind, 'other name', 'Someone Else', 'someone else', greet_key, issued_at FROM tokens WHERE id = ?`, o2, name.ID)
		if err == nil {
			t.Fatalf("second name with greet key %q was stored", name.GreetKey)
		}
	})
	t.Run("empty key", func(t *testing.T) {
		_, err := raw.Exec(`INSERT INTO tokens (investigation_id, order_id, kind, field, value, match_key, issued_at)
			VALUES (1, ?, 'fact', 'item', 'x', '', '2026-01-01')`, o2)
		if err == nil {
			t.Fatalf("token with an empty key was stored")
		}
	})
	t.Run("tokens are never changed", func(t *testing.T) {
		if _, err := raw.Exec(`UPDATE tokens SET value = 'x' WHERE id = ?`, o.Tokens[0].ID); err == nil {
			t.Fatalf("UPDATE tokens succeeded")
		}
		if _, err := raw.Exec(`DELETE FROM exposures`); err == nil {
			t.Fatalf("DELETE FROM exposures succeeded")
		}
	})
}

func TestConflicts(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0)
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"investigation", f.db.CreateInvestigation(ctx, &canary.Investigation{Name: " " + invName + " "})},
		{"party folded", f.db.AddParty(ctx, &canary.Party{Name: "ＳｈｏｐＡ", Kind: canary.KindPlatform})},
		{"party case", f.db.AddParty(ctx, &canary.Party{Name: "shopa", Kind: canary.KindMerchant})},
		{"sender", f.db.AddParty(ctx, &canary.Party{Name: "Fake Express", Kind: canary.KindCourier, Senders: []string{"fastexp"}})},
		{"domain", f.db.AddDomain(ctx, &canary.Domain{Name: "Canary.Example."})},
	} {
		if !errors.Is(tc.err, canary.ErrConflict) {
			t.Fatalf("%s: err=%v, want ErrConflict", tc.name, tc.err)
		}
	}
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"empty investigation", f.db.CreateInvestigation(ctx, &canary.Investigation{Name: " "})},
		{"locale", f.db.CreateInvestigation(ctx, &canary.Investigation{Name: "fr", Locale: "fr-FR"})},
		{"zone", f.db.CreateInvestigation(ctx, &canary.Investigation{Name: "tz", TimeZone: "Mars/Olympus"})},
		{"party kind", f.db.AddParty(ctx, &canary.Party{Name: "X", Kind: "shop"})},
		{"empty party", f.db.AddParty(ctx, &canary.Party{Name: "", Kind: canary.KindOther})},
		{"domain with @", f.db.AddDomain(ctx, &canary.Domain{Name: "me@x.example"})},
		{"plus without @", f.db.AddDomain(ctx, &canary.Domain{Name: "x.example", Plus: true})},
	} {
		if !errors.Is(tc.err, canary.ErrInvalid) {
			t.Fatalf("%s: err=%v, want ErrInvalid", tc.name, tc.err)
		}
	}
}

// TestDefaultRefs leaves refs out after some were given by hand: the
// default must be a free ref, not a conflict the user did not cause.
func TestDefaultRefs(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0)
	if _, _, _, err := f.db.CreateAccount(ctx, invName, "ShopA", "a-002"); err != nil {
		t.Fatalf("CreateAccount(a-002): %v", err)
	}
	acct, _, _, err := f.db.CreateAccount(ctx, invName, "ShopA", "")
	if err != nil {
		t.Fatalf("CreateAccount without a ref: %v", err)
	}
	if acct.Ref == "a-002" || acct.Ref == "" {
		t.Fatalf("default account Ref=%q, want a free one", acct.Ref)
	}
	f.mustCreateOrder(t, sqlite.OrderSpec{Ref: "o-002", Platform: "ShopA"})
	refs := map[string]bool{"o-002": true}
	for i := 0; i < 3; i++ {
		o, _ := f.mustCreateOrder(t, sqlite.OrderSpec{Platform: "ShopA"})
		if refs[o.Ref] || !strings.HasPrefix(o.Ref, "o-") {
			t.Fatalf("default order Ref=%q, want a free o-NNN", o.Ref)
		}
		refs[o.Ref] = true
	}
}

func TestPartyParent(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0)
	if err := f.db.AddParty(ctx, &canary.Party{Name: "SPX", Kind: canary.KindCourier, Parent: "shopa"}); err != nil {
		t.Fatalf("AddParty(SPX under shopa): %v", err)
	}
	err := f.db.AddParty(ctx, &canary.Party{Name: "Cainiao", Kind: canary.KindCourier, Parent: "Alibaba"})
	if !errors.Is(err, canary.ErrNotFound) || !strings.Contains(err.Error(), "leaktrace party add") {
		t.Fatalf("AddParty(unknown parent) err=%v, want ErrNotFound saying how to add it", err)
	}
	parties, err := f.db.Parties(ctx)
	if err != nil {
		t.Fatalf("Parties: %v", err)
	}
	for _, p := range parties {
		if p.Name == "SPX" && p.Parent != "ShopA" {
			t.Fatalf("SPX Parent=%q, want ShopA", p.Parent)
		}
		if p.Name == "Cainiao" {
			t.Fatalf("Cainiao was added although its parent is unknown")
		}
	}
}

// TestIssueRetriesOnCollision replays the same random draws in a second
// investigation: the names and address codes collide with issued ones and
// must be drawn again, never shared.
func TestIssueRetriesOnCollision(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0)
	inv2 := &canary.Investigation{Name: "replay", Locale: canary.LocaleVietnam, Address: baseAddress}
	if err := f.db.CreateInvestigation(ctx, inv2); err != nil {
		t.Fatalf("CreateInvestigation: %v", err)
	}
	var orders []*canary.Order
	for _, inv := range []string{invName, "replay"} {
		f.db.Rand = rand.NewChaCha8([32]byte{7})
		o, _ := f.mustCreateOrder(t, sqlite.OrderSpec{Investigation: inv, Ref: "o-1", Platform: "ShopA", Merchant: "Lens Pharmacy"})
		orders = append(orders, o)
	}
	for _, field := range []string{canary.FieldShippingName, canary.FieldAccountName, canary.FieldShippingAddr} {
		a, b := token(t, orders[0], field), token(t, orders[1], field)
		if a.Key == b.Key {
			t.Fatalf("%s: both investigations hold key %q", field, a.Key)
		}
	}
}

func TestShipOrderLater(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 10)
	spec := sqlite.OrderSpec{Platform: "ShopA", Merchant: "Lens Pharmacy"}
	spec.Ref = "o-1"
	o1, _ := f.mustCreateOrder(t, spec)
	spec.Ref = "o-2"
	o2, _ := f.mustCreateOrder(t, spec)
	// The courier is not known at creation: each number serves its order alone.
	if a, b := token(t, o1, canary.FieldShippingPhone).Value, token(t, o2, canary.FieldShippingPhone).Value; a == b {
		t.Fatalf("orders without a courier share the shipping number %s", a)
	}
	placed := f.clock.now
	if _, err := f.db.PlaceOrder(ctx, invName, "o-1", placed, "", nil); err != nil {
		t.Fatalf("PlaceOrder: %v", err)
	}
	f.clock.Advance(2 * time.Hour)
	shipped := f.clock.now.Add(-time.Hour)
	if _, err := f.db.ShipOrder(ctx, invName, "o-1", "", "", shipped, nil); !errors.Is(err, canary.ErrInvalid) {
		t.Fatalf("ShipOrder without a courier err=%v, want ErrInvalid", err)
	}
	if _, err := f.db.ShipOrder(ctx, invName, "o-1", "NoCourier", "", shipped, nil); !errors.Is(err, canary.ErrNotFound) {
		t.Fatalf("ShipOrder(unknown courier) err=%v, want ErrNotFound", err)
	}
	if _, err := f.db.ShipOrder(ctx, invName, "o-1", "FastExpress", "", f.clock.now.Add(time.Hour), nil); !errors.Is(err, canary.ErrInvalid) {
		t.Fatalf("ShipOrder in the future err=%v, want ErrInvalid", err)
	}
	o, err := f.db.ShipOrder(ctx, invName, "o-1", "FastExpress", "SlowPost", shipped, []sqlite.Fact{{canary.FactTracking, "FE 123 456 789"}})
	if err != nil {
		t.Fatalf("ShipOrder: %v", err)
	}
	if o.Courier != "FastExpress" || o.Outlet != "SlowPost" || !o.ShippedAt.Equal(shipped) {
		t.Fatalf("shipped order=%+v, want FastExpress via SlowPost at %v", o, shipped)
	}
	for _, field := range []string{canary.FieldShippingPhone, canary.FactTracking} {
		tok := token(t, o, field)
		for _, party := range []string{"FastExpress", "SlowPost"} {
			if at, ok := exposure(tok, party); !ok || !at.Equal(shipped) {
				t.Fatalf("%s shown to %s at %v (%v), want %v", field, party, at, ok, shipped)
			}
		}
	}
	if k := token(t, o, canary.FactTracking).Key; k != "fe123456789" {
		t.Fatalf("tracking key=%q, want fe123456789", k)
	}
}

func TestExtraFieldsOfEveryKind(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 5)
	o, _ := f.mustCreateOrder(t, sqlite.OrderSpec{Ref: "o-1", Platform: "ShopA", Merchant: "Lens Pharmacy"})
	extra := []sqlite.ExtraExposure{
		{Field: "courier app phone", Kind: canary.TokenPhone, To: []string{"FastExpress"}},
		{Field: "courier app name", Kind: canary.TokenName, To: []string{"FastExpress"}},
		{Field: "pickup address", Kind: canary.TokenAddress, To: []string{"FastExpress"}},
		{Field: canary.FieldShippingName, To: []string{"ShopB"}},
	}
	got, err := f.db.AddExposures(ctx, invName, "o-1", extra)
	if err != nil {
		t.Fatalf("AddExposures: %v", err)
	}
	for _, x := range extra[:3] {
		tok := token(t, got, x.Field)
		if tok.Kind != x.Kind || exposedTo(tok) != "FastExpress" {
			t.Fatalf("%s: kind %s exposed to %q, want %s shown to FastExpress", x.Field, tok.Kind, exposedTo(tok), x.Kind)
		}
	}
	if a, b := token(t, got, "courier app phone").Value, token(t, o, canary.FieldShippingPhone).Value; a == b {
		t.Fatalf("the courier app phone reuses the shipping number %s", a)
	}
	if got := exposedTo(token(t, got, canary.FieldShippingName)); got != "ShopB" {
		t.Fatalf("shipping name of an unplaced order exposed to %q, want ShopB only", got)
	}
}

func TestAttachments(t *testing.T) {
	ctx := context.Background()
	f := newEvidenceFixture(t)
	if _, err := f.db.AttachToOrder(ctx, invName, "o-1", "x.pdf", "invoice", []byte("x")); !errors.Is(err, canary.ErrInvalid) {
		t.Fatalf("AttachToOrder(invoice) err=%v, want ErrInvalid", err)
	}
	if _, err := f.db.AttachToOrder(ctx, invName, "o-404", "x.png", "label", []byte("x")); !errors.Is(err, canary.ErrNotFound) {
		t.Fatalf("AttachToOrder(unknown order) err=%v, want ErrNotFound", err)
	}
	list, err := f.db.Attachments(ctx, invName)
	if err != nil {
		t.Fatalf("Attachments: %v", err)
	}
	if len(list) != 1 || list[0].Order != "o-1" || list[0].What != "label" || list[0].FileName != "label.png" || list[0].SHA256 != f.attSHA {
		t.Fatalf("Attachments=%+v, want the label of o-1", list)
	}
	b, err := f.db.RawObject(ctx, f.attSHA)
	if err != nil || string(b) != "\x89PNG label bytes" {
		t.Fatalf("RawObject(label)=%q, %v", b, err)
	}
}

// A plan names the courier before the order is placed: the order is
// created, and the courier is shown nothing until `order shipped`.
func TestPlannedCourierIsNotAnExposure(t *testing.T) {
	f := newFixture(t, 5)
	o, _, err := f.db.CreateOrder(context.Background(), sqlite.OrderSpec{Investigation: invName, Platform: "ShopA", Merchant: "Lens Pharmacy", Courier: "FastExpress"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Stage() != "created" || o.Courier != "" {
		t.Fatalf("stage=%q courier=%q, want created and no courier yet", o.Stage(), o.Courier)
	}
	for _, tok := range o.Tokens {
		for _, e := range tok.Exposures {
			if e.Party == "FastExpress" {
				t.Fatalf("token %s exposed to the planned courier before shipping", tok.Field)
			}
		}
	}
}
