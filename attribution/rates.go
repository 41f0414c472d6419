package attribution

import (
	"slices"
	"time"

	"github.com/leaktrace/leaktrace/canary"
)

// Rate is, for one platform, merchant or courier, the share of its orders
// contacted within Days of reaching it, for journalists comparing parties.
type Rate struct {
	Party     string  `json:"party"`
	Kind      string  `json:"kind"`
	Days      int     `json:"days"`
	Orders    int     `json:"n"`
	Contacted int     `json:"contacted"`
	Share     float64 `json:"share"`
	WilsonLow float64 `json:"wilson_low"`
	WilsonHi  float64 `json:"wilson_high"`
	// First-contact delay in days, from the party's exposure to the first
	// contact naming it as a candidate: median and quartiles.
	DelayMedian *float64 `json:"delay_median_days"`
	DelayQ1     *float64 `json:"delay_q1_days"`
	DelayQ3     *float64 `json:"delay_q3_days"`
}

// rates computes Rate for every platform, merchant and courier. An order
// counts once the party has held it for Days, so recent orders do not look
// safe merely for being recent.
func rates(in Input, contacts []ContactResult, byOrder map[string]*orderExposure) []Rate {
	window := time.Duration(in.Days) * 24 * time.Hour
	first := map[string]time.Time{}               // order -> first counted contact
	firstFor := map[string]map[string]time.Time{} // order -> party -> first contact naming it
	for i := range contacts {
		c := &contacts[i]
		if !counted(c) || len(c.Orders) != 1 || len(c.Investigations) != 1 {
			continue
		}
		k := c.Investigations[0] + "\x00" + c.Orders[0]
		if t, ok := first[k]; !ok || c.ReceivedAt.Before(t) {
			first[k] = c.ReceivedAt
		}
		if firstFor[k] == nil {
			firstFor[k] = map[string]time.Time{}
		}
		for _, p := range c.Candidates {
			if t, ok := firstFor[k][p]; !ok || c.ReceivedAt.Before(t) {
				firstFor[k][p] = c.ReceivedAt
			}
		}
	}
	var out []Rate
	for _, p := range in.Parties {
		if p.Kind != canary.KindPlatform && p.Kind != canary.KindMerchant && p.Kind != canary.KindCourier {
			continue
		}
		r := Rate{Party: p.Name, Kind: string(p.Kind), Days: in.Days}
		var delays []float64
		for k, oe := range byOrder {
			at, ok := oe.parties[p.Name]
			if !ok || !oe.order.AbandonedAt.IsZero() {
				continue
			}
			if t, ok := firstFor[k][p.Name]; ok && !t.Before(at) {
				delays = append(delays, t.Sub(at).Hours()/24)
			}
			if in.Now.Sub(at) < window {
				continue
			}
			r.Orders++
			if t, ok := first[k]; ok && !t.Before(at) && t.Sub(at) <= window {
				r.Contacted++
			}
		}
		if r.Orders == 0 && len(delays) == 0 {
			continue
		}
		if r.Orders > 0 {
			r.Share = float64(r.Contacted) / float64(r.Orders)
		}
		r.WilsonLow, r.WilsonHi = wilson(r.Contacted, r.Orders)
		if len(delays) > 0 {
			slices.Sort(delays)
			q1, med, q3 := quantile(delays, 0.25), quantile(delays, 0.5), quantile(delays, 0.75)
			r.DelayQ1, r.DelayMedian, r.DelayQ3 = &q1, &med, &q3
		}
		out = append(out, r)
	}
	return out
}

// quantile of sorted values, linear between order statistics.
func quantile(s []float64, q float64) float64 {
	pos := q * float64(len(s)-1)
	i := int(pos)
	if i+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[i] + (pos-float64(i))*(s[i+1]-s[i])
}

// Timeline is what happened to one order, in time order.
type Timeline struct {
	Investigation string  `json:"investigation"`
	Order         string  `json:"order"`
	Events        []Event `json:"events"`
}

// Event is one step of a timeline.
type Event struct {
	At      time.Time `json:"at"`
	What    string    `json:"what"` // created, placed, shipped, abandoned, contact
	Detail  string    `json:"detail,omitempty"`
	Contact string    `json:"contact,omitempty"`
}

func timelines(in Input, contacts []ContactResult) []Timeline {
	var out []Timeline
	for _, o := range in.Orders {
		if in.Investigation != "" && o.Investigation != in.Investigation {
			continue
		}
		tl := Timeline{Investigation: o.Investigation, Order: o.Ref}
		add := func(at time.Time, what, detail string) {
			if !at.IsZero() {
				tl.Events = append(tl.Events, Event{At: at, What: what, Detail: detail})
			}
		}
		add(o.CreatedAt, "created", "")
		add(o.PlacedAt, "placed", o.Platform+" / "+o.Merchant)
		add(o.ShippedAt, "shipped", o.Courier)
		add(o.AbandonedAt, "abandoned", "")
		for _, c := range contacts {
			if slices.Contains(c.Orders, o.Ref) && slices.Contains(c.Investigations, o.Investigation) {
				tl.Events = append(tl.Events, Event{At: c.ReceivedAt, What: "contact", Contact: c.ID, Detail: c.Channel + " " + c.Status})
			}
		}
		slices.SortStableFunc(tl.Events, func(a, b Event) int { return a.At.Compare(b.At) })
		out = append(out, tl)
	}
	return out
}
