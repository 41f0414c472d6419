package sqlite

import (
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

// contactEntries is what the verified chains say of contacts.
type contactEntries struct {
	received map[int64][]receivedEntry
	matches  map[matchKey]matchEntry
	marks    map[int64]map[string][]markEntry // by contact, then chain, in order
	excerpts []excerptsEntry
}

// excerptsEntry is a "matches made" entry that hashed its matches'
// excerpts (entries written since December 2026).
type excerptsEntry struct {
	at   canary.AuditEntry
	keys []matchKey // in the entry's order
	sha  string
}

type receivedEntry struct {
	at     canary.AuditEntry
	detail recordedContact
}

// readContactEntries gathers the contact entries of chains. An entry whose
// detail cannot be read is itself a problem: it was hashed as written, so
// only a bug or a forger could have made it so.
func readContactEntries(chains map[string][]canary.AuditEntry, rep *canary.VerifyReport) contactEntries {
	ce := contactEntries{received: map[int64][]receivedEntry{}, matches: map[matchKey]matchEntry{}, marks: map[int64]map[string][]markEntry{}}
	bad := func(e canary.AuditEntry, err error) {
		rep.Problems = append(rep.Problems, canary.Problem{Chain: e.Chain, Seq: e.Seq, Object: e.Subject, Kind: "unreadable entry",
			Detail: fmt.Sprintf("%q entry for %s: %v", e.Action, e.Subject, err)})
	}
	for _, chain := range slices.Sorted(maps.Keys(chains)) { // problems in a stable order
		for _, e := range chains[chain] {
			id, ok := contactSubject(e.Subject)
			if !ok {
				continue
			}
			var ms []recordedMatch
			switch e.Action {
			case "contact received":
				var d recordedContact
				if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
					bad(e, err)
					continue
				}
				ce.received[id] = append(ce.received[id], receivedEntry{e, d})
				continue
			case "matches made":
				var d struct {
					ExcerptsSHA256 *string `json:"excerpts_sha256"`
					Matches        []recordedMatch
				}
				if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
					bad(e, err)
					continue
				}
				ms = d.Matches
				if d.ExcerptsSHA256 != nil {
					x := excerptsEntry{at: e, sha: *d.ExcerptsSHA256}
					for _, m := range ms {
						x.keys = append(x.keys, matchKey{id, m.Token, m.How})
					}
					ce.excerpts = append(ce.excerpts, x)
				}
			case "contact marked":
				m := markEntry{at: e}
				if err := json.Unmarshal([]byte(e.Detail), &m); err != nil {
					bad(e, err)
					continue
				}
				if ce.marks[id] == nil {
					ce.marks[id] = map[string][]markEntry{}
				}
				ce.marks[id][e.Chain] = append(ce.marks[id][e.Chain], m)
				continue
			case "match made":
				var m recordedMatch
				if err := json.Unmarshal([]byte(e.Detail), &m); err != nil {
					bad(e, err)
					continue
				}
				ms = []recordedMatch{m}
			default:
				continue
			}
			for _, m := range ms {
				ce.matches[matchKey{id, m.Token, m.How}] = matchEntry{at: e, partial: m.Partial}
			}
		}
	}
	return ce
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
func (v verifier) verifyContacts(ctx context.Context, chains map[string][]canary.AuditEntry, everyChain bool, rep *canary.VerifyReport) error {
	ce := readContactEntries(chains, rep)
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
