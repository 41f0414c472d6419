package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/leaktrace/leaktrace/canary"
)

var (
	_ canary.ContactRecorder = (*DB)(nil)
	_ canary.UniverseSource  = (*DB)(nil)
)

// Universe loads what matching needs.
func (d *DB) Universe(ctx context.Context) (*canary.Universe, error) {
	var u canary.Universe
	var err error
	if u.Investigations, err = d.Investigations(ctx); err != nil {
		return nil, err
	}
	if u.Parties, err = d.Parties(ctx); err != nil {
		return nil, err
	}
	if u.Tokens, err = d.Tokens(ctx, ""); err != nil {
		return nil, err
	}
	if u.Domains, err = d.Domains(ctx); err != nil {
		return nil, err
	}
	if u.Pool, err = d.Phones(ctx); err != nil {
		return nil, err
	}
	return &u, nil
}

func jsonText(v any) string {
	if v == nil {
		return "[]"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// RecordContact stores the raw bytes, the contact and its matches, and
// appends "contact received" and "matches made" to the audit chains of every
// investigation it matched (the shared chain when it matched none), all in
// one transaction: either all of the evidence is there or none of it.
func (d *DB) RecordContact(ctx context.Context, c *canary.Contact, raw []byte) (int64, bool, error) {
	p, err := prepareContact(c, raw)
	if err != nil {
		return 0, false, err
	}
	tx, err := d.begin(ctx)
	if err != nil {
		return 0, false, err
	}
	defer tx.Rollback()
	id, dup, err := tx.recordContact(ctx, p)
	if err != nil || dup {
		return id, dup, err
	}
	if err := tx.Commit(); err != nil {
		return 0, false, fmt.Errorf("commit contact: %w", err)
	}
	return id, false, nil
}

// preparedContact is a contact with everything that does not depend on
// the database worked out: its hash and encoded fields. The batching
// writer has callers prepare their own contacts, so the one goroutine that
// holds the write lock only runs SQL.
type preparedContact struct {
	c                                   *canary.Contact
	raw                                 []byte
	sha                                 string
	to, unissued, problems, authDomains string
	received                            string // the "contact received" audit detail
}

// receivedDetail is the "contact received" audit detail. Its fields are in
// the order of their JSON names, the order earlier entries (encoded from a
// map) have, so the entries read the same whatever wrote them.
type receivedDetail struct {
	AsWritten            string         `json:"as_written"`
	AuthenticatedDomains []string       `json:"authenticated_domains"`
	Channel              canary.Channel `json:"channel"`
	RawSHA256            string         `json:"raw_sha256"`
	ReceiptSHA256        string         `json:"receipt_sha256"` // see receiptHash
	ReceivedAt           string         `json:"received_at"`
	Size                 int            `json:"size"`
	Source               string         `json:"source"`
	Unissued             []string       `json:"unissued"`
}

// madeMatch is one match in a "matches made" audit detail, its fields in
// the order of their JSON names, as entries encoded from a map have them.
type madeMatch struct {
	How     string `json:"how"`
	Partial bool   `json:"partial"`
	Token   int64  `json:"token"`
}

// receiptHash covers what a contact row holds beyond the fields its
// "contact received" entry lists one by one: From, To, Subject, the
// problems found reading it, and the receipt (envelope, DKIM, SPF, ARC and
// the DNS answers), each as stored, written as its byte length, a colon
// and the text, so that verify can tell any of them was changed.
func receiptHash(from, to, subject, problems, auth string) string {
	h := sha256.New()
	for _, f := range []string{from, to, subject, problems, auth} {
		fmt.Fprintf(h, "%d:%s\n", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// excerptsHash covers the excerpts of the matches a "matches made" entry
// lists, in its order: what a report quotes as the sender's words is
// checked too, without the entry holding the words themselves (raw bytes
// can be purged; entries are kept for good).
func excerptsHash(excerpts []string) string {
	h := sha256.New()
	for _, e := range excerpts {
		fmt.Fprintf(h, "%d:%s\n", len(e), e)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func prepareContact(c *canary.Contact, raw []byte) (*preparedContact, error) {
	sum := sha256.Sum256(raw)
	p := &preparedContact{c: c, raw: raw, sha: hex.EncodeToString(sum[:]),
		to: jsonText(c.To), unissued: jsonText(c.Unissued), problems: jsonText(c.Problems), authDomains: jsonText(c.AuthDomains)}
	b, err := json.Marshal(receivedDetail{AsWritten: c.ReceivedText, AuthenticatedDomains: c.AuthDomains, Channel: c.Channel,
		RawSHA256: p.sha, ReceiptSHA256: receiptHash(c.From, p.to, c.Subject, p.problems, c.Auth), ReceivedAt: fmtTime(c.ReceivedAt), Size: len(raw), Source: c.Source, Unissued: c.Unissued})
	if err != nil {
		return nil, fmt.Errorf("encode audit detail: %w", err)
	}
	p.received = string(b)
	return p, nil
}

// recordContact is RecordContact's work inside tx. The batching writer
// (batch.go) runs it for several contacts in one transaction.
func (tx *Tx) recordContact(ctx context.Context, p *preparedContact) (int64, bool, error) {
	c, sha := p.c, p.sha
	added, err := tx.putRawHashed(ctx, sha, p.raw)
	if err != nil {
		return 0, false, err
	}
	// Bytes that were not stored before cannot belong to a contact yet.
	if !added {
		var existing int64
		row, err := tx.queryRowStmt(ctx, `SELECT id FROM contacts WHERE raw_sha256 = ? ORDER BY id LIMIT 1`, sha)
		if err != nil {
			return 0, false, err
		}
		switch err := row.Scan(&existing); err {
		case nil:
			c.ID, c.RawSHA256 = existing, sha
			return existing, true, nil
		case sql.ErrNoRows:
		default:
			return 0, false, fmt.Errorf("check duplicate contact: %w", err)
		}
	}
	c.RawSHA256, c.RawSize = sha, int64(len(p.raw))
	res, err := tx.execStmt(ctx, `INSERT INTO contacts (channel, received_at, received_text, source, from_text, to_json, subject,
		raw_sha256, unissued_json, problems_json, auth_json, auth_domains_json, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		string(c.Channel), fmtTime(c.ReceivedAt), c.ReceivedText, c.Source, c.From, p.to, c.Subject,
		sha, p.unissued, p.problems, c.Auth, p.authDomains, fmtTime(tx.now))
	if err != nil {
		return 0, false, fmt.Errorf("store contact: %w", err)
	}
	c.ID, _ = res.LastInsertId()
	subject := "contact " + strconv.FormatInt(c.ID, 10)
	chains, err := tx.contactChains(ctx, c.Matches)
	if err != nil {
		return 0, false, err
	}
	for _, chain := range chains {
		if err := tx.auditJSON(ctx, chain, "contact received", subject, p.received); err != nil {
			return 0, false, err
		}
	}
	// One "matches made" entry per chain lists every match of the contact.
	made, excerpts := map[string][]madeMatch{}, map[string][]string{}
	for _, m := range c.Matches {
		if _, err := tx.execStmt(ctx, `INSERT INTO matches (contact_id, token_id, how, partial, excerpt) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, c.ID, m.TokenID, m.How, m.Partial, m.Excerpt); err != nil {
			return 0, false, mapErr(err, fmt.Sprintf("store match of token %d", m.TokenID))
		}
		chain, err := tx.tokenChain(ctx, m.TokenID)
		if err != nil {
			return 0, false, err
		}
		made[chain] = append(made[chain], madeMatch{How: m.How, Partial: m.Partial, Token: m.TokenID})
		excerpts[chain] = append(excerpts[chain], m.Excerpt)
	}
	for _, chain := range chains {
		if ms := made[chain]; len(ms) > 0 {
			if err := tx.audit(ctx, chain, "matches made", subject, struct {
				ExcerptsSHA256 string      `json:"excerpts_sha256"`
				Matches        []madeMatch `json:"matches"`
			}{excerptsHash(excerpts[chain]), ms}); err != nil {
				return 0, false, err
			}
		}
	}
	return c.ID, false, nil
}

// tokenChain is the audit chain of the investigation a token belongs to.
// Tokens can be neither changed nor deleted (triggers refuse it), so the
// answer is kept for the life of the DB.
func (tx *Tx) tokenChain(ctx context.Context, tokenID int64) (string, error) {
	if c, ok := tx.db.tokenChains.Load(tokenID); ok {
		return c.(string), nil
	}
	var name string
	row, err := tx.queryRowStmt(ctx, `SELECT i.name FROM tokens t JOIN investigations i ON i.id = t.investigation_id WHERE t.id = ?`, tokenID)
	if err != nil {
		return "", err
	}
	if err := row.Scan(&name); err != nil {
		return "", mapErr(err, fmt.Sprintf("token %d", tokenID))
	}
	chain := canary.InvestigationChain(name)
	tx.db.tokenChains.Store(tokenID, chain)
	return chain, nil
}

func (tx *Tx) contactChains(ctx context.Context, ms []canary.Match) ([]string, error) {
	var chains []string
	for _, m := range ms {
		c, err := tx.tokenChain(ctx, m.TokenID)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(chains, c) {
			chains = append(chains, c)
		}
	}
	if len(chains) == 0 {
		chains = []string{canary.SharedChain}
	}
	return chains, nil
}

// MarkContact appends a person's judgement on a contact.
func (d *DB) MarkContact(ctx context.Context, id int64, mark, why string) error {
	if !canary.ValidMark(mark) {
		return canary.Invalidf("mark %q: use first-party, scam or ignore", mark)
	}
	tx, err := d.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM contacts WHERE id = ?`, id).Scan(&n); err != nil {
		return fmt.Errorf("read contact %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("contact %d: %w", id, canary.ErrNotFound)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO marks (contact_id, mark, why, marked_at) VALUES (?, ?, ?, ?)`, id, mark, why, fmtTime(tx.now)); err != nil {
		return fmt.Errorf("mark contact %d: %w", id, err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT token_id FROM matches WHERE contact_id = ?`, id)
	if err != nil {
		return fmt.Errorf("read matches of contact %d: %w", id, err)
	}
	var ms []canary.Match
	for rows.Next() {
		var m canary.Match
		if err := rows.Scan(&m.TokenID); err != nil {
			rows.Close()
			return fmt.Errorf("read matches of contact %d: %w", id, err)
		}
		ms = append(ms, m)
	}
	rows.Close()
	chains, err := tx.contactChains(ctx, ms)
	if err != nil {
		return err
	}
	for _, chain := range chains {
		if err := tx.audit(ctx, chain, "contact marked", "contact "+strconv.FormatInt(id, 10), map[string]any{"mark": mark, "why": why}); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Contacts returns every contact with its matches and latest mark, oldest first.
func (d *DB) Contacts(ctx context.Context) ([]canary.Contact, error) {
	return d.contacts(ctx, true)
}

// ContactsToAttribute is Contacts without each contact's receipt (Auth:
// the envelope, DKIM, SPF and the DNS answers), which attribution does not
// read: about a fifth of the memory of a large store's attribute.
func (d *DB) ContactsToAttribute(ctx context.Context) ([]canary.Contact, error) {
	return d.contacts(ctx, false)
}

func (d *DB) contacts(ctx context.Context, receipts bool) ([]canary.Contact, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT c.id, c.channel, c.received_at, c.received_text, c.source, c.from_text, c.to_json,
		c.subject, c.raw_sha256, r.size, c.unissued_json, c.problems_json, CASE WHEN ? THEN c.auth_json ELSE '' END, c.auth_domains_json,
		coalesce((SELECT mark FROM marks WHERE contact_id = c.id ORDER BY id DESC LIMIT 1), ''),
		coalesce((SELECT why FROM marks WHERE contact_id = c.id ORDER BY id DESC LIMIT 1), '')
		FROM contacts c JOIN raw_objects r ON r.sha256 = c.raw_sha256 ORDER BY c.received_at, c.id`, receipts)
	if err != nil {
		return nil, fmt.Errorf("list contacts: %w", err)
	}
	var out []canary.Contact
	idx := map[int64]int{}
	for rows.Next() {
		var c canary.Contact
		var at sql.NullString
		var to, unissued, problems, authDomains string
		if err := rows.Scan(&c.ID, &c.Channel, &at, &c.ReceivedText, &c.Source, &c.From, &to, &c.Subject, &c.RawSHA256, &c.RawSize,
			&unissued, &problems, &c.Auth, &authDomains, &c.Mark, &c.MarkWhy); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list contacts: %w", err)
		}
		c.ReceivedAt = parseTime(at)
		_ = json.Unmarshal([]byte(to), &c.To)
		_ = json.Unmarshal([]byte(unissued), &c.Unissued)
		_ = json.Unmarshal([]byte(problems), &c.Problems)
		_ = json.Unmarshal([]byte(authDomains), &c.AuthDomains)
		idx[c.ID] = len(out)
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list contacts: %w", err)
	}
	mrows, err := d.db.QueryContext(ctx, `SELECT m.contact_id, m.token_id, t.kind, t.value, m.how, m.partial, m.excerpt
		FROM matches m JOIN tokens t ON t.id = m.token_id ORDER BY m.contact_id, m.rowid`)
	if err != nil {
		return nil, fmt.Errorf("list matches: %w", err)
	}
	defer mrows.Close()
	for mrows.Next() {
		var id int64
		var m canary.Match
		if err := mrows.Scan(&id, &m.TokenID, &m.Kind, &m.Value, &m.How, &m.Partial, &m.Excerpt); err != nil {
			return nil, fmt.Errorf("list matches: %w", err)
		}
		if i, ok := idx[id]; ok {
			out[i].Matches = append(out[i].Matches, m)
		}
	}
	return out, mrows.Err()
}
