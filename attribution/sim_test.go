package attribution_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/leaktrace/leaktrace/attribution"
	"github.com/leaktrace/leaktrace/canary"
)

// world is a random investigation whose truth is known: who leaked, and
// who merely held the data.
type world struct {
	in attribution.Input
	// responsible are the leakers and the parties whose unrecorded
	// processors leaked: SPEC's "leaked" is true of them.
	responsible []string
	leakers     []string
	// exposuresCorrect is false when a processor's exposure was not recorded.
	exposuresCorrect bool
}

// worldKind names the ways a world departs from the model.
type worldKind int

const (
	plainWorld      worldKind = iota
	outletRates               // the courier leaks only through one outlet
	bulkLeak                  // one leak of many records at once
	recycledPhones            // some numbers get calls meant for a previous owner
	missingExposure           // a merchant's label software leaks; not recorded
	mergedLists               // brokers merge records from two leakers
	worldKinds
)

func (k worldKind) String() string {
	return [...]string{"plain", "outlet-rates", "bulk-leak", "recycled-phones", "missing-exposure", "merged-lists"}[k]
}

type simToken struct {
	tok     canary.Token
	guess   bool // can be guessed or dialled at random
	parties []string
}

// newWorld draws a world. Times are days from t0; now is day 150.
func newWorld(seed uint64, kind worldKind) *world {
	r := rand.New(rand.NewPCG(seed, uint64(kind)))
	w := &world{exposuresCorrect: kind != missingExposure}
	var platforms, merchants, couriers []string
	for i := range 1 + r.IntN(2) {
		platforms = append(platforms, fmt.Sprintf("P%d", i))
	}
	for i := range 2 + r.IntN(4) {
		merchants = append(merchants, fmt.Sprintf("M%d", i))
	}
	for i := range 2 + r.IntN(3) {
		couriers = append(couriers, fmt.Sprintf("C%d", i))
	}
	for _, n := range platforms {
		w.in.Parties = append(w.in.Parties, canary.Party{Name: n, Kind: canary.KindPlatform, Domains: []string{n + ".example"}})
	}
	for _, n := range merchants {
		w.in.Parties = append(w.in.Parties, canary.Party{Name: n, Kind: canary.KindMerchant})
	}
	for _, n := range couriers {
		w.in.Parties = append(w.in.Parties, canary.Party{Name: n, Kind: canary.KindCourier})
	}
	all := slices.Concat(platforms, merchants, couriers)
	// Zero to two leakers with rates from rare to common.
	rate := map[string]float64{}
	for range r.IntN(3) {
		p := all[r.IntN(len(all))]
		if _, dup := rate[p]; !dup {
			rate[p] = 0.03 + 0.5*r.Float64()
			w.leakers = append(w.leakers, p)
		}
	}
	w.responsible = slices.Clone(w.leakers)
	hiddenFor := ""
	if kind == missingExposure {
		hiddenFor = merchants[r.IntN(len(merchants))]
		w.responsible = append(w.responsible, hiddenFor)
	}
	outlet := couriers[r.IntN(len(couriers))]
	b := 0.04 * r.Float64()
	day := func(d float64) time.Time { return t0.Add(time.Duration(d * 24 * float64(time.Hour))) }
	w.in.Now, w.in.MinObservation = day(150), 30*24*time.Hour

	n := 40 + r.IntN(200)
	var id int64
	var cid int64
	newTok := func(o *canary.Order, kind canary.TokenKind, field string, unique, guess bool, parties []string, at []time.Time) simToken {
		id++
		t := canary.Token{ID: id, Investigation: "sim", Order: o.Ref, Orders: []string{o.Ref}, Kind: kind, Field: field,
			Value: fmt.Sprintf("%s-%d", field, id), Key: fmt.Sprintf("%s-%d", field, id), Unique: unique}
		for i, p := range parties {
			t.Exposures = append(t.Exposures, canary.Exposure{Party: p, Quality: canary.QualityFull, ExposedAt: at[i]})
		}
		return simToken{tok: t, guess: guess, parties: parties}
	}
	contact := func(at time.Time, toks []simToken) canary.Contact {
		cid++
		c := canary.Contact{ID: cid, Channel: canary.ChannelSMS, ReceivedAt: at}
		for _, t := range toks {
			c.Matches = append(c.Matches, canary.Match{TokenID: t.tok.ID, Kind: t.tok.Kind, How: canary.HowBody})
		}
		return c
	}
	type rec struct {
		order  canary.Order
		toks   []simToken
		held   map[string]time.Time
		outlet bool
	}
	var recs []rec
	for i := range n {
		placed := 5 + 100*r.Float64()
		o := canary.Order{Investigation: "sim", Ref: fmt.Sprintf("o%03d", i), Platform: platforms[r.IntN(len(platforms))],
			Merchant: merchants[r.IntN(len(merchants))], Courier: couriers[r.IntN(len(couriers))], Payment: canary.PaymentPrepaid,
			CreatedAt: day(placed - 1), PlacedAt: day(placed), ShippedAt: day(placed + 1 + r.Float64())}
		if r.IntN(3) == 0 {
			o.Payment = canary.PaymentCOD
		}
		if r.IntN(12) == 0 {
			o.PlacedAt, o.ShippedAt, o.AbandonedAt = time.Time{}, time.Time{}, day(placed)
		}
		rc := rec{order: o, held: map[string]time.Time{}, outlet: r.IntN(2) == 0}
		if o.AbandonedAt.IsZero() {
			rc.held = map[string]time.Time{o.Platform: o.PlacedAt, o.Merchant: o.PlacedAt, o.Courier: o.ShippedAt}
			label, labelAt := []string{o.Platform, o.Merchant, o.Courier}, []time.Time{o.PlacedAt, o.PlacedAt, o.ShippedAt}
			pm, pmAt := label[:2], labelAt[:2]
			price, priceAt := pm, pmAt
			if o.Payment == canary.PaymentCOD {
				price, priceAt = label, labelAt
			}
			rc.toks = append(rc.toks,
				newTok(&o, canary.TokenEmail, "chat email", false, false, pm, pmAt),
				newTok(&o, canary.TokenPhone, "shipping phone", false, true, label, labelAt),
				newTok(&o, canary.TokenName, "shipping name", false, true, label, labelAt),
				newTok(&o, canary.TokenFact, "order_no", true, false, label, labelAt),
				newTok(&o, canary.TokenFact, "price", false, false, price, priceAt))
			if r.IntN(2) == 0 {
				rc.toks = append(rc.toks, newTok(&o, canary.TokenEmail, "courier app email", false, false, label[2:], labelAt[2:]))
			}
		} else {
			rc.toks = append(rc.toks,
				newTok(&o, canary.TokenPhone, "shipping phone", false, true, nil, nil),
				newTok(&o, canary.TokenName, "shipping name", false, true, nil, nil))
		}
		recs = append(recs, rc)
	}
	// seen returns the tokens of rc that party p was shown.
	seen := func(rc rec, p string) []simToken {
		var out []simToken
		for _, t := range rc.toks {
			if slices.Contains(t.parties, p) {
				out = append(out, t)
			}
		}
		return out
	}
	// quote picks a non-empty random subset of what a leaker holds.
	quote := func(ts []simToken) []simToken {
		var out []simToken
		for _, t := range ts {
			if r.IntN(2) == 0 {
				out = append(out, t)
			}
		}
		if len(out) == 0 && len(ts) > 0 {
			out = append(out, ts[r.IntN(len(ts))])
		}
		return out
	}
	var leaked [][]simToken // what brokers hold, for merged lists
	bulkAt := day(60 + 60*r.Float64())
	for _, rc := range recs {
		for _, p := range w.leakers {
			q := rate[p]
			at, held := rc.held[p]
			if !held {
				continue
			}
			if kind == outletRates && p == outlet && !rc.outlet {
				continue
			}
			if r.Float64() >= q {
				continue
			}
			when := at.Add(time.Duration(r.ExpFloat64() * 10 * 24 * float64(time.Hour)))
			if kind == bulkLeak && bulkAt.After(at) {
				when = bulkAt.Add(time.Duration(r.Float64() * 3 * 24 * float64(time.Hour)))
			}
			if when.After(w.in.Now) {
				continue
			}
			ts := quote(seen(rc, p))
			leaked = append(leaked, ts)
			w.in.Contacts = append(w.in.Contacts, contact(when, ts))
		}
		if hiddenFor != "" && rc.order.Merchant == hiddenFor && rc.order.AbandonedAt.IsZero() && r.Float64() < 0.3 {
			// Label software sees the label: name, phone, order number.
			var label []simToken
			for _, t := range rc.toks {
				if t.tok.Field == "shipping name" || t.tok.Field == "shipping phone" || t.tok.Field == "order_no" {
					label = append(label, t)
				}
			}
			ts := quote(label)
			w.in.Contacts = append(w.in.Contacts, contact(rc.order.ShippedAt.Add(48*time.Hour), ts))
		}
		// Background: random dialling and guessed names reach guessable tokens.
		bg := b
		if kind == recycledPhones && r.IntN(5) == 0 {
			bg = math.Min(1, b+0.3)
		}
		if r.Float64() < bg {
			var guessable []simToken
			for _, t := range rc.toks {
				if t.guess {
					guessable = append(guessable, t)
				}
			}
			w.in.Contacts = append(w.in.Contacts, contact(day(20+120*r.Float64()), []simToken{guessable[r.IntN(len(guessable))]}))
		}
		// The platform's own confirmation, authenticated: never a leak.
		if rc.order.AbandonedAt.IsZero() && r.IntN(3) == 0 {
			c := contact(rc.order.PlacedAt.Add(time.Minute), rc.toks[:1])
			c.AuthDomains = []string{rc.order.Platform + ".example"}
			w.in.Contacts = append(w.in.Contacts, c)
		}
	}
	if kind == mergedLists && len(leaked) > 1 {
		for range 1 + len(leaked)/4 {
			a, bb := leaked[r.IntN(len(leaked))], leaked[r.IntN(len(leaked))]
			w.in.Contacts = append(w.in.Contacts, contact(day(140), slices.Concat(a, bb)))
		}
	}
	for _, rc := range recs {
		o := rc.order
		for _, t := range rc.toks {
			w.in.Tokens = append(w.in.Tokens, t.tok)
			o.Tokens = append(o.Tokens, t.tok)
		}
		w.in.Orders = append(w.in.Orders, o)
	}
	return w
}

