package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/norm"
)

// CreateInvestigation starts a study with a fresh secret.
func (d *DB) CreateInvestigation(ctx context.Context, inv *canary.Investigation) error {
	inv.Name = strings.TrimSpace(inv.Name)
	if inv.Name == "" {
		return canary.Invalidf("investigation name is empty")
	}
	if inv.Locale == "" {
		inv.Locale = canary.LocaleVietnam
	}
	if !canary.ValidLocale(inv.Locale) {
		return canary.Invalidf("locale %q: use one of %s", inv.Locale, strings.Join(canary.Locales, ", "))
	}
	if inv.TimeZone == "" {
		inv.TimeZone = canary.DefaultTimeZone(inv.Locale)
	}
	if _, err := time.LoadLocation(inv.TimeZone); err != nil {
		return canary.Invalidf("time zone %q: use an IANA name such as Asia/Ho_Chi_Minh", inv.TimeZone)
	}
	secret, err := canary.NewSecret(d.Rand)
	if err != nil {
		return err
	}
	inv.Secret = secret
	tx, err := d.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	inv.CreatedAt = tx.now
	res, err := tx.ExecContext(ctx, `INSERT INTO investigations (name, locale, time_zone, address, secret, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, inv.Name, inv.Locale, inv.TimeZone, inv.Address, inv.Secret, fmtTime(inv.CreatedAt))
	if err != nil {
		return mapErr(err, "create investigation "+inv.Name)
	}
	inv.ID, _ = res.LastInsertId()
	if err := tx.audit(ctx, canary.InvestigationChain(inv.Name), "investigation created", "investigation "+inv.Name,
		map[string]any{"locale": inv.Locale, "time_zone": inv.TimeZone, "has_address": inv.Address != ""}); err != nil {
		return err
	}
	return tx.Commit()
}

// Investigation returns the named investigation.
func (d *DB) Investigation(ctx context.Context, name string) (*canary.Investigation, error) {
	return scanInvestigation(d.db.QueryRowContext(ctx, `SELECT id, name, locale, time_zone, address, secret, created_at
		FROM investigations WHERE name = ?`, name), name)
}

func (tx *Tx) investigation(ctx context.Context, name string) (*canary.Investigation, error) {
	return scanInvestigation(tx.QueryRowContext(ctx, `SELECT id, name, locale, time_zone, address, secret, created_at
		FROM investigations WHERE name = ?`, name), name)
}

func scanInvestigation(row *sql.Row, name string) (*canary.Investigation, error) {
	var inv canary.Investigation
	var created sql.NullString
	if err := row.Scan(&inv.ID, &inv.Name, &inv.Locale, &inv.TimeZone, &inv.Address, &inv.Secret, &created); err != nil {
		if err == sql.ErrNoRows {
			return nil, fmt.Errorf("investigation %q: %w (create it with: leaktrace investigation new %q)", name, canary.ErrNotFound, name)
		}
		return nil, fmt.Errorf("read investigation %q: %w", name, err)
	}
	inv.CreatedAt = parseTime(created)
	return &inv, nil
}

// Investigations lists every investigation.
func (d *DB) Investigations(ctx context.Context) ([]canary.Investigation, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT id, name, locale, time_zone, address, secret, created_at FROM investigations ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list investigations: %w", err)
	}
	defer rows.Close()
	var out []canary.Investigation
	for rows.Next() {
		var inv canary.Investigation
		var created sql.NullString
		if err := rows.Scan(&inv.ID, &inv.Name, &inv.Locale, &inv.TimeZone, &inv.Address, &inv.Secret, &created); err != nil {
			return nil, fmt.Errorf("list investigations: %w", err)
		}
		inv.CreatedAt = parseTime(created)
		out = append(out, inv)
	}
	return out, rows.Err()
}

// AddParty records an organisation with its sender identities. Names are
// compared folded, so "ShopA" and "ＳｈｏｐＡ" are one party.
func (d *DB) AddParty(ctx context.Context, p *canary.Party) error {
	tx, err := d.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := tx.addParty(ctx, p); err != nil {
		return err
	}
	return tx.Commit()
}

func (tx *Tx) addParty(ctx context.Context, p *canary.Party) error {
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" {
		return canary.Invalidf("party name is empty")
	}
	if !canary.ValidPartyKind(p.Kind) {
		return canary.Invalidf("party kind %q: use one of %v", p.Kind, canary.PartyKinds)
	}
	var parent any
	if p.Parent != "" {
		pp, err := tx.party(ctx, p.Parent)
		if err != nil {
			return fmt.Errorf("parent of %s: %w", p.Name, err)
		}
		parent = pp.ID
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO parties (name, name_key, kind, parent_id, added_at) VALUES (?, ?, ?, ?, ?)`,
		p.Name, norm.Fold(p.Name), string(p.Kind), parent, fmtTime(tx.now))
	if err != nil {
		return mapErr(err, "add party "+p.Name)
	}
	p.ID, _ = res.LastInsertId()
	for i, dom := range p.Domains {
		p.Domains[i] = canary.DomainKey(dom)
		if err := tx.addSender(ctx, p, "domain", p.Domains[i]); err != nil {
			return err
		}
	}
	for i, s := range p.Senders {
		p.Senders[i] = senderKey(s)
		if err := tx.addSender(ctx, p, "sender", p.Senders[i]); err != nil {
			return err
		}
	}
	return tx.audit(ctx, canary.SharedChain, "party added", "party "+p.Name, map[string]any{
		"kind": p.Kind, "parent": p.Parent, "domains": p.Domains, "senders": p.Senders})
}

