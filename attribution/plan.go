package attribution

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/leaktrace/leaktrace/canary"
)

// PlanRequest is what an advocate can buy with.
type PlanRequest struct {
	Platforms, Merchants, Couriers []string
	Orders                         int     // budget of orders
	Phones                         int     // budget of pool numbers; 0 for no limit
	LeakRate                       float64 // leak rate the power is computed for
	Background                     float64 // background contact rate assumed
	Simultaneous                   int     // d: leakers that may act at once
	Trials                         int     // simulated investigations per party for power
	Seed                           uint64
}

// PlannedOrder is one order of a design.
type PlannedOrder struct {
	Ref        string `json:"ref"`
	Platform   string `json:"platform"`
	Merchant   string `json:"merchant"`
	Courier    string `json:"courier"`
	Payment    string `json:"payment"`
	CourierApp bool   `json:"-"` // register the tracking number in the courier's app with a fresh email
}

// PartyPlan says what the design can tell about one party.
type PartyPlan struct {
	Party  string `json:"party"`
	Kind   string `json:"kind"`
	Orders int    `json:"orders"`
	// Twins are shown exactly the same orders: no data can separate them.
	Twins []string `json:"indistinguishable_from"`
	// CoveredBy is a set of at most Simultaneous other parties whose orders
	// include all of this party's: if they all leak, this party's leak
	// cannot be told from theirs by the statistics.
	CoveredBy []string `json:"covered_by,omitempty"`
	// Power is the share of simulated investigations in which this party,
	// leaking at LeakRate alone, got the verdict leaked.
	Power float64 `json:"power"`
	// FalseAlarm is the share in which some other, innocent party got it.
	FalseAlarm float64 `json:"false_alarm"`
}

// Plan is a proposed design and what it can and cannot separate.
type Plan struct {
	Orders       []PlannedOrder `json:"orders"`
	Parties      []PartyPlan    `json:"parties"`
	PhonesNeeded int            `json:"phones_needed"`
	Combos       int            `json:"paths"`
	LeakRate     float64        `json:"leak_rate"`
	Background   float64        `json:"background_rate"`
	Notes        []string       `json:"notes"`
}

// MakePlan designs the orders of an investigation: every platform,
// merchant and courier combination the phone budget allows, spread evenly,
// so that each party's column of orders differs from every other's, then
// checks what the design can separate and simulates its power.
func MakePlan(req PlanRequest) (*Plan, error) {
	if len(req.Platforms) == 0 || len(req.Merchants) == 0 || len(req.Couriers) == 0 {
		return nil, canary.Invalidf("plan needs at least one platform, one merchant and one courier")
	}
	if req.Orders <= 0 {
		return nil, canary.Invalidf("--orders must be at least 1")
	}
	if req.Simultaneous <= 0 {
		req.Simultaneous = 2
	}
	if req.Trials <= 0 {
		req.Trials = 100
	}
	if req.LeakRate <= 0 || req.LeakRate > 1 {
		return nil, canary.Invalidf("--leak-rate must be in (0, 1]")
	}
	r := rand.New(rand.NewPCG(req.Seed, 0x706c616e))
	combos := chooseCombos(req, r)
	plan := &Plan{LeakRate: req.LeakRate, Background: req.Background, Combos: len(combos)}
	// One account per platform shares its phone; each path shares one
	// shipping number (orders import knows the courier, so the exposure sets
	// are identical, as SPEC's sharing rule requires).
	plan.PhonesNeeded = len(req.Platforms) + len(combos)
	if req.Phones > 0 && plan.PhonesNeeded > req.Phones {
		plan.Notes = append(plan.Notes, fmt.Sprintf("the design needs %d numbers and the budget is %d: orders on some paths will have no shipping phone token", plan.PhonesNeeded, req.Phones))
	}
	for i := range req.Orders {
		c := combos[i%len(combos)]
		o := PlannedOrder{Ref: fmt.Sprintf("p-%03d", i+1), Platform: c[0], Merchant: c[1], Courier: c[2],
			Payment: canary.PaymentPrepaid, CourierApp: true}
		if i%3 == 2 {
			o.Payment = canary.PaymentCOD
		}
		plan.Orders = append(plan.Orders, o)
	}
	cols := planColumns(plan.Orders)
	kinds := map[string]canary.PartyKind{}
	var names []string
	for _, g := range []struct {
		list []string
		kind canary.PartyKind
	}{{req.Platforms, canary.KindPlatform}, {req.Merchants, canary.KindMerchant}, {req.Couriers, canary.KindCourier}} {
		for _, n := range g.list {
			if _, dup := kinds[n]; dup {
				return nil, canary.Invalidf("%s is named twice: a party has one role in a plan", n)
			}
			kinds[n] = g.kind
			names = append(names, n)
		}
	}
	for _, n := range names {
		pp := PartyPlan{Party: n, Kind: string(kinds[n]), Orders: len(cols[n]), Twins: []string{}}
		for _, m := range names {
			if m != n && slices.Equal(cols[n], cols[m]) {
				pp.Twins = append(pp.Twins, m)
			}
		}
		if len(pp.Twins) == 0 {
			pp.CoveredBy = cover(n, names, cols, req.Simultaneous)
		}
		plan.Parties = append(plan.Parties, pp)
	}
	for i := range plan.Parties {
		plan.Parties[i].Power, plan.Parties[i].FalseAlarm = power(plan.Orders, kinds, plan.Parties[i].Party, req, r)
	}
	return plan, nil
}