type tally struct {
	worlds, worldsAccusing                      int
	verdicts, innocentLeaked, innocentExclusive int
	identifiable, found                         int
	statistical                                 int
}

func (tl *tally) add(w *world, rep *attribution.Report) {
	tl.worlds++
	before := tl.innocentLeaked
	defer func() {
		if tl.innocentLeaked > before {
			tl.worldsAccusing++
		}
	}()
	twin := map[string]bool{}
	for _, p := range rep.Parties {
		tl.verdicts++
		if len(p.IndistinguishableFrom) > 0 {
			twin[p.Name] = true
		}
		if p.Verdict != attribution.VerdictLeaked {
			continue
		}
		if p.Basis == attribution.BasisStatistical {
			tl.statistical++
		}
		if !slices.Contains(w.responsible, p.Name) {
			tl.innocentLeaked++
			if p.Basis == attribution.BasisExclusive && w.exposuresCorrect {
				tl.innocentExclusive++
			}
		}
	}
	for _, l := range w.leakers {
		if twin[l] {
			continue
		}
		tl.identifiable++
		for _, p := range rep.Parties {
			if p.Name == l && p.Verdict == attribution.VerdictLeaked {
				tl.found++
			}
		}
	}
}

// TestSimulatedWorlds runs 600 random worlds, a sixth of each kind, and
// checks the property lawyers depend on: innocent parties are not called
// leaked. Exclusive evidence never accuses an innocent party where
// exposures are recorded; overall, innocent leaked verdicts stay at or
// below 0.1% of verdicts.
func TestSimulatedWorlds(t *testing.T) {
	worlds := 1200
	if testing.Short() {
		worlds = 120
	}
	var tl tally
	byKind := map[worldKind]*tally{}
	for i := range worlds {
		kind := worldKind(i % int(worldKinds))
		w := newWorld(uint64(i), kind)
		w.in.SkipIntervals = true
		rep := attribution.Attribute(w.in)
		tl.add(w, rep)
		if byKind[kind] == nil {
			byKind[kind] = &tally{}
		}
		byKind[kind].add(w, rep)
		if testing.Verbose() {
			for _, p := range rep.Parties {
				if p.Verdict == attribution.VerdictLeaked && !slices.Contains(w.responsible, p.Name) {
					t.Logf("world %d (%s): innocent %s leaked/%s (q=%v p=%v, orders %d, exclusive %d); leakers %v responsible %v",
						i, kind, p.Name, p.Basis, deref(p.LeakProbability), deref(p.PValue), p.OrdersExposed, p.ExclusiveContacts, w.leakers, w.responsible)
				}
			}
		}
		if tl.innocentExclusive > 0 {
			t.Fatalf("world %d (%s): an innocent party got leaked/exclusive; leakers %v", i, kind, w.leakers)
		}
	}
	lo, hi := wilsonTest(tl.innocentLeaked, tl.verdicts)
	t.Logf("%d worlds, %d verdicts: %d innocent leaked (%.3f%%, Wilson 95%% %.3f–%.3f%%); %d statistical leaked verdicts; identifiable leakers found %d/%d (%.0f%%)",
		worlds, tl.verdicts, tl.innocentLeaked, 100*float64(tl.innocentLeaked)/float64(tl.verdicts), 100*lo, 100*hi,
		tl.statistical, tl.found, tl.identifiable, 100*float64(tl.found)/math.Max(1, float64(tl.identifiable)))
	for k := range worldKinds {
		if s := byKind[k]; s != nil {
			t.Logf("  %-16s verdicts %4d, innocent leaked %d, leakers found %d/%d", k, s.verdicts, s.innocentLeaked, s.found, s.identifiable)
		}
	}
	// SPEC: statistical verdicts keep innocent leaked verdicts at or below
	// alpha across a whole report.
	if float64(tl.worldsAccusing) > 0.05*float64(tl.worlds) {
		t.Fatalf("%d of %d reports accuse an innocent party, above alpha = 0.05", tl.worldsAccusing, tl.worlds)
	}
	t.Logf("reports accusing an innocent party: %d of %d (alpha 0.05)", tl.worldsAccusing, tl.worlds)
	if float64(tl.innocentLeaked) > 0.001*float64(tl.verdicts) {
		t.Fatalf("innocent leaked verdicts %d of %d exceed 0.1%%", tl.innocentLeaked, tl.verdicts)
	}
}

func wilsonTest(k, n int) (float64, float64) {
	if n == 0 {
		return 0, 1
	}
	const z = 1.959963984540054
	p, nf := float64(k)/float64(n), float64(n)
	den := 1 + z*z/nf
	mid := (p + z*z/(2*nf)) / den
	half := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / den
	return math.Max(0, mid-half), math.Min(1, mid+half)
}

func deref(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// A report is evidence: the same data must give the same report, to the
// last digit, however the work is spread over cores.
func TestAttributeIsDeterministic(t *testing.T) {
	for i := range 12 {
		w := newWorld(uint64(i), worldKind(i%int(worldKinds)))
		a, err := json.Marshal(attribution.Attribute(w.in))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(attribution.Attribute(w.in))
		if !bytes.Equal(a, b) {
			t.Fatalf("world %d: two runs gave different reports", i)
		}
	}
}
