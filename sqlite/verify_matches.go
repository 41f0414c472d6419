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
	at      canary.AuditEntry
	partial bool
	seen    bool
}

// verifyMatches compares the match rows of the verified chains'
// investigations with the entries that recorded them. (A match's excerpt
// is not in its entry, so only its token, how and partial are checked.)
func (v verifier) verifyMatches(ctx context.Context, chains map[string][]canary.AuditEntry, ce contactEntries, rep *canary.VerifyReport) error {
	rows, err := v.tx.QueryContext(ctx, `SELECT m.contact_id, m.token_id, m.how, m.partial, i.name
		FROM matches m JOIN tokens t ON t.id = m.token_id JOIN investigations i ON i.id = t.investigation_id
		ORDER BY m.contact_id, m.token_id, m.how`)
	if err != nil {
		return fmt.Errorf("read matches to verify: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k matchKey
		var partial bool
		var inv string
		if err := rows.Scan(&k.contact, &k.token, &k.how, &partial, &inv); err != nil {
			return fmt.Errorf("read matches to verify: %w", err)
		}
		if _, ok := chains[canary.InvestigationChain(inv)]; !ok {
			continue
		}
		k.how = asEncoded(k.how)
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