// chooseCombos picks the paths to use: all of them when the phone budget
// allows, else a subset chosen greedily so that each new path pairs parties
// that have not yet been seen together.
func chooseCombos(req PlanRequest, r *rand.Rand) [][3]string {
	var all [][3]string
	for _, p := range req.Platforms {
		for _, m := range req.Merchants {
			for _, c := range req.Couriers {
				all = append(all, [3]string{p, m, c})
			}
		}
	}
	r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	limit := len(all)
	if req.Phones > 0 && req.Phones-len(req.Platforms) < limit {
		limit = max(1, req.Phones-len(req.Platforms))
	}
	limit = min(limit, req.Orders)
	if limit >= len(all) {
		return all
	}
	seen := map[string]bool{}
	var out [][3]string
	for len(out) < limit {
		best, bestScore := -1, -1
		for i, c := range all {
			if c[0] == "" {
				continue
			}
			score := 0
			for _, pair := range [][2]string{{c[0], c[1]}, {c[0], c[2]}, {c[1], c[2]}} {
				if !seen[pair[0]+"\x00"+pair[1]] {
					score++
				}
			}
			if score > bestScore {
				best, bestScore = i, score
			}
		}
		c := all[best]
		for _, pair := range [][2]string{{c[0], c[1]}, {c[0], c[2]}, {c[1], c[2]}} {
			seen[pair[0]+"\x00"+pair[1]] = true
		}
		out = append(out, c)
		all[best] = [3]string{}
	}
	return out
}

func planColumns(orders []PlannedOrder) map[string][]int {
	cols := map[string][]int{}
	for i, o := range orders {
		for _, p := range []string{o.Platform, o.Merchant, o.Courier} {
			cols[p] = append(cols[p], i)
		}
	}
	return cols
}

// cover returns up to d other parties whose orders together include all
// of n's, or nil when no such set exists.
func cover(n string, names []string, cols map[string][]int, d int) []string {
	var others []string
	for _, m := range names {
		if m != n {
			others = append(others, m)
		}
	}
	covered := func(set []string) bool {
		for _, o := range cols[n] {
			if !slices.ContainsFunc(set, func(m string) bool { return slices.Contains(cols[m], o) }) {
				return false
			}
		}
		return true
	}
	var try func(start int, set []string) []string
	try = func(start int, set []string) []string {
		if len(set) > 0 && covered(set) {
			return slices.Clone(set)
		}
		if len(set) == d {
			return nil
		}
		for i := start; i < len(others); i++ {
			if got := try(i+1, append(set, others[i])); got != nil {
				return got
			}
		}
		return nil
	}
	return try(0, nil)
}

