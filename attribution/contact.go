package attribution

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/leaktrace/leaktrace/canary"
)

// Contact statuses.
const (
	StatusAttributed = "attributed"
	StatusAmbiguous  = "ambiguous"
	StatusMerged     = "merged"
	StatusUnissued   = "unissued"
	StatusUnmatched  = "unmatched"
	StatusFirstParty = "first_party"
)

// MatchOut is one match as reports show it.
type MatchOut struct {
	Kind    canary.TokenKind `json:"kind"`
	Value   string           `json:"value"`
	Field   string           `json:"field"`
	How     string           `json:"how"`
	Partial bool             `json:"partial,omitempty"`
	Excerpt string           `json:"excerpt,omitempty"`
}

// ContactResult is the attribution of one contact.
type ContactResult struct {
	ID         string     `json:"id"`
	Channel    string     `json:"channel"`
	ReceivedAt time.Time  `json:"received_at"`
	From       string     `json:"from,omitempty"`
	Subject    string     `json:"subject,omitempty"`
	Status     string     `json:"status"`
	Order      string     `json:"order"`
	Orders     []string   `json:"orders"`
	Matched    []MatchOut `json:"matched"`
	Candidates []string   `json:"candidates"`
	// Exclusive is true when the candidate is one party through tokens that
	// cannot be guessed (email tokens, order and tracking numbers).
	Exclusive bool     `json:"exclusive"`
	Unissued  []string `json:"unissued,omitempty"`
	Mark      string   `json:"mark,omitempty"`
	Why       string   `json:"why,omitempty"`
	Raw       string   `json:"raw_sha256"`
	// Investigations the matched tokens belong to.
	Investigations []string `json:"investigations,omitempty"`
	// FirstParty names the party the mail was authenticated as, when that
	// party had been shown what it was sent to.
	FirstParty string `json:"first_party,omitempty"`
}

// group is the tokens that share one matched value: a phone number serving
// several orders, a price two orders share. The source knew the value
// through one of them, so a group's parties are the union of theirs.
type group struct {
	kind    canary.TokenKind
	unguess bool
	parties []string
	records []string // investigation + "\x00" + order ref
}

// Senders maps a mail domain to the party that sends from it.
type Senders map[string]string

// NewSenders indexes the parties' mail domains.
func NewSenders(parties []canary.Party) Senders {
	s := Senders{}
	for _, p := range parties {
		for _, d := range p.Domains {
			s[canary.DomainKey(d)] = p.Name
		}
	}
	return s
}

// party returns the party an authenticated domain belongs to, also for its
// subdomains (mail.shopa.vn sends for shopa.vn).
func (s Senders) party(domain string) string {
	for d := canary.DomainKey(domain); d != ""; {
		if p, ok := s[d]; ok {
			return p
		}
		i := strings.IndexByte(d, '.')
		if i < 0 {
			break
		}
		d = d[i+1:]
	}
	return ""
}

