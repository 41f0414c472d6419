package sqlite

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/leaktrace/leaktrace/canary"
)

// recordedMatch is one match of a "matches made" entry, or the whole
// detail of a "match made" entry (one per match, before November 2026).
type recordedMatch struct {
	How     string `json:"how"`
	Partial bool   `json:"partial"`
	Token   int64  `json:"token"`
}

// matchKey names a match in the chain that recorded it: a match row is
// recorded only by its token's investigation's chain, never by another.
type matchKey struct {
	chain          string
	contact, token int64
	how            string
}

type matchEntry struct {
	at      entryRef
	partial bool
	seen    bool
}

// matchRow is a match as the matches table holds it.
type matchRow struct {
	key          matchKey
	partial      bool
	excerpt, inv string
}

// checkMatches compares a contact's match rows in the verified chains'
// investigations with the entries that recorded them: token, how and
// partial one by one, and the excerpts through the hash of them that
// newer entries hold.
func checkMatches(id int64, rows []matchRow, ce *contactEntries, rep *canary.VerifyReport) {
	excerpts := make(map[matchKey]string, len(rows))
	for _, r := range rows {
		k := r.key
		rep.Rows++
		excerpts[k] = r.excerpt
		what := fmt.Sprintf("%s's match of token %d (%s)", contactName(id), k.token, k.how)
		e, ok := ce.matches[k]
		switch {
		case !ok:
			rep.Problems = append(rep.Problems, canary.Problem{Chain: canary.InvestigationChain(r.inv), Object: contactName(id), Kind: "unrecorded row",
				Detail: what + " is in no entry of its investigation's chain"})
			continue
		case e.partial != r.partial:
			rep.Problems = append(rep.Problems, canary.Problem{Chain: e.at.Chain, Seq: e.at.Seq, Object: contactName(id), Kind: "changed row",
				Detail: fmt.Sprintf("%s is partial=%t in the database, %t in its entry", what, r.partial, e.partial)})
		}
		e.seen = true
		ce.matches[k] = e
	}
	verifyExcerpts(ce.excerpts, excerpts, rep)
	var gone []matchKey
	for k, e := range ce.matches {
		if !e.seen {
			gone = append(gone, k)
		}
	}
	slices.SortFunc(gone, func(a, b matchKey) int {
		return cmp.Or(cmp.Compare(a.token, b.token), cmp.Compare(a.how, b.how), cmp.Compare(a.chain, b.chain))
	})
	for _, k := range gone {
		e := ce.matches[k]
		rep.Problems = append(rep.Problems, canary.Problem{Chain: e.at.Chain, Seq: e.at.Seq, Object: contactName(id), Kind: "missing row",
			Detail: fmt.Sprintf("%s's match of token %d (%s) was recorded but is no longer in the database", contactName(id), k.token, k.how)})
	}
}

// verifyExcerpts checks each entry's excerpts hash against the excerpts
// held. An entry one of whose matches is gone is left to the missing-row
// report.
func verifyExcerpts(entries []excerptsEntry, held map[matchKey]string, rep *canary.VerifyReport) {
	for _, x := range entries {
		if len(x.keys) == 0 {
			continue
		}
		list := make([]string, 0, len(x.keys))
		for _, k := range x.keys {
			if e, ok := held[k]; ok {
				list = append(list, e)
			}
		}
		if len(list) < len(x.keys) || excerptsHash(list) == x.sha {
			continue
		}
		id := x.keys[0].contact
		rep.Problems = append(rep.Problems, canary.Problem{Chain: x.at.Chain, Seq: x.at.Seq, Object: contactName(id), Kind: "changed row",
			Detail: fmt.Sprintf("%s's match excerpts are not those its entry hashed: what a report quotes as the sender's words was changed", contactName(id))})
	}
}
