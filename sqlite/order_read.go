package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/leaktrace/leaktrace/canary"
)

const orderColumns = `o.id, o.ref, a.id, a.ref, a.created_at, pl.name, coalesce(m.name, ''), coalesce(c.name, ''), coalesce(ou.name, ''),
	o.payment, o.created_at, o.placed_at, o.shipped_at, o.abandoned_at`

const orderJoins = `FROM orders o
	JOIN accounts a ON a.id = o.account_id
	JOIN parties pl ON pl.id = o.platform_id
	LEFT JOIN parties m ON m.id = o.merchant_id
	LEFT JOIN parties c ON c.id = o.courier_id
	LEFT JOIN parties ou ON ou.id = o.outlet_id`

type rowScanner interface{ Scan(...any) error }

func scanOrder(s rowScanner, inv string) (*orderRow, error) {
	r := &orderRow{Order: canary.Order{Investigation: inv}}
	var acctCreated, created, placed, shipped, abandoned sql.NullString
	if err := s.Scan(&r.ID, &r.Ref, &r.accountID, &r.Account, &acctCreated, &r.Platform, &r.Merchant, &r.Courier, &r.Outlet,
		&r.Payment, &created, &placed, &shipped, &abandoned); err != nil {
		return nil, err
	}
	r.accountCreated = parseTime(acctCreated)
	r.CreatedAt, r.PlacedAt, r.ShippedAt, r.AbandonedAt = parseTime(created), parseTime(placed), parseTime(shipped), parseTime(abandoned)
	return r, nil
}