// AttributeContact computes a contact's candidate set and status (SPEC.md,
// Attribution 1-3).
func AttributeContact(c canary.Contact, tokens map[int64]*canary.Token, senders Senders) ContactResult {
	r := ContactResult{
		ID: strconv.FormatInt(c.ID, 10), Channel: string(c.Channel), ReceivedAt: c.ReceivedAt,
		From: c.From, Subject: c.Subject, Mark: c.Mark, Why: c.MarkWhy, Raw: c.RawSHA256,
		Unissued: c.Unissued, Matched: []MatchOut{}, Candidates: []string{}, Orders: []string{},
	}
	groups := map[string]*group{}
	var order []string
	var partialParties []string
	var controlHit bool
	for _, m := range c.Matches {
		t := tokens[m.TokenID]
		if t == nil {
			continue
		}
		r.Matched = append(r.Matched, MatchOut{Kind: t.Kind, Value: t.Value, Field: t.Field, How: m.How, Partial: m.Partial, Excerpt: m.Excerpt})
		if !slices.Contains(r.Investigations, t.Investigation) {
			r.Investigations = append(r.Investigations, t.Investigation)
		}
		seen := t.SeenBy(c.ReceivedAt)
		if m.Partial {
			partialParties = union(partialParties, seen)
			continue
		}
		if len(seen) == 0 {
			// Nobody had been shown it yet: a control, or a guess.
			controlHit = true
			continue
		}
		key := string(t.Kind) + "\x00" + t.Key
		g := groups[key]
		if g == nil {
			g = &group{kind: t.Kind, unguess: t.Kind == canary.TokenEmail || (t.Kind == canary.TokenFact && t.Unique)}
			groups[key] = g
			order = append(order, key)
		}
		g.parties = union(g.parties, seen)
		for _, o := range t.Orders {
			g.records = union(g.records, []string{t.Investigation + "\x00" + o})
		}
	}
	var sets, recordSets [][]string
	for _, k := range order {
		sets = append(sets, groups[k].parties)
		recordSets = append(recordSets, groups[k].records)
	}
	// The order record that holds every matched value. When none does, the
	// values came from several records: one party holding them all may have
	// leaked them together, or a broker merged two leaks. The intersection
	// would then point at whatever party the records share (the platform)
	// without evidence, so each record is judged on its own values and the
	// candidates are the union of those judgements.
	records := intersectAll(recordSets)
	single := len(records) > 0
	if !single {
		records = unionAll(recordSets)
	}
	for _, rec := range records {
		_, ref, _ := strings.Cut(rec, "\x00")
		if !slices.Contains(r.Orders, ref) {
			r.Orders = append(r.Orders, ref)
		}
	}
	slices.Sort(r.Orders)
	switch {
	case len(sets) > 0 && single:
		cand := intersectAll(sets)
		if len(cand) == 0 {
			r.Status, r.Candidates = StatusMerged, unionAll(sets)
			break
		}
		r.Candidates, r.Status = cand, StatusAmbiguous
		if len(cand) == 1 {
			r.Status = StatusAttributed
			// Exclusive only if the tokens nobody can guess narrow it to the
			// party by themselves: a guessed name must not frame anyone.
			var unguessable [][]string
			for _, k := range order {
				if groups[k].unguess {
					unguessable = append(unguessable, groups[k].parties)
				}
			}
			ug := intersectAll(unguessable)
			r.Exclusive = len(unguessable) > 0 && len(ug) == 1 && ug[0] == cand[0]
		}
	case len(sets) > 0:
		var judged [][]string
		for _, rec := range records {
			var own [][]string
			for _, k := range order {
				if slices.Contains(groups[k].records, rec) {
					own = append(own, groups[k].parties)
				}
			}
			if c := intersectAll(own); len(c) > 0 {
				judged = append(judged, c)
			} else {
				judged = append(judged, unionAll(own))
			}
		}
		r.Candidates, r.Status = unionAll(judged), StatusMerged
	case len(partialParties) > 0:
		// A masked number narrows nothing: it can only say who might have known.
		r.Status, r.Candidates = StatusAmbiguous, partialParties
	case controlHit || len(c.Unissued) > 0:
		r.Status = StatusUnissued
	default:
		r.Status = StatusUnmatched
	}
	slices.Sort(r.Candidates)
	if len(r.Orders) == 1 {
		r.Order = r.Orders[0]
	}
	// A party writing to what it was given is not a leak, but only mail
	// authenticated for its domain proves who wrote it; a claim in From is
	// what impersonators make. A party's authenticated mail to a token it
	// was never shown stays evidence: someone shared the token with it.
	for _, d := range c.AuthDomains {
		if p := senders.party(d); p != "" && slices.Contains(unionAll(sets), p) {
			r.FirstParty = p
		}
	}
	if c.Mark == canary.MarkFirstParty || (r.FirstParty != "" && c.Mark != canary.MarkScam) {
		r.Status, r.Exclusive = StatusFirstParty, false
	}
	return r
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, v := range b {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func unionAll(sets [][]string) []string {
	var out []string
	for _, s := range sets {
		out = union(out, s)
	}
	return out
}

func intersectAll(sets [][]string) []string {
	if len(sets) == 0 {
		return nil
	}
	out := slices.Clone(sets[0])
	for _, s := range sets[1:] {
		out = slices.DeleteFunc(out, func(v string) bool { return !slices.Contains(s, v) })
	}
	return out
}
