package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/leaktrace/leaktrace/canary"
)

// PhoneNoise is the background noise a pool number carries: contacts that
// reached it while no token was on it, the calls and texts a recycled
// number gets from its past.
type PhoneNoise struct {
	E164     string    `json:"number"`
	Contacts int       `json:"noise_contacts"`
	From     time.Time `json:"from"`
	Until    time.Time `json:"until"`
	Days     float64   `json:"days"`
	PerDay   float64   `json:"per_day"`
	// Window says which contacts count: "quarantine" (every contact to the
	// number from import to the end of quarantine, or now while it lasts)
	// or "since import" (a number never quarantined: the contacts to it
	// that matched no token).
	Window string `json:"window"`
}

// PhoneNoise measures each pool number's background noise at now.
func (d *DB) PhoneNoise(ctx context.Context) (map[string]PhoneNoise, error) {
	now := d.Now().UTC()
	rows, err := d.db.QueryContext(ctx, `SELECT e164, imported_at, quarantine_until FROM phones ORDER BY e164`)
	if err != nil {
		return nil, fmt.Errorf("list phones: %w", err)
	}
	var out []PhoneNoise
	for rows.Next() {
		var e string
		var imp, q sql.NullString
		if err := rows.Scan(&e, &imp, &q); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list phones: %w", err)
		}
		n := PhoneNoise{E164: e, From: parseTime(imp), Until: parseTime(q), Window: "quarantine"}
		if !n.Until.After(n.From) {
			n.Until, n.Window = now, "since import"
		}
		if n.Until.After(now) {
			n.Until = now
		}
		out = append(out, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list phones: %w", err)
	}
	res := make(map[string]PhoneNoise, len(out))
	for _, n := range out {
		// During quarantine no token can be on the number, so every contact
		// to it is noise; afterwards only those that reached no token are.
		q := `SELECT count(*) FROM contacts c WHERE c.received_at >= ? AND c.received_at < ? AND (
			EXISTS (SELECT 1 FROM json_each(c.unissued_json) WHERE value = ?)`
		if n.Window == "quarantine" {
			q += ` OR EXISTS (SELECT 1 FROM json_each(c.to_json) WHERE value = ?))`
		} else {
			q += ` OR ? = '')`
		}
		if err := d.db.QueryRowContext(ctx, q, fmtTime(n.From), fmtTime(n.Until), n.E164, n.E164).Scan(&n.Contacts); err != nil {
			return nil, fmt.Errorf("count noise of %s: %w", n.E164, err)
		}
		n.Days = n.Until.Sub(n.From).Hours() / 24
		if n.Days > 0 {
			n.PerDay = float64(n.Contacts) / max(n.Days, 1)
		}
		res[n.E164] = n
	}
	return res, nil
}

// RetirePhone takes a number out of the pool for good: it is never
// allocated again, to its exposure set or any other. Its tokens stay.
func (d *DB) RetirePhone(ctx context.Context, e164, why string) error {
	tx, err := d.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var retired sql.NullString
	switch err := tx.QueryRowContext(ctx, `SELECT retired_at FROM phones WHERE e164 = ?`, e164).Scan(&retired); {
	case err == sql.ErrNoRows:
		return fmt.Errorf("phone %s: %w (it is not in the pool)", e164, canary.ErrNotFound)
	case err != nil:
		return fmt.Errorf("read phone %s: %w", e164, err)
	case retired.Valid:
		return canary.Invalidf("phone %s was retired on %s already", e164, parseTime(retired).Format(time.DateOnly))
	}
	if _, err := tx.ExecContext(ctx, `UPDATE phones SET retired_at = ? WHERE e164 = ? AND retired_at IS NULL`, fmtTime(tx.now), e164); err != nil {
		return fmt.Errorf("retire phone %s: %w", e164, err)
	}
	if err := tx.audit(ctx, canary.SharedChain, "phone retired", "phone "+e164, map[string]any{"why": why}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit retirement of %s: %w", e164, err)
	}
	return nil
}
