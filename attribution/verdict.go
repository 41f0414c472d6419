package attribution

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/leaktrace/leaktrace/canary"
)

// Verdicts and bases (SPEC.md, Attribution 5).
const (
	VerdictLeaked            = "leaked"
	VerdictSuspected         = "suspected"
	VerdictNoEvidence        = "no_evidence"
	VerdictIndistinguishable = "indistinguishable"

	BasisExclusive   = "exclusive"
	BasisStatistical = "statistical"
)

// Meaning is what a leaked verdict does and does not say, in SPEC's words.
const Meaning = "`leaked` means: data this party or its processors held reached a sender that is not " +
	"authenticated as the party. It does not say who inside the party was responsible, nor rule out a " +
	"lawful onward transfer."

// StatisticsNote says plainly what this version does not compute yet.
const StatisticsNote = "cross-order statistics (leak probability, its 95% interval, basis: statistical) are not built yet; " +
	"leak_probability, ci_low and ci_high are null except the exact 95% upper bound for parties with no contact"

// PartyResult is one party's verdict with its evidence.
type PartyResult struct {
	Name                  string   `json:"name"`
	Kind                  string   `json:"kind"`
	OrdersExposed         int      `json:"orders_exposed"`
	Contacts              int      `json:"contacts"`
	ExclusiveContacts     int      `json:"exclusive_contacts"`
	LeakProbability       *float64 `json:"leak_probability"`
	CILow                 *float64 `json:"ci_low"`
	CIHigh                *float64 `json:"ci_high"`
	Verdict               string   `json:"verdict"`
	Basis                 string   `json:"basis"`
	IndistinguishableFrom []string `json:"indistinguishable_from"`
	Separate              string   `json:"separate_with,omitempty"`
	Evidence              []string `json:"evidence_contacts"`
	Explanation           string   `json:"explanation"`
}

// Report is the attribution of an investigation (or of all of them).
type Report struct {
	Investigation string          `json:"investigation,omitempty"`
	GeneratedAt   time.Time       `json:"generated_at"`
	Parties       []PartyResult   `json:"parties"`
	Contacts      []ContactResult `json:"contacts"`
	Meaning       string          `json:"meaning"`
	Statistics    string          `json:"statistics"`
}

// Input is what Attribute reads.
type Input struct {
	Investigation  string // "" for all
	Parties        []canary.Party
	Orders         []canary.Order
	Tokens         []canary.Token
	Contacts       []canary.Contact
	Now            time.Time
	MinObservation time.Duration // an order counts as not contacted only after this long
}

// Attribute computes every contact's candidate set and every party's verdict.
func Attribute(in Input) *Report {
	rep := &Report{Investigation: in.Investigation, GeneratedAt: in.Now.UTC(), Meaning: Meaning, Statistics: StatisticsNote,
		Parties: []PartyResult{}, Contacts: []ContactResult{}}
	byID := make(map[int64]*canary.Token, len(in.Tokens))
	for i := range in.Tokens {
		byID[in.Tokens[i].ID] = &in.Tokens[i]
	}
	senders := NewSenders(in.Parties)
	for _, c := range in.Contacts {
		r := AttributeContact(c, byID, senders)
		if in.Investigation != "" && !slices.Contains(r.Investigations, in.Investigation) {
			continue
		}
		rep.Contacts = append(rep.Contacts, r)
	}
	cols := columns(in)
	twins := twinsOf(cols)
	for _, p := range in.Parties {
		if p.Kind == canary.KindPublic {
			continue // may be a source, never gets a verdict
		}
		col := cols[p.Name]
		if col == nil {
			continue // not on any order of this report
		}
		rep.Parties = append(rep.Parties, judge(p, col, twins[p.Name], rep.Contacts, in))
	}
	return rep
}

// column is what one party was shown across the report's orders.
type column struct {
	tokens []int64
	orders map[string]time.Time // order ref -> first exposure
}

func columns(in Input) map[string]*column {
	abandoned := map[string]bool{}
	for _, o := range in.Orders {
		if !o.AbandonedAt.IsZero() {
			abandoned[o.Investigation+"\x00"+o.Ref] = true
		}
	}
	cols := map[string]*column{}
	for _, t := range in.Tokens {
		if in.Investigation != "" && t.Investigation != in.Investigation {
			continue
		}
		for _, e := range t.Exposures {
			if e.Quality != canary.QualityFull {
				continue
			}
			c := cols[e.Party]
			if c == nil {
				c = &column{orders: map[string]time.Time{}}
				cols[e.Party] = c
			}
			c.tokens = append(c.tokens, t.ID)
			for _, o := range t.Orders {
				if abandoned[t.Investigation+"\x00"+o] {
					continue
				}
				if first, ok := c.orders[o]; !ok || e.ExposedAt.Before(first) {
					c.orders[o] = e.ExposedAt
				}
			}
		}
	}
	for _, c := range cols {
		slices.Sort(c.tokens)
		c.tokens = slices.Compact(c.tokens)
	}
	return cols
}