func (tx *Tx) orderRow(ctx context.Context, investigation, ref string) (*canary.Investigation, *orderRow, error) {
	inv, err := tx.investigation(ctx, investigation)
	if err != nil {
		return nil, nil, err
	}
	r, err := scanOrder(tx.QueryRowContext(ctx, `SELECT `+orderColumns+` `+orderJoins+` WHERE o.investigation_id = ? AND o.ref = ?`, inv.ID, ref), inv.Name)
	if err == sql.ErrNoRows {
		return nil, nil, fmt.Errorf("order %q in investigation %s: %w", ref, inv.Name, canary.ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read order %s: %w", ref, err)
	}
	return inv, r, nil
}

// querier is the database or a transaction on it.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// readTokens runs a token query (selecting tokenColumns) and attaches each
// token's exposures.
func readTokens(ctx context.Context, q querier, where string, args ...any) ([]canary.Token, error) {
	rows, err := q.QueryContext(ctx, `SELECT t.id, i.name, coalesce(o.ref, ''), coalesce(a.ref, oa.ref, ''), t.kind, t.field, t.value,
		t.match_key, coalesce(t.greet_key, ''), t.unique_fact, t.issued_at
		FROM tokens t JOIN investigations i ON i.id = t.investigation_id
		LEFT JOIN orders o ON o.id = t.order_id
		LEFT JOIN accounts a ON a.id = t.account_id
		LEFT JOIN accounts oa ON oa.id = o.account_id
		WHERE `+where+` ORDER BY t.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read tokens: %w", err)
	}
	var out []canary.Token
	idx := map[int64]int{}
	for rows.Next() {
		var t canary.Token
		var issued sql.NullString
		if err := rows.Scan(&t.ID, &t.Investigation, &t.Order, &t.Account, &t.Kind, &t.Field, &t.Value, &t.Key, &t.GreetKey, &t.Unique, &issued); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read tokens: %w", err)
		}
		t.IssuedAt = parseTime(issued)
		idx[t.ID] = len(out)
		out = append(out, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read tokens: %w", err)
	}
	if len(out) == 0 {
		return out, nil
	}
	erows, err := q.QueryContext(ctx, `SELECT e.token_id, p.name, e.field, e.quality, e.exposed_at FROM exposures e
		JOIN parties p ON p.id = e.party_id JOIN tokens t ON t.id = e.token_id
		LEFT JOIN orders o ON o.id = t.order_id
		LEFT JOIN accounts a ON a.id = t.account_id
		LEFT JOIN accounts oa ON oa.id = o.account_id
		JOIN investigations i ON i.id = t.investigation_id
		WHERE `+where+` ORDER BY e.exposed_at, p.name`, args...)
	if err != nil {
		return nil, fmt.Errorf("read exposures: %w", err)
	}
	defer erows.Close()
	for erows.Next() {
		var id int64
		var e canary.Exposure
		var at sql.NullString
		if err := erows.Scan(&id, &e.Party, &e.Field, &e.Quality, &at); err != nil {
			return nil, fmt.Errorf("read exposures: %w", err)
		}
		e.ExposedAt = parseTime(at)
		if i, ok := idx[id]; ok {
			out[i].Exposures = append(out[i].Exposures, e)
		}
	}
	return out, erows.Err()
}

func (tx *Tx) orderTokens(ctx context.Context, orderID int64) ([]canary.Token, error) {
	return readTokens(ctx, tx, `t.order_id = ?`, orderID)
}

func (tx *Tx) accountTokens(ctx context.Context, accountID int64) ([]canary.Token, error) {
	return readTokens(ctx, tx, `t.account_id = ?`, accountID)
}

func (tx *Tx) loadOrder(ctx context.Context, inv *canary.Investigation, ref string) (*canary.Order, error) {
	_, row, err := tx.orderRow(ctx, inv.Name, ref)
	if err != nil {
		return nil, err
	}
	acct, err := tx.accountTokens(ctx, row.accountID)
	if err != nil {
		return nil, err
	}
	own, err := tx.orderTokens(ctx, row.ID)
	if err != nil {
		return nil, err
	}
	row.Tokens = append(acct, own...)
	return &row.Order, nil
}

// Orders returns every order (of one investigation, or all) with the tokens
// of its record: its own and its account's.
func (d *DB) Orders(ctx context.Context, investigation string) ([]canary.Order, error) {
	where, args := "1 = 1", []any{}
	if investigation != "" {
		inv, err := d.Investigation(ctx, investigation)
		if err != nil {
			return nil, err
		}
		where, args = "o.investigation_id = ?", []any{inv.ID}
	}
	rows, err := d.db.QueryContext(ctx, `SELECT `+orderColumns+`, i.name `+orderJoins+`
		JOIN investigations i ON i.id = o.investigation_id WHERE `+where+` ORDER BY o.investigation_id, o.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list orders: %w", err)
	}
	var list []*orderRow
	for rows.Next() {
		var invName string
		r := &orderRow{}
		var acctCreated, created, placed, shipped, abandoned sql.NullString
		if err := rows.Scan(&r.ID, &r.Ref, &r.accountID, &r.Account, &acctCreated, &r.Platform, &r.Merchant, &r.Courier, &r.Outlet,
			&r.Payment, &created, &placed, &shipped, &abandoned, &invName); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list orders: %w", err)
		}
		r.Investigation = invName
		r.accountCreated = parseTime(acctCreated)
		r.CreatedAt, r.PlacedAt, r.ShippedAt, r.AbandonedAt = parseTime(created), parseTime(placed), parseTime(shipped), parseTime(abandoned)
		list = append(list, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list orders: %w", err)
	}
	toks, err := d.Tokens(ctx, investigation)
	if err != nil {
		return nil, err
	}
	byOrder := map[string][]canary.Token{}
	byAccount := map[string][]canary.Token{}
	for _, t := range toks {
		if t.Order != "" {
			byOrder[t.Investigation+"\x00"+t.Order] = append(byOrder[t.Investigation+"\x00"+t.Order], t)
		} else {
			byAccount[t.Investigation+"\x00"+t.Account] = append(byAccount[t.Investigation+"\x00"+t.Account], t)
		}
	}
	out := make([]canary.Order, 0, len(list))
	for _, r := range list {
		r.Tokens = append(append([]canary.Token{}, byAccount[r.Investigation+"\x00"+r.Account]...), byOrder[r.Investigation+"\x00"+r.Ref]...)
		out = append(out, r.Order)
	}
	return out, nil
}

// Tokens returns every issued token (of one investigation, or all) with its
// exposures and the orders whose record holds it.
func (d *DB) Tokens(ctx context.Context, investigation string) ([]canary.Token, error) {
	where, args := "1 = 1", []any{}
	if investigation != "" {
		where, args = "i.name = ?", []any{investigation}
	}
	toks, err := readTokens(ctx, d.db, where, args...)
	if err != nil {
		return nil, err
	}
	// Account tokens belong to the record of every order the account used;
	// an order abandoned before placing used nothing.
	rows, err := d.db.QueryContext(ctx, `SELECT i.name, a.ref, o.ref FROM orders o JOIN accounts a ON a.id = o.account_id
		JOIN investigations i ON i.id = o.investigation_id WHERE o.abandoned_at IS NULL ORDER BY o.id`)
	if err != nil {
		return nil, fmt.Errorf("read account orders: %w", err)
	}
	defer rows.Close()
	acctOrders := map[string][]string{}
	for rows.Next() {
		var inv, acct, ref string
		if err := rows.Scan(&inv, &acct, &ref); err != nil {
			return nil, fmt.Errorf("read account orders: %w", err)
		}
		acctOrders[inv+"\x00"+acct] = append(acctOrders[inv+"\x00"+acct], ref)
	}
	for i := range toks {
		if toks[i].Order != "" {
			toks[i].Orders = []string{toks[i].Order}
		} else {
			toks[i].Orders = acctOrders[toks[i].Investigation+"\x00"+toks[i].Account]
		}
	}
	return toks, rows.Err()
}

// OrderInvestigations names the investigations that have an order ref, so
// commands can take a bare ref when it is unambiguous.
func (d *DB) OrderInvestigations(ctx context.Context, ref string) ([]string, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT i.name FROM orders o JOIN investigations i ON i.id = o.investigation_id WHERE o.ref = ? ORDER BY i.name`, ref)
	if err != nil {
		return nil, fmt.Errorf("find order %s: %w", ref, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("find order %s: %w", ref, err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Attachments lists an order's stored attachments.
func (d *DB) Attachments(ctx context.Context, investigation string) ([]Attachment, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT o.ref, x.what, x.file_name, x.raw_sha256, x.attached_at FROM order_attachments x
		JOIN orders o ON o.id = x.order_id JOIN investigations i ON i.id = o.investigation_id
		WHERE i.name = ? ORDER BY x.rowid`, investigation)
	if err != nil {
		return nil, fmt.Errorf("list attachments: %w", err)
	}
	defer rows.Close()
	var out []Attachment
	for rows.Next() {
		var a Attachment
		var at sql.NullString
		if err := rows.Scan(&a.Order, &a.What, &a.FileName, &a.SHA256, &at); err != nil {
			return nil, fmt.Errorf("list attachments: %w", err)
		}
		a.AttachedAt = parseTime(at)
		out = append(out, a)
	}
	return out, rows.Err()
}

// Attachment is a file stored as evidence for an order.
type Attachment struct {
	Order      string    `json:"order"`
	What       string    `json:"what"`
	FileName   string    `json:"file"`
	SHA256     string    `json:"sha256"`
	AttachedAt time.Time `json:"attached_at"`
}
