package sqlite

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/norm"
)

// PhoneImport is what an import of the phone pool did.
type PhoneImport struct {
	Imported        int       `json:"imported"`
	QuarantineUntil time.Time `json:"quarantine_until"`
}

// ImportPhones reads a CSV of alias numbers (header row; number[,provider][,label])
// and adds them all, or none when any row is wrong. Numbers without a country
// code are read in region. Fresh numbers sit in quarantine so contacts that a
// recycled number still gets can be measured as background noise.
func (d *DB) ImportPhones(ctx context.Context, r io.Reader, name, region string, quarantine time.Duration) (*PhoneImport, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	type row struct {
		line                  int
		e164, provider, label string
	}
	var rows []row
	seen := map[string]int{}
	for first := true; ; first = false {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			// The error names its line; FieldPos would panic here.
			return nil, canary.Invalidf("%s: %v", name, err)
		}
		line, _ := cr.FieldPos(0)
		if first {
			if len(rec) == 0 || !strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(rec[0], "\ufeff")), "number") {
				return nil, canary.Invalidf("%s line %d: the first row must be the header number[,provider][,label]", name, line)
			}
			continue
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) > 3 {
			return nil, canary.Invalidf("%s line %d: %d columns, want number[,provider][,label]", name, line, len(rec))
		}
		e, err := norm.PhoneE164(rec[0], region)
		if err != nil {
			return nil, canary.Invalidf("%s line %d: %v", name, line, err)
		}
		if prev, dup := seen[e]; dup {
			return nil, canary.Invalidf("%s line %d: %s repeats line %d", name, line, e, prev)
		}
		seen[e] = line
		rw := row{line: line, e164: e}
		if len(rec) > 1 {
			rw.provider = strings.TrimSpace(rec[1])
		}
		if len(rec) > 2 {
			rw.label = strings.TrimSpace(rec[2])
		}
		rows = append(rows, rw)
	}
	if len(rows) == 0 {
		return nil, canary.Invalidf("%s: no numbers after the header row", name)
	}
	tx, err := d.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	until := tx.now.Add(quarantine)
	for _, rw := range rows {
		if _, err := tx.ExecContext(ctx, `INSERT INTO phones (e164, provider, label, imported_at, quarantine_until) VALUES (?, ?, ?, ?, ?)`,
			rw.e164, rw.provider, rw.label, fmtTime(tx.now), fmtTime(until)); err != nil {
			if err = mapErr(err, ""); errors.Is(err, canary.ErrConflict) {
				return nil, canary.Invalidf("%s line %d: %s is already in the pool (a number is never imported twice)", name, rw.line, rw.e164)
			}
			return nil, fmt.Errorf("%s line %d: %w", name, rw.line, err)
		}
		if err := tx.audit(ctx, canary.SharedChain, "phone imported", "phone "+rw.e164, map[string]any{
			"provider": rw.provider, "label": rw.label, "quarantine_until": fmtTime(until)}); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit phone import: %w", err)
	}
	return &PhoneImport{Imported: len(rows), QuarantineUntil: until}, nil
}

// Phones lists the pool.
func (d *DB) Phones(ctx context.Context) ([]canary.Phone, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT p.e164, p.provider, p.label, p.imported_at, p.quarantine_until, p.retired_at,
		coalesce(p.bound_to, ''), (SELECT count(*) FROM tokens t WHERE t.kind = 'phone' AND t.match_key = p.e164)
		FROM phones p ORDER BY p.e164`)
	if err != nil {
		return nil, fmt.Errorf("list phones: %w", err)
	}
	defer rows.Close()
	var out []canary.Phone
	for rows.Next() {
		var p canary.Phone
		var imp, q, ret sql.NullString
		if err := rows.Scan(&p.E164, &p.Provider, &p.Label, &imp, &q, &ret, &p.BoundTo, &p.Orders); err != nil {
			return nil, fmt.Errorf("list phones: %w", err)
		}
		p.ImportedAt, p.QuarantineUntil, p.RetiredAt = parseTime(imp), parseTime(q), parseTime(ret)
		out = append(out, p)
	}
	return out, rows.Err()
}

// allocatePhone returns a pool number for a token whose exposure set is
// signature. A number serves several tokens only if their sets are identical
// and it never moves to another set; quarantined and retired numbers are
// never handed out. "" means the pool has nothing for this set.
func (tx *Tx) allocatePhone(ctx context.Context, signature, prefix string) (string, error) {
	var e string
	err := tx.QueryRowContext(ctx, `SELECT e164 FROM phones WHERE bound_to = ? AND retired_at IS NULL AND substr(e164, 1, length(?)) = ?
		ORDER BY e164 LIMIT 1`, signature, prefix, prefix).Scan(&e)
	if err == nil {
		return e, nil
	}
	if err != sql.ErrNoRows {
		return "", fmt.Errorf("find phone for %s: %w", signature, err)
	}
	err = tx.QueryRowContext(ctx, `SELECT e164 FROM phones WHERE bound_to IS NULL AND retired_at IS NULL AND quarantine_until <= ?
		AND substr(e164, 1, length(?)) = ? ORDER BY imported_at, e164 LIMIT 1`, fmtTime(tx.now), prefix, prefix).Scan(&e)
	if err == sql.ErrNoRows {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("find free phone: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE phones SET bound_to = ? WHERE e164 = ? AND bound_to IS NULL`, signature, e); err != nil {
		return "", fmt.Errorf("bind phone %s: %w", e, err)
	}
	return e, nil
}
