package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"

	"github.com/leaktrace/leaktrace/canary"
)

// verifyContacts reads every contact, match and mark back against the
// entries of the verified chains that recorded them. The rows and the
// entries are read as four streams sorted by contact and joined one
// contact at a time, so a store of a million contacts is verified in the
// memory of one. counted is how many contact entries each verified chain
// held when its links were checked: the join must take as many.
func (v verifier) verifyContacts(ctx context.Context, chains map[string][]canary.AuditEntry, counted map[string]int, everyChain bool, rep *canary.VerifyReport) error {
	// Columns leaktrace never leaves NULL read as "" (and then differ from
	// their entries) rather than ending the verify.
	contacts, err := openStream(ctx, v.tx, "contacts", `SELECT c.id, coalesce(c.channel, ''), coalesce(c.received_at, ''),
		coalesce(c.received_text, ''), coalesce(c.source, ''), coalesce(c.raw_sha256, ''), coalesce(c.unissued_json, ''),
		coalesce(c.auth_json, ''), coalesce(c.auth_domains_json, ''), coalesce(r.size, -1), coalesce(c.from_text, ''),
		coalesce(c.to_json, ''), coalesce(c.subject, ''), coalesce(c.problems_json, '')
		FROM contacts c LEFT JOIN raw_objects r ON r.sha256 = c.raw_sha256 ORDER BY c.id`, nil,
		func(rows *sql.Rows) (c contactRow, id int64, ok bool, err error) {
			err = rows.Scan(&c.id, &c.channel, &c.at, &c.asWritten, &c.source, &c.sha, &c.unissued, &c.auth, &c.authDomains,
				&c.size, &c.from, &c.to, &c.subject, &c.problems)
			return c, c.id, true, err
		})
	if err != nil {
		return err
	}
	defer contacts.close()
	matches, err := openStream(ctx, v.tx, "matches", `SELECT m.contact_id, m.token_id, coalesce(m.how, ''), m.partial,
		coalesce(m.excerpt, ''), i.name
		FROM matches m JOIN tokens t ON t.id = m.token_id JOIN investigations i ON i.id = t.investigation_id
		ORDER BY m.contact_id, m.token_id, m.how`, nil,
		func(rows *sql.Rows) (m matchRow, id int64, ok bool, err error) {
			err = rows.Scan(&m.key.contact, &m.key.token, &m.key.how, &m.partial, &m.excerpt, &m.inv)
			m.key.how = asEncoded(m.key.how)
			m.key.chain = canary.InvestigationChain(m.inv)
			return m, m.key.contact, true, err
		})
	if err != nil {
		return err
	}
	defer matches.close()
	marks, err := openStream(ctx, v.tx, "marks", `SELECT contact_id, coalesce(mark, ''), coalesce(why, ''), coalesce(marked_at, '')
		FROM marks ORDER BY contact_id, id`, nil,
		func(rows *sql.Rows) (text string, id int64, ok bool, err error) {
			var mark, why, at string
			err = rows.Scan(&id, &mark, &why, &at)
			return markText(asEncoded(mark), asEncoded(why), asEncoded(at)), id, true, err
		})
	if err != nil {
		return err
	}
	defer marks.close()
	// Only the verified chains' entries, read as readChain read them (a
	// blob where text belongs is reported by verifyEntryTypes, and counted
	// below). SQLite sorts them by contact, spilling to a temporary file
	// past its cache; entries of one contact stay in chain and seq order.
	// Every subject Go reads as "contact N" sorts as N in SQL too; the
	// others are dropped.
	names := slices.Sorted(maps.Keys(chains))
	entries, err := openStream(ctx, v.tx, "contact entries", `SELECT chain, seq, at, CAST(action AS TEXT), CAST(subject AS TEXT),
		coalesce(detail, '') FROM audit_log
		WHERE chain IN (`+placeholders(len(names))+`)
		AND CAST(action AS TEXT) IN (`+placeholders(len(contactEntryActions))+`)
		AND CAST(subject AS TEXT) GLOB 'contact *'
		ORDER BY CAST(substr(CAST(subject AS TEXT), 9) AS INTEGER), chain, seq`, append(anySlice(names), anySlice(contactEntryActions)...),
		func(rows *sql.Rows) (e canary.AuditEntry, id int64, ok bool, err error) {
			var at sql.NullString
			if err = rows.Scan(&e.Chain, &e.Seq, &at, &e.Action, &e.Subject, &e.Detail); err != nil {
				return e, 0, false, err
			}
			e.At = parseTime(at)
			id, ok = contactEntryOf(e.Action, e.Subject)
			return e, id, ok, nil
		})
	if err != nil {
		return err
	}
	defer entries.close()

	ce := newContactEntries()
	taken := map[string]int{}
	tick := v.meter(ctx, "rows", `SELECT count(*) FROM contacts`)
	var rowBuf []contactRow
	var matchBuf []matchRow
	var markBuf []string
	var entryBuf []canary.AuditEntry
	for {
		id, ok := lowest(contacts.head, matches.head, marks.head, entries.head)
		if !ok {
			break
		}
		ce.reset()
		for _, e := range entries.take(id, entryBuf[:0]) {
			taken[e.Chain]++
			ce.add(id, e, rep)
		}
		rowBuf = contacts.take(id, rowBuf[:0])
		markBuf = marks.take(id, markBuf[:0])
		matchBuf = matches.take(id, matchBuf[:0])
		var row *contactRow
		if len(rowBuf) > 0 {
			row = &rowBuf[0]
			tick()
		}
		checkContact(id, row, ce, everyChain, rep)
		checkMarks(id, markBuf, ce, rep)
		n := 0
		for _, m := range matchBuf {
			if _, verified := chains[m.key.chain]; verified {
				matchBuf[n] = m
				n++
			}
		}
		checkMatches(id, matchBuf[:n], ce, rep)
	}
	for _, s := range []interface{ error() error }{contacts, matches, marks, entries} {
		if err := s.error(); err != nil {
			return err
		}
	}
	for _, chain := range names {
		if counted[chain] != taken[chain] {
			rep.Problems = append(rep.Problems, canary.Problem{Chain: chain, Kind: "altered entry",
				Detail: fmt.Sprintf("%d contact entries were read checking the chain's links, %d comparing them with the rows: the log holds values stored in a form leaktrace does not write", counted[chain], taken[chain])})
		}
	}
	return nil
}

