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

// StatisticsNote says how the numbers were made.
const StatisticsNote = "leak_probability is the maximum-likelihood q of a noisy-OR model over order records with a " +
	"background rate b fitted from controls (abandoned orders, quarantined numbers) and orders without the party; " +
	"ci_low..ci_high is its 95% profile-likelihood interval; basis: statistical needs a likelihood-ratio test of q = 0, " +
	"Holm-adjusted across every party of the report, and at least 10 orders exposed to the party"

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
	PValue                *float64 `json:"p_value"` // likelihood-ratio test of q = 0, before Holm
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
	Background    *float64        `json:"background_rate"`
	Alpha         float64         `json:"alpha"`
	Rates         []Rate          `json:"rates"`
	Timelines     []Timeline      `json:"timelines,omitempty"`
}

// Input is what Attribute reads.
type Input struct {
	Investigation  string // "" for all
	Parties        []canary.Party
	Orders         []canary.Order
	Tokens         []canary.Token
	Contacts       []canary.Contact
	Pool           []canary.Phone
	Now            time.Time
	MinObservation time.Duration // an order counts as not contacted only after this long
	Alpha          float64       // family-wise error rate of statistical verdicts (0.05 when 0)
	Days           int           // window of the journalists' rates (30 when 0)
	Timelines      bool          // include a timeline per order
	// SkipIntervals leaves out the profile intervals, which decide no
	// verdict: simulations and plan's power estimates run thousands of fits.
	SkipIntervals bool
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
	all := make([]ContactResult, len(in.Contacts))
	parallel(len(in.Contacts), func(i int) { all[i] = AttributeContact(in.Contacts[i], byID, senders) })
	if in.Investigation == "" {
		rep.Contacts = all
	} else {
		for i := range all {
			if slices.Contains(all[i].Investigations, in.Investigation) {
				rep.Contacts = append(rep.Contacts, all[i])
			}
		}
	}
	if in.Alpha <= 0 {
		in.Alpha = 0.05
	}
	if in.Days <= 0 {
		in.Days = 30
	}
	rep.Alpha = in.Alpha
	cols := columns(in)
	twins := twinsOf(cols)
	byOrder := exposuresByOrder(in)
	tl := tallyContacts(rep.Contacts)
	st := fitParties(in, rep.Contacts, byOrder)
	if st != nil {
		b := st.mle.b
		rep.Background = &b
	}
	for _, p := range in.Parties {
		if p.Kind == canary.KindPublic {
			continue // may be a source, never gets a verdict
		}
		col := cols[p.Name]
		if col == nil {
			continue // not on any order of this report
		}
		rep.Parties = append(rep.Parties, judge(p, col, twins[p.Name], tl[p.Name], in, st.of(p.Name)))
	}
	rep.Rates = rates(in, rep.Contacts, byOrder)
	if in.Timelines {
		rep.Timelines = timelines(in, rep.Contacts)
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

// tallies counts, per party, the contacts that name it, in one pass.
type tallies struct {
	contacts, attributed int
	evidence             []string
	exclusive            [][]string
}

// maxEvidence bounds the contact IDs listed per party; the counts are whole.
const maxEvidence = 50

func tallyContacts(contacts []ContactResult) map[string]*tallies {
	out := map[string]*tallies{}
	for i := range contacts {
		c := &contacts[i]
		if !counted(c) {
			continue
		}
		for _, p := range c.Candidates {
			t := out[p]
			if t == nil {
				t = &tallies{}
				out[p] = t
			}
			t.contacts++
			if c.Status == StatusAttributed {
				t.attributed++
				if len(t.evidence) < maxEvidence {
					t.evidence = append(t.evidence, c.ID)
				}
			}
			if c.Exclusive {
				t.exclusive = append(t.exclusive, c.Orders)
			}
		}
	}
	return out
}

func judge(p canary.Party, col *column, twins []string, tl *tallies, in Input, st partyStats) PartyResult {
	r := PartyResult{Name: p.Name, Kind: string(p.Kind), OrdersExposed: len(col.orders),
		IndistinguishableFrom: []string{}, Evidence: []string{}, Verdict: VerdictNoEvidence}
	if twins != nil {
		r.IndistinguishableFrom = twins
	}
	if tl == nil {
		tl = &tallies{}
	}
	exclusive, attributed := tl.exclusive, tl.attributed
	r.Contacts, r.ExclusiveContacts = tl.contacts, len(tl.exclusive)
	if tl.evidence != nil {
		r.Evidence = tl.evidence
	}
	if st.fitted {
		r.LeakProbability, r.PValue = &st.q, &st.p
		if st.intervals {
			r.CILow, r.CIHigh = &st.lo, &st.hi
		}
	}
	switch {
	case disjointSets(exclusive, 2) >= 2:
		r.Verdict, r.Basis = VerdictLeaked, BasisExclusive
		r.Explanation = fmt.Sprintf("%d contacts on different orders reached email tokens or order numbers that only %s had been shown", r.ExclusiveContacts, p.Name)
	case len(twins) > 0:
		r.Verdict = VerdictIndistinguishable
		r.Separate = separateHint(p.Name, twins, in.Parties)
		r.Explanation = fmt.Sprintf("%s was shown exactly the same tokens as %s: no contact can tell them apart", p.Name, strings.Join(twins, ", "))
	case st.rejected && r.OrdersExposed >= minStatisticalOrders:
		r.Verdict, r.Basis = VerdictLeaked, BasisStatistical
		r.Explanation = fmt.Sprintf("across %d orders its leak probability is %.2f (95%% interval %.2f–%.2f); q = 0 is rejected (p = %.2g, Holm-adjusted at α = %.2g)",
			r.OrdersExposed, st.q, st.lo, st.hi, st.p, in.Alpha)
	case r.ExclusiveContacts > 0 || attributed > 0:
		r.Verdict = VerdictSuspected
		r.Explanation = fmt.Sprintf("%d contact(s) point at %s alone (%d through tokens that cannot be guessed); a leaked verdict needs two on different orders through email tokens or order numbers, or a significant leak rate", attributed, p.Name, r.ExclusiveContacts)
	case st.rejected || (st.fitted && st.p < in.Alpha):
		r.Verdict = VerdictSuspected
		r.Explanation = fmt.Sprintf("its leak probability is %.2f (95%% interval %.2f–%.2f), but %s", st.q, st.lo, st.hi,
			suspectedWhy(r.OrdersExposed, st.rejected))
	default:
		r.Explanation = fmt.Sprintf("no contact points at %s alone", p.Name)
		if st.fitted {
			r.Explanation = fmt.Sprintf("the evidence does not show a leak: its leak probability is at most %.2f (95%%)", st.hi)
		} else if r.Contacts == 0 {
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

// minStatisticalOrders is SPEC's floor for a statistical verdict.
const minStatisticalOrders = 10

func suspectedWhy(orders int, rejected bool) string {
	if rejected {
		return fmt.Sprintf("a statistical verdict needs at least %d orders exposed to the party (it has %d)", minStatisticalOrders, orders)
	}
	return "the test of q = 0 does not survive the Holm adjustment across all parties"
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

// disjointSets counts, up to need, contacts whose order sets share no
// order: two contacts about the same order record may be one leak seen
// twice. Smallest sets first, so one contact about a whole account's orders
// does not hide two contacts about one order each.
func disjointSets(sets [][]string, need int) int {
	sets = slices.Clone(sets)
	slices.SortStableFunc(sets, func(a, b []string) int { return len(a) - len(b) })
	used := map[string]bool{}
	n := 0
	for _, s := range sets {
		if len(s) == 0 || slices.ContainsFunc(s, func(o string) bool { return used[o] }) {
			continue
		}
		for _, o := range s {
			used[o] = true
		}
		if n++; n >= need {
			break
		}
	}
	return n
}

// separateHint names orders that would tell name from its twins: an order
// on which name is, and a party of the twin's kind other than the twin.
func separateHint(name string, twins []string, parties []canary.Party) string {
	kind := map[string]canary.PartyKind{}
	for _, p := range parties {
		kind[p.Name] = p.Kind
	}
	var ideas []string
	for _, tw := range twins {
		for _, p := range parties {
			if p.Kind == kind[tw] && p.Name != tw && p.Name != name && p.Kind != canary.KindPublic {
				ideas = append(ideas, fmt.Sprintf("an order with %s and %s instead of %s", name, p.Name, tw))
				break
			}
		}
	}
	if len(ideas) == 0 {
		return fmt.Sprintf("orders on which %s sees a token that %s does not (another %s on the same path, or a field only one of them is shown, such as a fresh email registered in the courier's app)",
			name, strings.Join(twins, ", "), kind[twins[0]])
	}
	return strings.Join(ideas, "; ") + "; or a field only one of them is shown, such as a fresh email registered in the courier's app"
}