// power simulates the design with party leaking at req.LeakRate and
// background contacts at req.Background, and counts how often the
// attribution finds it, and how often it accuses someone else.
func power(orders []PlannedOrder, kinds map[string]canary.PartyKind, leaker string, req PlanRequest, r *rand.Rand) (float64, float64) {
	found, false_ := 0, 0
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range req.Trials {
		in := Input{Now: t0.Add(120 * 24 * time.Hour), MinObservation: 30 * 24 * time.Hour, SkipIntervals: true}
		for n, k := range kinds {
			in.Parties = append(in.Parties, canary.Party{Name: n, Kind: k})
		}
		slices.SortFunc(in.Parties, func(a, b canary.Party) int { return strings.Compare(a.Name, b.Name) })
		var id int64
		for i, po := range orders {
			placed := t0.Add(time.Duration(i%60) * 24 * time.Hour)
			o := canary.Order{Investigation: "plan", Ref: po.Ref, Platform: po.Platform, Merchant: po.Merchant,
				Courier: po.Courier, Payment: po.Payment, PlacedAt: placed, ShippedAt: placed.Add(24 * time.Hour)}
			mk := func(kind canary.TokenKind, field string, unique, guess bool, parties ...string) canary.Token {
				id++
				t := canary.Token{ID: id, Investigation: "plan", Order: o.Ref, Orders: []string{o.Ref}, Kind: kind, Field: field,
					Value: fmt.Sprint(id), Key: fmt.Sprint(id), Unique: unique}
				for _, p := range parties {
					at := placed
					if p == o.Courier {
						at = o.ShippedAt
					}
					t.Exposures = append(t.Exposures, canary.Exposure{Party: p, Quality: canary.QualityFull, ExposedAt: at})
				}
				return t
			}
			toks := []canary.Token{
				mk(canary.TokenEmail, "merchant chat email", false, false, o.Platform, o.Merchant),
				mk(canary.TokenName, "shipping name", false, true, o.Platform, o.Merchant, o.Courier),
				mk(canary.TokenPhone, "shipping phone", false, true, o.Platform, o.Merchant, o.Courier),
				mk(canary.TokenFact, "order_no", true, false, o.Platform, o.Merchant, o.Courier),
			}
			if po.CourierApp {
				toks = append(toks, mk(canary.TokenEmail, "courier app email", false, false, o.Courier))
			}
			o.Tokens = toks
			in.Orders = append(in.Orders, o)
			in.Tokens = append(in.Tokens, toks...)
			contact := func(at time.Time, ts []canary.Token) {
				c := canary.Contact{ID: int64(len(in.Contacts) + 1), Channel: canary.ChannelSMS, ReceivedAt: at}
				for _, t := range ts {
					c.Matches = append(c.Matches, canary.Match{TokenID: t.ID, Kind: t.Kind, How: canary.HowBody})
				}
				in.Contacts = append(in.Contacts, c)
			}
			if (po.Platform == leaker || po.Merchant == leaker || po.Courier == leaker) && r.Float64() < req.LeakRate {
				var seen []canary.Token
				for _, t := range toks {
					if slices.ContainsFunc(t.Exposures, func(e canary.Exposure) bool { return e.Party == leaker }) && r.IntN(2) == 0 {
						seen = append(seen, t)
					}
				}
				if len(seen) == 0 {
					seen = toks[1:2]
				}
				contact(o.ShippedAt.Add(time.Duration(1+r.IntN(20))*24*time.Hour), seen)
			}
			if r.Float64() < req.Background {
				contact(placed.Add(time.Duration(2+r.IntN(60))*24*time.Hour), toks[2:3])
			}
		}
		rep := Attribute(in)
		for _, p := range rep.Parties {
			if p.Verdict != VerdictLeaked {
				continue
			}
			if p.Name == leaker {
				found++
			} else {
				false_++
				break
			}
		}
	}
	return float64(found) / float64(req.Trials), float64(false_) / float64(req.Trials)
}