// stream is a query's rows read one ahead, each with the contact it
// speaks of.
type stream[T any] struct {
	what string
	rows *sql.Rows
	scan func(*sql.Rows) (T, int64, bool, error)
	cur  T
	id   int64
	ok   bool
	err  error
}

func openStream[T any](ctx context.Context, q snapshot, what, query string, args []any, scan func(*sql.Rows) (T, int64, bool, error)) (*stream[T], error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read %s to verify: %w", what, err)
	}
	s := &stream[T]{what: what, rows: rows, scan: scan}
	s.next()
	return s, nil
}

// next reads the next row that speaks of a contact (scan says which do).
func (s *stream[T]) next() {
	for {
		if s.err != nil || !s.rows.Next() {
			s.ok = false
			return
		}
		var keep bool
		s.cur, s.id, keep, s.err = s.scan(s.rows)
		if s.err != nil || keep {
			s.ok = s.err == nil
			return
		}
	}
}

// head is the contact the next row speaks of, if there is a next row.
func (s *stream[T]) head() (int64, bool) { return s.id, s.ok }

// take appends to buf every row, from here on, of contact id.
func (s *stream[T]) take(id int64, buf []T) []T {
	for s.ok && s.id == id {
		buf = append(buf, s.cur)
		s.next()
	}
	return buf
}

func (s *stream[T]) error() error {
	err := s.err
	if err == nil {
		err = s.rows.Err()
	}
	if err != nil {
		return fmt.Errorf("read %s to verify: %w", s.what, err)
	}
	return nil
}

func (s *stream[T]) close() { s.rows.Close() }

// lowest is the lowest contact the streams' next rows speak of.
func lowest(heads ...func() (int64, bool)) (int64, bool) {
	var min int64
	found := false
	for _, h := range heads {
		if id, ok := h(); ok && (!found || id < min) {
			min, found = id, true
		}
	}
	return min, found
}