// twinsOf finds parties shown exactly the same tokens: no contact can ever
// tell them apart. A nested column (one party saw a strict subset) can still
// be separated and is not a twin.
func twinsOf(cols map[string]*column) map[string][]string {
	byKey := map[string][]string{}
	for name, c := range cols {
		var b strings.Builder
		for _, id := range c.tokens {
			b.WriteString(strconv.FormatInt(id, 10))
			b.WriteByte(',')
		}
		byKey[b.String()] = append(byKey[b.String()], name)
	}
	out := map[string][]string{}
	for _, names := range byKey {
		if len(names) < 2 {
			continue
		}
		slices.Sort(names)
		for _, n := range names {
			out[n] = slices.DeleteFunc(slices.Clone(names), func(s string) bool { return s == n })
		}
	}
	return out
}

func judge(p canary.Party, col *column, twins []string, contacts []ContactResult, in Input) PartyResult {
	r := PartyResult{Name: p.Name, Kind: string(p.Kind), OrdersExposed: len(col.orders),
		IndistinguishableFrom: []string{}, Evidence: []string{}, Verdict: VerdictNoEvidence}
	if twins != nil {
		r.IndistinguishableFrom = twins
	}
	var exclusive [][]string
	attributed := 0
	for _, c := range contacts {
		if c.Status == StatusFirstParty || c.Mark == canary.MarkIgnore || !slices.Contains(c.Candidates, p.Name) {
			continue
		}
		if c.Status != StatusAttributed && c.Status != StatusAmbiguous && c.Status != StatusMerged {
			continue
		}
		r.Contacts++
		if c.Status == StatusAttributed {
			attributed++
			r.Evidence = append(r.Evidence, c.ID)
		}
		if c.Exclusive {
			r.ExclusiveContacts++
			exclusive = append(exclusive, c.Orders)
		}
	}
	switch {
	case disjointSets(exclusive) >= 2:
		r.Verdict, r.Basis = VerdictLeaked, BasisExclusive
		r.Explanation = fmt.Sprintf("%d contacts on different orders reached email tokens or order numbers that only %s had been shown", r.ExclusiveContacts, p.Name)
	case len(twins) > 0:
		r.Verdict = VerdictIndistinguishable
		r.Separate = separateHint(p.Name, twins)
		r.Explanation = fmt.Sprintf("%s was shown exactly the same tokens as %s: no contact can tell them apart", p.Name, strings.Join(twins, ", "))
	case r.ExclusiveContacts > 0 || attributed > 0:
		r.Verdict = VerdictSuspected
		r.Explanation = fmt.Sprintf("%d contact(s) point at %s alone (%d through tokens that cannot be guessed); a leaked verdict needs two on different orders through email tokens or order numbers", attributed, p.Name, r.ExclusiveContacts)
	default:
		r.Explanation = fmt.Sprintf("no contact points at %s alone", p.Name)
		if r.Contacts == 0 {
			if n := observed(col, in); n > 0 {
				// Exact binomial bound with no contacted order in n: 1 - 0.05^(1/n).
				hi := 1 - math.Pow(0.05, 1/float64(n))
				zero := 0.0
				r.LeakProbability, r.CILow, r.CIHigh = &zero, &zero, &hi
				r.Explanation = fmt.Sprintf("none of %d orders observed for %s was contacted: its leak probability is below %.3f (95%%)", n, minObsText(in), hi)
			}
		}
	}
	return r
}

func minObsText(in Input) string {
	return fmt.Sprintf("%d days", int(in.MinObservation.Hours()/24))
}

// observed counts the orders exposed to a party long enough ago to count as
// not contacted.
func observed(col *column, in Input) int {
	n := 0
	for _, at := range col.orders {
		if !at.IsZero() && in.Now.Sub(at) >= in.MinObservation {
			n++
		}
	}
	return n
}

// disjointSets counts contacts whose order sets share no order, greedily:
// two contacts about the same order record may be one leak seen twice.
func disjointSets(sets [][]string) int {
	// Smallest first, so one contact about a whole account's orders does not
	// hide two contacts about one order each.
	sets = slices.Clone(sets)
	slices.SortStableFunc(sets, func(a, b []string) int { return len(a) - len(b) })
	var used []string
	n := 0
	for _, s := range sets {
		if len(s) == 0 || slices.ContainsFunc(s, func(o string) bool { return slices.Contains(used, o) }) {
			continue
		}
		used = append(used, s...)
		n++
	}
	return n
}

func separateHint(name string, twins []string) string {
	return fmt.Sprintf("orders on which %s sees a token that %s does not (another courier or merchant on the same path, or a field only one of them is shown)",
		name, strings.Join(twins, ", "))
}
