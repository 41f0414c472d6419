package sqlite

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
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

// contactEntries is what verified chains say of contacts: only what rows
// are compared with, and where each was said.
type contactEntries struct {
	chain      string
	received   map[int64][]receivedEntry
	matches    map[matchKey]matchEntry
	marks      map[int64]map[string][]markEntry // by contact, then chain, in order
	excerpts   map[int64][]excerptsEntry        // by contact
	unreadable []canary.Problem
	hows       map[string]string // one copy of each "how", for a million matches
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

func newContactEntries(chain string) *contactEntries {
	return &contactEntries{chain: chain, received: map[int64][]receivedEntry{}, matches: map[matchKey]matchEntry{},
		marks: map[int64]map[string][]markEntry{}, excerpts: map[int64][]excerptsEntry{}, hows: map[string]string{}}
}

// add reads e if it is a contact entry and reports whether it was. An
// entry whose detail cannot be read is itself a problem: it was hashed as
// written, so only a bug or a forger could have made it so.
func (ce *contactEntries) add(e canary.AuditEntry) bool {
	switch e.Action {
	case "contact received", "matches made", "contact marked", "match made":
	default:
		return false
	}
	id, ok := contactSubject(e.Subject)
	if !ok {
		return false
	}
	bad := func(err error) bool {
		ce.unreadable = append(ce.unreadable, canary.Problem{Chain: e.Chain, Seq: e.Seq, Object: e.Subject, Kind: "unreadable entry",
			Detail: fmt.Sprintf("%q entry for %s: %v", e.Action, e.Subject, err)})
		return true
	}
	var ms []recordedMatch
	switch e.Action {
	case "contact received":
		var d recordedContact
		if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
			return bad(err)
		}
		ce.received[id] = append(ce.received[id], receivedEntry{refOf(e), d})
		return true
	case "contact marked":
		m := markEntry{at: refOf(e), time: fmtTime(e.At)}
		if err := json.Unmarshal([]byte(e.Detail), &m); err != nil {
			return bad(err)
		}
		if ce.marks[id] == nil {
			ce.marks[id] = map[string][]markEntry{}
		}
		ce.marks[id][e.Chain] = append(ce.marks[id][e.Chain], m)
		return true
	case "matches made":
		var d struct {
			ExcerptsSHA256 *string `json:"excerpts_sha256"`
			Matches        []recordedMatch
		}
		if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
			return bad(err)
		}
		ms = d.Matches
		if d.ExcerptsSHA256 != nil && len(ms) > 0 {
			x := excerptsEntry{at: refOf(e), sha: *d.ExcerptsSHA256}
			for _, m := range ms {
				x.keys = append(x.keys, matchKey{id, m.Token, ce.how(m.How)})
			}
			ce.excerpts[id] = append(ce.excerpts[id], x)
		}
	case "match made":
		var m recordedMatch
		if err := json.Unmarshal([]byte(e.Detail), &m); err != nil {
			return bad(err)
		}
		ms = []recordedMatch{m}
	}
	for _, m := range ms {
		ce.matches[matchKey{id, m.Token, ce.how(m.How)}] = matchEntry{at: refOf(e), partial: m.Partial}
	}
	return true
}

func (ce *contactEntries) how(h string) string {
	if c, ok := ce.hows[h]; ok {
		return c
	}
	ce.hows[h] = h
	return h
}

// mergeContactEntries joins what each verified chain said into the one
// that said most (most contacts sit in one investigation's chain), with
// every list in the order of the chains' names, so problems are reported
// in a stable order.
func mergeContactEntries(said []*contactEntries) *contactEntries {
	if len(said) == 0 {
		return newContactEntries("")
	}
	slices.SortFunc(said, func(a, b *contactEntries) int { return strings.Compare(a.chain, b.chain) })
	all := slices.MaxFunc(said, func(a, b *contactEntries) int { return cmp.Compare(len(a.matches), len(b.matches)) })
	var unreadable []canary.Problem
	for _, ce := range said {
		unreadable = append(unreadable, ce.unreadable...)
		if ce == all {
			continue
		}
		for id, rs := range ce.received {
			all.received[id] = append(all.received[id], rs...)
		}
		maps.Copy(all.matches, ce.matches)
		for id, byChain := range ce.marks {
			if all.marks[id] == nil {
				all.marks[id] = map[string][]markEntry{}
			}
			maps.Copy(all.marks[id], byChain)
		}
		for id, xs := range ce.excerpts {
			all.excerpts[id] = append(all.excerpts[id], xs...)
		}
	}
	if len(said) > 1 {
		byChain := func(a, b entryRef) int { return strings.Compare(a.Chain, b.Chain) }
		for _, rs := range all.received {
			slices.SortStableFunc(rs, func(a, b receivedEntry) int { return byChain(a.at, b.at) })
		}
		for _, xs := range all.excerpts {
			slices.SortStableFunc(xs, func(a, b excerptsEntry) int { return byChain(a.at, b.at) })
		}
	}
	all.unreadable = unreadable
	return all
}