// senderKey normalises an SMS sender ID or phone number for comparison.
func senderKey(s string) string {
	if e, err := norm.PhoneE164(s, "VN"); err == nil && strings.HasPrefix(strings.TrimSpace(s), "+") {
		return e
	}
	return norm.Fold(s)
}

func (tx *Tx) addSender(ctx context.Context, p *canary.Party, kind, value string) error {
	if value == "" {
		return canary.Invalidf("party %s: empty %s", p.Name, kind)
	}
	if kind == "domain" {
		same, err := tx.heldAs(ctx, value, canary.DomainKey, `SELECT value FROM party_senders WHERE kind = 'domain'`)
		if err != nil {
			return err
		}
		if same != "" && same != value {
			return fmt.Errorf("party %s: domain %s (another party lists it, written %s): %w", p.Name, value, same, canary.ErrConflict)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO party_senders (party_id, kind, value) VALUES (?, ?, ?)`, p.ID, kind, value); err != nil {
		return mapErr(err, fmt.Sprintf("party %s: %s %s (another party lists it)", p.Name, kind, value))
	}
	return nil
}

// heldAs returns the name, among those query lists, that is the same mail
// domain as key, or "". A database from before names were kept in their
// ASCII form may hold the Unicode form of it; the lists are short.
func (tx *Tx) heldAs(ctx context.Context, key string, keyOf func(string) string, query string, args ...any) (string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return "", fmt.Errorf("read mail domains: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return "", fmt.Errorf("read mail domains: %w", err)
		}
		if keyOf(name) == key {
			return name, nil
		}
	}
	return "", rows.Err()
}

func (tx *Tx) party(ctx context.Context, name string) (*canary.Party, error) {
	var p canary.Party
	var parent sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT p.id, p.name, p.kind, q.name FROM parties p LEFT JOIN parties q ON q.id = p.parent_id
		WHERE p.name_key = ?`, norm.Fold(name)).Scan(&p.ID, &p.Name, &p.Kind, &parent)
	if err == sql.ErrNoRows {
		return nil, fmt.Errorf("party %q: %w (add it with: leaktrace party add --kind KIND %q)", name, canary.ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("read party %q: %w", name, err)
	}
	p.Parent = parent.String
	return &p, nil
}

// ensureParty returns the named party, creating it with kind when missing.
// created reports a new party, so callers can warn about near-duplicates.
func (tx *Tx) ensureParty(ctx context.Context, name string, kind canary.PartyKind) (p *canary.Party, created bool, err error) {
	p, err = tx.party(ctx, name)
	if err == nil {
		return p, false, nil
	}
	if !isNotFound(err) {
		return nil, false, err
	}
	p = &canary.Party{Name: name, Kind: kind}
	if err := tx.addParty(ctx, p); err != nil {
		return nil, false, err
	}
	return p, true, nil
}

// Parties lists every party with its sender identities.
func (d *DB) Parties(ctx context.Context) ([]canary.Party, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT p.id, p.name, p.kind, coalesce(q.name, '') FROM parties p
		LEFT JOIN parties q ON q.id = p.parent_id ORDER BY p.id`)
	if err != nil {
		return nil, fmt.Errorf("list parties: %w", err)
	}
	var out []canary.Party
	byID := map[int64]int{}
	for rows.Next() {
		var p canary.Party
		if err := rows.Scan(&p.ID, &p.Name, &p.Kind, &p.Parent); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list parties: %w", err)
		}
		byID[p.ID] = len(out)
		out = append(out, p)
	}
	rows.Close()
	srows, err := d.db.QueryContext(ctx, `SELECT party_id, kind, value FROM party_senders ORDER BY rowid`)
	if err != nil {
		return nil, fmt.Errorf("list party senders: %w", err)
	}
	defer srows.Close()
	for srows.Next() {
		var id int64
		var kind, value string
		if err := srows.Scan(&id, &kind, &value); err != nil {
			return nil, fmt.Errorf("list party senders: %w", err)
		}
		p := &out[byID[id]]
		if kind == "domain" {
			p.Domains = append(p.Domains, value)
		} else {
			p.Senders = append(p.Senders, value)
		}
	}
	return out, srows.Err()
}

// AddDomain registers a catch-all canary domain, or with plus set a mailbox
// whose +tags carry the tokens.
func (d *DB) AddDomain(ctx context.Context, dom *canary.Domain) error {
	dom.Name = strings.TrimSuffix(strings.TrimSpace(dom.Name), ".")
	if dom.Plus {
		if _, _, ok := canary.SplitAddress(dom.Name); !ok {
			return canary.Invalidf("plus-address base %q: give a mailbox such as me@example.com", dom.Name)
		}
	} else if strings.Contains(dom.Name, "@") || !strings.Contains(dom.Name, ".") || strings.ContainsAny(dom.Name, " /\\") {
		return canary.Invalidf("domain %q: give a domain name such as canary.example (its MX must point at leaktrace or a catch-all mailbox)", dom.Name)
	}
	// Tokens are issued at this domain: one no mail can be sent to would
	// make every email token of every order useless.
	host := dom.Name
	if _, h, ok := canary.SplitAddress(dom.Name); ok {
		host = h
	}
	if err := canary.CheckDomainName(host); err != nil || !utf8.ValidString(host) {
		return canary.Invalidf("domain %q is not a name mail can be sent to: %v", dom.Name, err)
	}
	// Kept in its ASCII form: tokens are issued at it, and checkout forms
	// and senders' servers take "xn--…" where many refuse "bücher.vn".
	if dom.Plus {
		dom.Name = canary.AddressKey(dom.Name)
	} else {
		dom.Name = canary.DomainKey(dom.Name)
	}
	tx, err := d.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	key := canary.DomainKey
	if dom.Plus {
		key = canary.AddressKey
	}
	if same, err := tx.heldAs(ctx, dom.Name, key, `SELECT name FROM domains WHERE plus = ?`, dom.Plus); err != nil {
		return err
	} else if same != "" {
		return fmt.Errorf("add domain %s: it is already a canary domain, written %s: %w", dom.Name, same, canary.ErrConflict)
	}
	dom.AddedAt = tx.now
	if _, err := tx.ExecContext(ctx, `INSERT INTO domains (name, plus, added_at) VALUES (?, ?, ?)`, dom.Name, dom.Plus, fmtTime(dom.AddedAt)); err != nil {
		return mapErr(err, "add domain "+dom.Name)
	}
	if err := tx.audit(ctx, canary.SharedChain, "domain added", "domain "+dom.Name, map[string]any{"plus": dom.Plus}); err != nil {
		return err
	}
	return tx.Commit()
}

// Domains lists canary domains, newest first.
func (d *DB) Domains(ctx context.Context) ([]canary.Domain, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT name, plus, added_at FROM domains ORDER BY added_at DESC, name`)
	if err != nil {
		return nil, fmt.Errorf("list domains: %w", err)
	}
	defer rows.Close()
	var out []canary.Domain
	for rows.Next() {
		var dom canary.Domain
		var at sql.NullString
		if err := rows.Scan(&dom.Name, &dom.Plus, &at); err != nil {
			return nil, fmt.Errorf("list domains: %w", err)
		}
		dom.AddedAt = parseTime(at)
		out = append(out, dom)
	}
	return out, rows.Err()
}
