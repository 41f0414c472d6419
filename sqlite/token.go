package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/norm"
)

// owner is what a token belongs to: an order or an account.
type owner struct {
	inv     *canary.Investigation
	orderID int64
	ref     string // order ref, or account ref for account tokens
	account bool
	// own names template fields the order shows to parties beyond the
	// template: their numbers serve this order alone.
	own map[string]bool
}

func (o owner) subject() string {
	if o.account {
		return "account " + o.ref
	}
	return "order " + o.ref
}

// maxIssueTries bounds retries when a random value collides with an issued one.
const maxIssueTries = 50

// insertToken writes one token. A collision on a unique key comes back as
// canary.ErrConflict so the caller can draw again.
func (tx *Tx) insertToken(ctx context.Context, o owner, t *canary.Token) error {
	var orderID, accountID any
	if o.account {
		accountID = o.orderID
	} else {
		orderID = o.orderID
	}
	var greet any
	if t.GreetKey != "" {
		greet = t.GreetKey
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO tokens (investigation_id, order_id, account_id, kind, field, value, match_key, greet_key, unique_fact, issued_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, o.inv.ID, orderID, accountID, string(t.Kind), t.Field, t.Value, t.Key, greet, t.Unique, fmtTime(tx.now))
	if err != nil {
		return mapErr(err, fmt.Sprintf("issue %s token for %s", t.Field, o.subject()))
	}
	t.ID, _ = res.LastInsertId()
	t.IssuedAt = tx.now
	return tx.audit(ctx, canary.InvestigationChain(o.inv.Name), "token issued", o.subject(), map[string]any{
		"token": t.ID, "kind": t.Kind, "field": t.Field, "value": t.Value, "key": t.Key})
}

// issueEmail draws a person-like local part at the newest canary domain.
func (tx *Tx) issueEmail(ctx context.Context, o owner, field string) (*canary.Token, error) {
	var dom string
	var plus bool
	err := tx.QueryRowContext(ctx, `SELECT name, plus FROM domains ORDER BY plus, added_at DESC LIMIT 1`).Scan(&dom, &plus)
	if err == sql.ErrNoRows {
		return nil, canary.Invalidf("no canary email domain: add one with `leaktrace domain add DOMAIN` (or `--plus me@provider` if you have none)")
	}
	if err != nil {
		return nil, fmt.Errorf("read canary domain: %w", err)
	}
	for range maxIssueTries {
		p, err := canary.NewPersona(o.inv.Locale, tx.db.Rand, nil)
		if err != nil {
			return nil, err
		}
		local, err := canary.EmailLocalPart(o.inv.Secret, p.EmailPrefix, tx.db.Rand)
		if err != nil {
			return nil, err
		}
		addr := local + "@" + dom
		if plus {
			base, host, _ := canary.SplitAddress(dom)
			addr = base + "+" + local + "@" + host
		}
		t := &canary.Token{Kind: canary.TokenEmail, Field: field, Value: addr, Key: strings.ToLower(addr)}
		if err := tx.insertToken(ctx, o, t); err == nil {
			return t, nil
		} else if !isConflict(err) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("issue %s: no unused address after %d tries", field, maxIssueTries)
}

// issueName draws a persona whose folded name is new everywhere and whose
// greeted part is new in the investigation while the name lists last.
func (tx *Tx) issueName(ctx context.Context, o owner, field string) (*canary.Token, error) {
	taken := func(key string) bool {
		var n int
		_ = tx.QueryRowContext(ctx, `SELECT count(*) FROM tokens WHERE investigation_id = ? AND greet_key = ?`, o.inv.ID, key).Scan(&n)
		return n > 0
	}
	for range maxIssueTries {
		p, err := canary.NewPersona(o.inv.Locale, tx.db.Rand, taken)
		if err != nil {
			return nil, err
		}
		t := &canary.Token{Kind: canary.TokenName, Field: field, Value: p.Name, Key: p.Key, GreetKey: p.GreetKey}
		if err := tx.insertToken(ctx, o, t); err == nil {
			return t, nil
		} else if !isConflict(err) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("issue %s: no unused name after %d tries", field, maxIssueTries)
}

// issueAddress draws a unit code for the investigation's real address.
func (tx *Tx) issueAddress(ctx context.Context, o owner, field string) (*canary.Token, error) {
	for range maxIssueTries {
		code, err := canary.RandomCode(4, tx.db.Rand)
		if err != nil {
			return nil, err
		}
		t := &canary.Token{Kind: canary.TokenAddress, Field: field,
			Value: canary.AddressVariant(o.inv.Locale, o.inv.Address, code), Key: norm.Fold(code)}
		if err := tx.insertToken(ctx, o, t); err == nil {
			return t, nil
		} else if !isConflict(err) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("issue %s: no unused address code after %d tries", field, maxIssueTries)
}

// issuePhone takes a pool number for an exposure set. It returns nil, nil
// when the pool has none: the order sheet then says so.
func (tx *Tx) issuePhone(ctx context.Context, o owner, field string, signature string) (*canary.Token, error) {
	e, err := tx.allocatePhone(ctx, signature, canary.CallingCode(o.inv.Locale))
	if err != nil || e == "" {
		return nil, err
	}
	t := &canary.Token{Kind: canary.TokenPhone, Field: field, Value: e, Key: e}
	if err := tx.insertToken(ctx, o, t); err != nil {
		return nil, err
	}
	return t, nil
}

// phoneSignature names the exposure set a phone token will have over the
// order's whole life. Where a party on that path is not known yet (no courier
// before shipping) the number is kept for this one order.
func phoneSignature(f canary.Field, p canary.Path, o owner) string {
	if o.own[f.Name] {
		return "only:" + o.inv.Name + "/" + o.ref + "/" + f.Name
	}
	var parties []string
	for _, s := range f.Seen {
		party := p.Party(s.Role)
		if party == "" && (s.Role == canary.RoleCourier || s.Role == canary.RoleMerchant) && !o.account {
			return "only:" + o.inv.Name + "/" + o.ref + "/" + f.Name
		}
		if k := norm.Fold(party); k != "" && !slices.Contains(parties, k) {
			parties = append(parties, k)
		}
	}
	slices.Sort(parties)
	return "set:" + strings.Join(parties, "|")
}

// factToken builds the token of an order fact, with the matching key that
// survives how scammers write it (68.5元 and ¥68.50 are one price).
func factToken(inv *canary.Investigation, key, value string) (*canary.Token, error) {
	value = strings.TrimSpace(value)
	if key == "" || value == "" {
		return nil, canary.Invalidf("fact %q=%q: give key=value", key, value)
	}
	t := &canary.Token{Kind: canary.TokenFact, Field: key, Value: value, Unique: canary.UniqueFact(key)}
	switch key {
	case canary.FactPrice:
		p, err := norm.ParsePrice(value)
		if err != nil {
			return nil, canary.Invalidf("fact price=%q: %v (write it with its currency, e.g. 68.50 CNY or 68.500đ)", value, err)
		}
		t.Key = p.Key()
	case canary.FactOrderNo, canary.FactTracking:
		t.Key = strings.NewReplacer(" ", "", "-", "").Replace(norm.Fold(value))
		if len(t.Key) < 6 {
			return nil, canary.Invalidf("fact %s=%q: too short to identify an order (at least 6 characters)", key, value)
		}
	case canary.FactPlacedAt:
		tm, err := norm.ParseTime(value, inv.Locale, inv.Location())
		if err != nil {
			return nil, canary.Invalidf("fact placed_at=%q: %v", value, err)
		}
		t.Key = tm.In(inv.Location()).Format("2006-01-02 15:04")
	default:
		t.Key = norm.Fold(value)
		if len([]rune(t.Key)) < 4 {
			return nil, canary.Invalidf("fact %s=%q: too short to be recognised in a message (at least 4 characters)", key, value)
		}
	}
	return t, nil
}