func contactSubject(s string) (int64, bool) {
	rest, ok := strings.CutPrefix(s, "contact ")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	return id, err == nil
}

// verifyContacts compares every contact and match with its entries in
// chains. everyChain says chains are all there are: only then is a row
// with no entry at all a problem, since a partial verify does not read
// the chains of other investigations.
func (v verifier) verifyContacts(ctx context.Context, chains map[string][]canary.AuditEntry, ce *contactEntries, everyChain bool, rep *canary.VerifyReport) error {
	rep.Problems = append(rep.Problems, ce.unreadable...)
	rows, err := v.tx.QueryContext(ctx, `SELECT c.id, c.channel, c.received_at, c.received_text, c.source, c.raw_sha256,
		c.unissued_json, c.auth_json, c.auth_domains_json, coalesce(r.size, -1), c.from_text, c.to_json, c.subject, c.problems_json
		FROM contacts c LEFT JOIN raw_objects r ON r.sha256 = c.raw_sha256 ORDER BY c.id`)
	if err != nil {
		return fmt.Errorf("read contacts to verify: %w", err)
	}
	seen := map[int64]bool{}
	for rows.Next() {
		var id, size int64
		var channel, at, asWritten, source, sha, unissued, auth, authDomains, from, to, subject, problems string
		if err := rows.Scan(&id, &channel, &at, &asWritten, &source, &sha, &unissued, &auth, &authDomains, &size, &from, &to, &subject, &problems); err != nil {
			rows.Close()
			return fmt.Errorf("read contacts to verify: %w", err)
		}
		seen[id] = true
		entries := ce.received[id]
		if len(entries) == 0 {
			if everyChain {
				rep.Rows++
				rep.Problems = append(rep.Problems, canary.Problem{Object: contactName(id), Kind: "unrecorded row",
					Detail: fmt.Sprintf("%s has no \"contact received\" entry in any chain", contactName(id))})
			}
			continue
		}
		rep.Rows++
		row := map[string]string{"channel": asEncoded(channel), "received_at": asEncoded(at), "as_written": asEncoded(asWritten),
			"source": asEncoded(source), "raw_sha256": asEncoded(sha), "receipt_sha256": receiptHash(from, to, subject, problems, auth),
			"unissued": normList(unissued), "authenticated_domains": normList(authDomains)}
		if size >= 0 { // a missing raw object is reported as such
			row["size"] = strconv.FormatInt(size, 10)
		}
		for _, e := range entries {
			if diff := e.detail.differences(row); diff != "" {
				rep.Problems = append(rep.Problems, canary.Problem{Chain: e.at.Chain, Seq: e.at.Seq, Object: contactName(id), Kind: "changed row",
					Detail: fmt.Sprintf("%s differs from its \"contact received\" entry: %s", contactName(id), diff)})
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read contacts to verify: %w", err)
	}
	for id, entries := range ce.received {
		if !seen[id] {
			e := entries[0].at
			rep.Problems = append(rep.Problems, canary.Problem{Chain: e.Chain, Seq: e.Seq, Object: contactName(id), Kind: "missing row",
				Detail: fmt.Sprintf("%s was recorded but is no longer in the database", contactName(id))})
		}
	}
	if err := v.verifyMarks(ctx, ce, rep); err != nil {
		return err
	}
	return v.verifyMatches(ctx, chains, ce, rep)
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
