package sqlite

import (
	"context"
	"fmt"
	"slices"

	"github.com/leaktrace/leaktrace/canary"
)

// markEntry is a "contact marked" entry: a person's judgement, which can
// take a contact out of the evidence ("ignore") or make it first-party.
type markEntry struct {
	at        entryRef
	time      string // the entry's, as written
	Mark, Why string
}

// verifyMarks compares each contact's marks, in order, with the "contact
// marked" entries of every verified chain that recorded the contact.
func (v verifier) verifyMarks(ctx context.Context, ce *contactEntries, rep *canary.VerifyReport) error {
	rows, err := v.tx.QueryContext(ctx, `SELECT contact_id, mark, why, marked_at FROM marks ORDER BY contact_id, id`)
	if err != nil {
		return fmt.Errorf("read marks to verify: %w", err)
	}
	stored := map[int64][]string{}
	for rows.Next() {
		var id int64
		var mark, why, at string
		if err := rows.Scan(&id, &mark, &why, &at); err != nil {
			rows.Close()
			return fmt.Errorf("read marks to verify: %w", err)
		}
		stored[id] = append(stored[id], markText(asEncoded(mark), asEncoded(why), asEncoded(at)))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read marks to verify: %w", err)
	}
	ids := make([]int64, 0, len(ce.received))
	for id := range ce.received {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		for _, r := range ce.received[id] {
			chain := r.at.Chain
			var recorded []string
			for _, m := range ce.marks[id][chain] {
				// A mark and its entry are written in one transaction,
				// at one time.
				recorded = append(recorded, markText(m.Mark, m.Why, m.time))
			}
			have := stored[id]
			rep.Rows += len(have)
			if slices.Equal(have, recorded) {
				continue
			}
			kind := "changed row"
			switch {
			case len(have) > len(recorded):
				kind = "unrecorded row"
			case len(have) < len(recorded):
				kind = "missing row"
			}
			rep.Problems = append(rep.Problems, canary.Problem{Chain: chain, Seq: r.at.Seq, Object: contactName(id), Kind: kind,
				Detail: fmt.Sprintf("%s's marks are %s in the database, %s in the chain", contactName(id), listText(have), listText(recorded))})
		}
	}
	return nil
}

func markText(mark, why, at string) string {
	if why == "" {
		return mark + " at " + at
	}
	return mark + " (" + why + ") at " + at
}
