package sqlite

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/leaktrace/leaktrace/canary"
)

// A chain whose links all hold proves only itself: someone who can write
// the database file could still change a contact's time or authentication
// results and leave the chain alone. So verify also reads every contact
// and match back against the entries that recorded them.

// recordedContact is a "contact received" detail as any version wrote it;
// a nil field is one that version did not record.
type recordedContact struct {
	AsWritten            *string         `json:"as_written"`
	AuthenticatedDomains json.RawMessage `json:"authenticated_domains"` // null when empty, in some versions
	Channel              *string         `json:"channel"`
	RawSHA256            *string         `json:"raw_sha256"`
	ReceiptSHA256        *string         `json:"receipt_sha256"`
	ReceivedAt           *string         `json:"received_at"`
	Size                 *int64          `json:"size"`
	Source               *string         `json:"source"`
	Unissued             json.RawMessage `json:"unissued"`
}

// contactEntries is what verified chains say of one contact: only what
// its rows are compared with, and where each was said.
type contactEntries struct {
	received []receivedEntry
	matches  map[matchKey]matchEntry
	marks    map[string][]markEntry // by chain, in order
	excerpts []excerptsEntry
}

// entryRef names an entry in a report.
type entryRef struct {
	Chain string
	Seq   int64
}

func refOf(e canary.AuditEntry) entryRef { return entryRef{e.Chain, e.Seq} }

type receivedEntry struct {
	at     entryRef
	detail recordedContact
}

// excerptsEntry is a "matches made" entry that hashed its matches'
// excerpts (entries written since December 2026).
type excerptsEntry struct {
	at   entryRef
	keys []matchKey // in the entry's order
	sha  string
}

func newContactEntries() *contactEntries {
	return &contactEntries{matches: map[matchKey]matchEntry{}, marks: map[string][]markEntry{}}
}

// reset empties ce for the next contact, keeping its maps' room.
func (ce *contactEntries) reset() {
	ce.received, ce.excerpts = ce.received[:0], ce.excerpts[:0]
	clear(ce.matches)
	clear(ce.marks)
}

// contactEntryActions are the entries that speak of one contact, named
// "contact N".
var contactEntryActions = []string{"contact received", "matches made", "match made", "contact marked"}

// contactEntryOf reports whether an entry speaks of one contact, and which.
func contactEntryOf(action, subject string) (int64, bool) {
	if !slices.Contains(contactEntryActions, action) {
		return 0, false
	}
	rest, ok := strings.CutPrefix(subject, "contact ")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	return id, err == nil
}

// add reads e, an entry of contact id. An entry whose detail cannot be
// read is itself a problem: it was hashed as written, so only a bug or a
// forger could have made it so.
func (ce *contactEntries) add(id int64, e canary.AuditEntry, rep *canary.VerifyReport) {
	bad := func(err error) {
		rep.Problems = append(rep.Problems, canary.Problem{Chain: e.Chain, Seq: e.Seq, Object: e.Subject, Kind: "unreadable entry",
			Detail: fmt.Sprintf("%q entry for %s: %v", e.Action, e.Subject, err)})
	}
	var ms []recordedMatch
	switch e.Action {
	case "contact received":
		var d recordedContact
		if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
			bad(err)
			return
		}
		ce.received = append(ce.received, receivedEntry{refOf(e), d})
		return
	case "contact marked":
		m := markEntry{at: refOf(e), time: fmtTime(e.At)}
		if err := json.Unmarshal([]byte(e.Detail), &m); err != nil {
			bad(err)
			return
		}
		ce.marks[e.Chain] = append(ce.marks[e.Chain], m)
		return
	case "matches made":
		var d struct {
			ExcerptsSHA256 *string `json:"excerpts_sha256"`
			Matches        []recordedMatch
		}
		if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
			bad(err)
			return
		}
		ms = d.Matches
		if d.ExcerptsSHA256 != nil && len(ms) > 0 {
			x := excerptsEntry{at: refOf(e), sha: *d.ExcerptsSHA256}
			for _, m := range ms {
				x.keys = append(x.keys, matchKey{e.Chain, id, m.Token, m.How})
			}
			ce.excerpts = append(ce.excerpts, x)
		}
	case "match made":
		var m recordedMatch
		if err := json.Unmarshal([]byte(e.Detail), &m); err != nil {
			bad(err)
			return
		}
		ms = []recordedMatch{m}
	}
	for _, m := range ms {
		ce.matches[matchKey{e.Chain, id, m.Token, m.How}] = matchEntry{at: refOf(e), partial: m.Partial}
	}
}

