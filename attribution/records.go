package attribution

import (
	"slices"
	"time"

	"github.com/leaktrace/leaktrace/canary"
)

// record is one order record (or control) as the model sees it.
type record struct {
	order     string
	sources   []string
	contacted bool
}

// orderExposure is who held an order's record and since when.
type orderExposure struct {
	order   *canary.Order
	parties map[string]time.Time // first full exposure of any of its own tokens
}

// exposuresByOrder collects, per order in scope, the parties shown its own
// tokens (the account's tokens belong to several records and are left to
// per-contact attribution).
func exposuresByOrder(in Input) map[string]*orderExposure {
	out := map[string]*orderExposure{}
	for i := range in.Orders {
		o := &in.Orders[i]
		if in.Investigation != "" && o.Investigation != in.Investigation {
			continue
		}
		oe := &orderExposure{order: o, parties: map[string]time.Time{}}
		for _, t := range o.Tokens {
			if t.Order != o.Ref {
				continue
			}
			for _, e := range t.Exposures {
				if e.Quality != canary.QualityFull {
					continue
				}
				if first, ok := oe.parties[e.Party]; !ok || e.ExposedAt.Before(first) {
					oe.parties[e.Party] = e.ExposedAt
				}
			}
		}
		out[o.Investigation+"\x00"+o.Ref] = oe
	}
	return out
}

// counted reports whether a contact is evidence of a leak at all.
func counted(c *ContactResult) bool {
	if c.Status == StatusFirstParty || c.Mark == canary.MarkIgnore {
		return false
	}
	return c.Status == StatusAttributed || c.Status == StatusAmbiguous || c.Status == StatusMerged
}

// buildRecords turns orders, contacts and controls into model records.
//
// A contacted record's sources are its contacts' candidates. A record not
// contacted counts only for the parties that have held it for at least
// MinObservation: silence after two days says nothing. A contact that
// points at several orders (a shared number, an account's token) does not
// say which record leaked, so it marks none: that loses power, never
// accuses. Abandoned orders and quarantined numbers are controls with no
// source but the background.
func buildRecords(in Input, contacts []ContactResult, byOrder map[string]*orderExposure) []record {
	cand := map[string][]string{}
	for i := range contacts {
		c := &contacts[i]
		if !counted(c) || len(c.Orders) != 1 || len(c.Investigations) != 1 {
			continue
		}
		k := c.Investigations[0] + "\x00" + c.Orders[0]
		cand[k] = union(cand[k], c.Candidates)
	}
	var out []record
	for k, oe := range byOrder {
		o := oe.order
		if !o.AbandonedAt.IsZero() {
			continue
		}
		if cs, ok := cand[k]; ok {
			out = append(out, record{order: k, sources: cs, contacted: true})
			continue
		}
		var src []string
		for p, at := range oe.parties {
			if in.Now.Sub(at) >= in.MinObservation {
				src = append(src, p)
			}
		}
		if len(src) > 0 {
			slices.Sort(src)
			out = append(out, record{order: k, sources: src})
		}
	}
	out = append(out, controls(in, byOrder)...)
	slices.SortFunc(out, func(a, b record) int {
		switch {
		case a.order < b.order:
			return -1
		case a.order > b.order:
			return 1
		}
		return 0
	})
	return out
}

// controls are records nobody was shown: abandoned orders observed for
// MinObservation, and pool numbers whose quarantine has ended. A contact to
// one of them measures the background.
func controls(in Input, byOrder map[string]*orderExposure) []record {
	var out []record
	byID := map[int64]*canary.Token{}
	for i := range in.Tokens {
		byID[in.Tokens[i].ID] = &in.Tokens[i]
	}
	hit := map[string]bool{}
	for _, c := range in.Contacts {
		if c.Mark == canary.MarkIgnore {
			continue
		}
		for _, m := range c.Matches {
			if t := byID[m.TokenID]; t != nil && t.Order != "" {
				hit[t.Investigation+"\x00"+t.Order] = true
			}
		}
	}
	for k, oe := range byOrder {
		o := oe.order
		if o.AbandonedAt.IsZero() || in.Now.Sub(o.AbandonedAt) < in.MinObservation {
			continue
		}
		out = append(out, record{order: "control:" + k, contacted: hit[k]})
	}
	reached := map[string][]time.Time{}
	for _, c := range in.Contacts {
		if c.Mark == canary.MarkIgnore {
			continue
		}
		for _, u := range c.Unissued {
			reached[u] = append(reached[u], c.ReceivedAt)
		}
	}
	for _, p := range in.Pool {
		if p.QuarantineUntil.Sub(p.ImportedAt) < in.MinObservation || in.Now.Before(p.QuarantineUntil) {
			continue
		}
		contacted := slices.ContainsFunc(reached[p.E164], func(at time.Time) bool {
			return !at.Before(p.ImportedAt) && at.Before(p.QuarantineUntil)
		})
		out = append(out, record{order: "control:" + p.E164, contacted: contacted})
	}
	return out
}
