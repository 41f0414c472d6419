package sqlite

import (
	"cmp"
	"context"
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

type matchKey struct {
	contact, token int64
	how            string
}

type matchEntry struct {
	at      entryRef
	partial bool
	seen    bool
}

// verifyMatches compares the match rows of the verified chains'
// investigations with the entries that recorded them: token, how and
// partial one by one, and the excerpts through the hash of them that
// newer entries hold.
func (v verifier) verifyMatches(ctx context.Context, chains map[string][]canary.AuditEntry, ce *contactEntries, rep *canary.VerifyReport) error {
	rows, err := v.tx.QueryContext(ctx, `SELECT m.contact_id, m.token_id, m.how, m.partial, m.excerpt, i.name
		FROM matches m JOIN tokens t ON t.id = m.token_id JOIN investigations i ON i.id = t.investigation_id
		ORDER BY m.contact_id, m.token_id, m.how`)
	if err != nil {
		return fmt.Errorf("read matches to verify: %w", err)
	}
	defer rows.Close()
	// A contact's match rows come together: its excerpts are checked when
	// the next contact's begin, and only one contact's are held.
	excerpts, current := map[matchKey]string{}, int64(-1)
	for rows.Next() {
		var k matchKey
		var partial bool
		var excerpt, inv string
		if err := rows.Scan(&k.contact, &k.token, &k.how, &partial, &excerpt, &inv); err != nil {
			return fmt.Errorf("read matches to verify: %w", err)
		}
		if _, ok := chains[canary.InvestigationChain(inv)]; !ok {
			continue
		}
		k.how = asEncoded(k.how)
		if k.contact != current {
			verifyExcerpts(ce.excerpts[current], excerpts, rep)
			clear(excerpts)
			current = k.contact
		}
		excerpts[k] = excerpt
		rep.Rows++
		what := fmt.Sprintf("%s's match of token %d (%s)", contactName(k.contact), k.token, k.how)
		e, ok := ce.matches[k]
		switch {
		case !ok:
			rep.Problems = append(rep.Problems, canary.Problem{Chain: canary.InvestigationChain(inv), Object: contactName(k.contact), Kind: "unrecorded row",
				Detail: what + " is in no entry of its investigation's chain"})
		case e.partial != partial:
			rep.Problems = append(rep.Problems, canary.Problem{Chain: e.at.Chain, Seq: e.at.Seq, Object: contactName(k.contact), Kind: "changed row",
				Detail: fmt.Sprintf("%s is partial=%t in the database, %t in its entry", what, partial, e.partial)})
		}
		e.seen = true
		ce.matches[k] = e
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read matches to verify: %w", err)
	}
	verifyExcerpts(ce.excerpts[current], excerpts, rep)
	var gone []matchKey
	for k, e := range ce.matches {
		if !e.seen {
			gone = append(gone, k)
		}
	}
	slices.SortFunc(gone, func(a, b matchKey) int {
		return cmp.Or(cmp.Compare(a.contact, b.contact), cmp.Compare(a.token, b.token), cmp.Compare(a.how, b.how))
	})
	for _, k := range gone {
		e := ce.matches[k]
		rep.Problems = append(rep.Problems, canary.Problem{Chain: e.at.Chain, Seq: e.at.Seq, Object: contactName(k.contact), Kind: "missing row",
			Detail: fmt.Sprintf("%s's match of token %d (%s) was recorded but is no longer in the database", contactName(k.contact), k.token, k.how)})
	}
	return nil
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