// contactRow is a contact as the contacts table holds it.
type contactRow struct {
	id                                                                                            int64
	size                                                                                          int64 // of its raw object, -1 when that is gone
	channel, at, asWritten, source, sha, unissued, auth, authDomains, from, to, subject, problems string
}

// checkContact compares a contact's row (nil when there is none) with its
// "contact received" entries. everyChain says the verified chains are all
// there are: only then is a row with no entry at all a problem, since a
// partial verify does not read the chains of other investigations.
func checkContact(id int64, row *contactRow, ce *contactEntries, everyChain bool, rep *canary.VerifyReport) {
	switch {
	case row == nil && len(ce.received) > 0:
		e := ce.received[0].at
		rep.Problems = append(rep.Problems, canary.Problem{Chain: e.Chain, Seq: e.Seq, Object: contactName(id), Kind: "missing row",
			Detail: fmt.Sprintf("%s was recorded but is no longer in the database", contactName(id))})
		return
	case row == nil:
		return
	case len(ce.received) == 0:
		if everyChain {
			rep.Rows++
			rep.Problems = append(rep.Problems, canary.Problem{Object: contactName(id), Kind: "unrecorded row",
				Detail: fmt.Sprintf("%s has no \"contact received\" entry in any chain", contactName(id))})
		}
		return
	}
	rep.Rows++
	fields := map[string]string{"channel": asEncoded(row.channel), "received_at": asEncoded(row.at), "as_written": asEncoded(row.asWritten),
		"source": asEncoded(row.source), "raw_sha256": asEncoded(row.sha), "receipt_sha256": receiptHash(row.from, row.to, row.subject, row.problems, row.auth),
		"unissued": normList(row.unissued), "authenticated_domains": normList(row.authDomains)}
	if row.size >= 0 { // a missing raw object is reported as such
		fields["size"] = strconv.FormatInt(row.size, 10)
	}
	for _, e := range ce.received {
		if diff := e.detail.differences(fields); diff != "" {
			rep.Problems = append(rep.Problems, canary.Problem{Chain: e.at.Chain, Seq: e.at.Seq, Object: contactName(id), Kind: "changed row",
				Detail: fmt.Sprintf("%s differs from its \"contact received\" entry: %s", contactName(id), diff)})
		}
	}
}

func contactName(id int64) string { return "contact " + strconv.FormatInt(id, 10) }

// differences lists, field by field, where row departs from what the
// entry recorded; fields the entry's version did not record are skipped.
func (r recordedContact) differences(row map[string]string) string {
	recorded := map[string]*string{"channel": r.Channel, "received_at": r.ReceivedAt, "as_written": r.AsWritten,
		"source": r.Source, "raw_sha256": r.RawSHA256, "receipt_sha256": r.ReceiptSHA256}
	if r.Size != nil {
		s := strconv.FormatInt(*r.Size, 10)
		recorded["size"] = &s
	}
	for name, list := range map[string]json.RawMessage{"unissued": r.Unissued, "authenticated_domains": r.AuthenticatedDomains} {
		if list != nil {
			s := normList(string(list))
			recorded[name] = &s
		}
	}
	var out []string
	for _, name := range []string{"channel", "received_at", "as_written", "source", "raw_sha256", "size", "receipt_sha256", "unissued", "authenticated_domains"} {
		got, ok := row[name]
		if want := recorded[name]; ok && want != nil && *want != got {
			out = append(out, fmt.Sprintf("%s is %q in the database, %q in the entry", name, got, *want))
		}
	}
	return strings.Join(out, "; ")
}

// normList reads a stored JSON list of strings as listText writes it, so
// that null, [] and spacing compare equal.
func normList(stored string) string {
	var l []string
	if err := json.Unmarshal([]byte(stored), &l); err != nil {
		return "unreadable: " + stored
	}
	return listText(l)
}

func listText(l []string) string {
	b, _ := json.Marshal(append([]string{}, l...))
	return string(b)
}

// asEncoded is s as encoding/json wrote it into an entry's detail: each
// byte that is not UTF-8 became U+FFFD, while the row kept the byte (a
// Latin-1 file name, a typed "Crème"). Both sides are compared so.
func asEncoded(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
