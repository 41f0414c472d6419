package sqlite

import (
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

// checkMarks compares a contact's marks (as markText writes them, in
// order) with the "contact marked" entries of each verified chain that
// recorded the contact.
func checkMarks(id int64, have []string, ce *contactEntries, rep *canary.VerifyReport) {
	for _, r := range ce.received {
		chain := r.at.Chain
		var recorded []string
		for _, m := range ce.marks[chain] {
			recorded = append(recorded, markText(m.Mark, m.Why, m.time))
		}
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

func markText(mark, why, at string) string {
	if why == "" {
		return mark + " at " + at
	}
	return mark + " (" + why + ") at " + at
}
