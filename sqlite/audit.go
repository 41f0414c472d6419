package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/leaktrace/leaktrace/canary"
)

// audit appends one entry to a chain inside tx. Write transactions take the
// database lock at BEGIN (_txlock=immediate), so reading the head and
// appending cannot interleave with another writer.
func (tx *Tx) audit(ctx context.Context, chain, action, subject string, detail any) error {
	body, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("encode audit detail: %w", err)
	}
	return tx.auditJSON(ctx, chain, action, subject, string(body))
}

// auditJSON is audit with the detail already encoded.
func (tx *Tx) auditJSON(ctx context.Context, chain, action, subject, detail string) error {
	e := canary.AuditEntry{Chain: chain, At: tx.now, Action: action, Subject: subject,
		Detail: detail, PrevHash: canary.GenesisHash, Seq: 1}
	if h, ok := tx.heads[chain]; ok {
		e.Seq, e.PrevHash = h.seq+1, h.hash
	} else {
		var prev sql.NullString
		var seq sql.NullInt64
		row, err := tx.queryRowStmt(ctx, `SELECT seq, hash FROM audit_log WHERE chain = ? ORDER BY seq DESC LIMIT 1`, chain)
		if err != nil {
			return err
		}
		switch err := row.Scan(&seq, &prev); {
		case err == sql.ErrNoRows:
		case err != nil:
			return fmt.Errorf("read chain head %s: %w", chain, err)
		default:
			e.Seq, e.PrevHash = seq.Int64+1, prev.String
		}
	}
	e.Hash = e.ComputeHash()
	if _, err := tx.execStmt(ctx, `INSERT INTO audit_log (chain, seq, at, action, subject, detail, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, e.Chain, e.Seq, fmtTime(e.At), e.Action, e.Subject, e.Detail, e.PrevHash, e.Hash); err != nil {
		return fmt.Errorf("append audit entry: %w", err)
	}
	if tx.heads == nil {
		tx.heads = map[string]chainHead{}
	}
	tx.heads[chain] = chainHead{e.Seq, e.Hash}
	return nil
}

// AuditLog returns a chain's entries in order.
func (d *DB) AuditLog(ctx context.Context, chain string) ([]canary.AuditEntry, error) {
	return auditLog(ctx, d.db, chain)
}

func auditLog(ctx context.Context, q querier, chain string) ([]canary.AuditEntry, error) {
	rows, err := q.QueryContext(ctx, `SELECT chain, seq, at, action, subject, detail, prev_hash, hash
		FROM audit_log WHERE chain = ? ORDER BY seq`, chain)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	var out []canary.AuditEntry
	for rows.Next() {
		var e canary.AuditEntry
		var at sql.NullString
		if err := rows.Scan(&e.Chain, &e.Seq, &at, &e.Action, &e.Subject, &e.Detail, &e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("read audit entry: %w", err)
		}
		e.At = parseTime(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// VerifyProgress is told how far verify has come: done of total entries
// ("links"), raw objects ("objects") or contacts ("rows").
type VerifyProgress func(stage string, done, total int64)

// Verify re-checks every link of the audit chains (all of them, or the
// shared chain and one investigation's) and re-hashes every raw object.
func (d *DB) Verify(ctx context.Context, investigation string) (*canary.VerifyReport, error) {
	return d.VerifyWithProgress(ctx, investigation, nil)
}

// VerifyWithProgress is Verify telling progress (which may be nil) how far
// it has come, now and then.
func (d *DB) VerifyWithProgress(ctx context.Context, investigation string, progress VerifyProgress) (*canary.VerifyReport, error) {
	if investigation != "" {
		if _, err := d.Investigation(ctx, investigation); err != nil {
			return nil, err
		}
	}
	// Everything is read from one snapshot: a contact that serve commits
	// while verify runs must be seen with its entries or not at all.
	tx, err := d.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("begin reading for verify: %w", err)
	}
	defer tx.Rollback()
	return verifier{tx: tx, progress: progress}.verify(ctx, investigation)
}

// verifier reads the whole store from one read transaction.
type verifier struct {
	tx       snapshot
	progress VerifyProgress
}

// meter returns what to call after each item of a stage of total items:
// it tells v.progress every few thousand, and at the end.
func (v verifier) meter(ctx context.Context, stage, countQuery string, args ...any) func() {
	if v.progress == nil {
		return func() {}
	}
	var total, done int64
	_ = v.tx.QueryRowContext(ctx, countQuery, args...).Scan(&total) // only for the display
	v.progress(stage, 0, total)
	return func() {
		done++
		if done%4096 == 0 || done == total {
			v.progress(stage, done, total)
		}
	}
}

type snapshot interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (v verifier) verify(ctx context.Context, investigation string) (*canary.VerifyReport, error) {
	rep := &canary.VerifyReport{Problems: []canary.Problem{}}
	chains := []string{canary.SharedChain, canary.InvestigationChain(investigation)}
	if investigation == "" {
		var err error
		if chains, err = v.chains(ctx); err != nil {
			return nil, err
		}
		if err := v.verifyChainNames(ctx, chains, rep); err != nil {
			return nil, err
		}
	}
	// Rows are read back only against chains whose links all hold: a
	// broken chain is already reported, and what it says cannot be relied
	// on. So links are checked first, in one pass that keeps only the
	// set-up entries (a few per order); contact entries are read again in
	// a second pass, joined with the rows one contact at a time, so memory
	// does not grow with the number of contacts.
	if err := v.verifyEntryTypes(ctx, rep); err != nil {
		return nil, err
	}
	read := map[string][]canary.AuditEntry{} // set-up entries, by chain
	contactEntries := map[string]int{}
	tick := v.meter(ctx, "links", `SELECT count(*) FROM audit_log WHERE chain IN (`+placeholders(len(chains))+`)`, anySlice(chains)...)
	for _, chain := range chains {
		c, err := v.readChain(ctx, chain, tick)
		if err != nil {
			return nil, err
		}
		if c.entries > 0 {
			rep.Chains++
		}
		rep.Entries += c.entries
		if c.broken != nil {
			rep.Problems = append(rep.Problems, *c.broken)
			continue
		}
		read[chain] = c.setup
		contactEntries[chain] = c.contactEntries
	}
	if err := v.verifyObjects(ctx, rep); err != nil {
		return nil, err
	}
	if err := v.verifyContacts(ctx, read, contactEntries, investigation == "" && len(read) == len(chains), rep); err != nil {
		return nil, err
	}
	if err := v.verifySetup(ctx, read, rep); err != nil {
		return nil, err
	}
	rep.OK = true
	for _, p := range rep.Problems {
		if p.Kind != "purged" {
			rep.OK = false
		}
	}
	return rep, nil
}

// placeholders is "?, ?, …", n of them, for an IN list that names exactly
// the values bound (SQLite takes an empty list). A text value bound there
// never equals the same bytes stored as a blob.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// short is the start of a hash, enough to tell it in a report (a forged
// one may be shorter).
func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// chainRead is what one pass over a chain found.
type chainRead struct {
	entries        int
	broken         *canary.Problem // the first broken link, or nil
	setup          []canary.AuditEntry
	contactEntries int // left for verifyContacts, which counts them again
}

// readChain checks a chain's links in order and keeps its set-up entries;
// contact entries are left for verifyContacts.
func (v verifier) readChain(ctx context.Context, chain string, tick func()) (chainRead, error) {
	// A NULL (which leaktrace never writes) reads as "" and then fails
	// its hash, rather than ending the whole verify.
	rows, err := v.tx.QueryContext(ctx, `SELECT coalesce(seq, 0), at, coalesce(action, ''), coalesce(subject, ''),
		coalesce(detail, ''), coalesce(prev_hash, ''), coalesce(hash, '') FROM audit_log WHERE chain = ? ORDER BY seq`, chain)
	if err != nil {
		return chainRead{}, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	var c chainRead
	prev := canary.GenesisHash
	for rows.Next() {
		e := canary.AuditEntry{Chain: chain}
		var at sql.NullString
		if err := rows.Scan(&e.Seq, &at, &e.Action, &e.Subject, &e.Detail, &e.PrevHash, &e.Hash); err != nil {
			return chainRead{}, fmt.Errorf("read audit entry: %w", err)
		}
		e.At = parseTime(at)
		c.entries++
		tick()
		if c.broken != nil {
			continue // counted, not read
		}
		if c.broken = checkLink(e, c.entries, prev); c.broken != nil {
			c.setup = nil
			continue
		}
		prev = e.Hash
		if _, ok := contactEntryOf(e.Action, e.Subject); ok {
			c.contactEntries++
		} else {
			c.setup = append(c.setup, e)
		}
	}
	return c, rows.Err()
}

// checkLink checks that e is the n-th entry of its chain, points at the
// hash before it and still hashes to its own; it names the break, or nil.
func checkLink(e canary.AuditEntry, n int, prev string) *canary.Problem {
	switch {
	case e.Seq != int64(n):
		return &canary.Problem{Chain: e.Chain, Seq: e.Seq, Kind: "broken link",
			Detail: fmt.Sprintf("entry %d is missing: the chain jumps to %d", n, e.Seq)}
	case e.PrevHash != prev:
		return &canary.Problem{Chain: e.Chain, Seq: e.Seq, Kind: "broken link",
			Detail: fmt.Sprintf("entry %d does not point at entry %d's hash", e.Seq, e.Seq-1)}
	}
	if got := e.ComputeHash(); got != e.Hash {
		return &canary.Problem{Chain: e.Chain, Seq: e.Seq, Kind: "bad hash",
			Detail: fmt.Sprintf("entry %d (%s %s) was changed: its content hashes to %s, recorded %s", e.Seq, e.Action, e.Subject, short(got), short(e.Hash))}
	}
	return nil
}

// verifyEntryTypes reports entries with a value stored as another type than
// leaktrace writes (a blob where text belongs, a NULL). SQLite compares
// such a value unlike its text, so an entry could be hidden from one query
// and not another while its hash still holds.
func (v verifier) verifyEntryTypes(ctx context.Context, rep *canary.VerifyReport) error {
	rows, err := v.tx.QueryContext(ctx, `SELECT coalesce(CAST(chain AS TEXT), ''), coalesce(CAST(seq AS TEXT), ''),
		typeof(chain), typeof(seq), typeof(at), typeof(action), typeof(subject), typeof(detail), typeof(prev_hash), typeof(hash)
		FROM audit_log WHERE typeof(chain) != 'text' OR typeof(seq) != 'integer' OR typeof(at) != 'text' OR typeof(action) != 'text'
		OR typeof(subject) != 'text' OR typeof(detail) != 'text' OR typeof(prev_hash) != 'text' OR typeof(hash) != 'text'`)
	if err != nil {
		return fmt.Errorf("check audit entries' types: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var chain, seq string
		var types [8]string
		if err := rows.Scan(&chain, &seq, &types[0], &types[1], &types[2], &types[3], &types[4], &types[5], &types[6], &types[7]); err != nil {
			return fmt.Errorf("check audit entries' types: %w", err)
		}
		var odd []string
		for i, name := range []string{"chain", "seq", "at", "action", "subject", "detail", "prev_hash", "hash"} {
			want := "text"
			if name == "seq" {
				want = "integer"
			}
			if types[i] != want {
				odd = append(odd, fmt.Sprintf("%s is %s, not %s", name, types[i], want))
			}
		}
		n, _ := strconv.ParseInt(seq, 10, 64)
		rep.Problems = append(rep.Problems, canary.Problem{Chain: chain, Seq: n, Kind: "altered entry",
			Detail: fmt.Sprintf("entry %s of chain %q is not stored as leaktrace writes entries (%s): it was written by other means", seq, chain, strings.Join(odd, ", "))})
	}
	return rows.Err()
}

// verifyChainNames reports chains leaktrace does not keep: one per
// investigation and the shared one. Another chain's links may hold (anyone
// can hash), but nothing it says is evidence.
func (v verifier) verifyChainNames(ctx context.Context, chains []string, rep *canary.VerifyReport) error {
	rows, err := v.tx.QueryContext(ctx, `SELECT name FROM investigations`)
	if err != nil {
		return fmt.Errorf("list investigations: %w", err)
	}
	defer rows.Close()
	kept := map[string]bool{canary.SharedChain: true}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return fmt.Errorf("list investigations: %w", err)
		}
		kept[canary.InvestigationChain(name)] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list investigations: %w", err)
	}
	for _, c := range chains {
		if !kept[c] {
			rep.Problems = append(rep.Problems, canary.Problem{Chain: c, Kind: "altered entry",
				Detail: fmt.Sprintf("chain %q belongs to no investigation: leaktrace keeps one chain per investigation and a shared one", c)})
		}
	}
	return nil
}

func (v verifier) chains(ctx context.Context) ([]string, error) {
	// A chain name stored as a blob is reported by verifyEntryTypes.
	rows, err := v.tx.QueryContext(ctx, `SELECT DISTINCT chain FROM audit_log WHERE typeof(chain) = 'text' ORDER BY chain`)
	if err != nil {
		return nil, fmt.Errorf("list chains: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("list chains: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// verifyObjects re-hashes raw objects one at a time, as a stream, so
// memory stays at the size of the largest object rather than the store.
func (v verifier) verifyObjects(ctx context.Context, rep *canary.VerifyReport) error {
	rows, err := v.tx.QueryContext(ctx, `SELECT sha256, bytes, size, purged_at FROM raw_objects ORDER BY sha256`)
	if err != nil {
		return fmt.Errorf("list raw objects: %w", err)
	}
	tick := v.meter(ctx, "objects", `SELECT count(*) FROM raw_objects`)
	for rows.Next() {
		tick()
		var name string
		var b []byte
		var size int64
		var purged sql.NullString
		if err := rows.Scan(&name, &b, &size, &purged); err != nil {
			rows.Close()
			return fmt.Errorf("read raw object: %w", err)
		}
		rep.Objects++
		if purged.Valid {
			rep.Problems = append(rep.Problems, canary.Problem{Object: name, Kind: "purged", Detail: "raw bytes removed at end of retention on " + purged.String})
			continue
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != name || int64(len(b)) != size {
			rep.Problems = append(rep.Problems, canary.Problem{Object: name, Kind: "changed object",
				Detail: fmt.Sprintf("raw object %s now hashes to %s (%d bytes, recorded %d)", name, got, len(b), size)})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read raw objects: %w", err)
	}
	// Contacts and order attachments both point at raw objects.
	missing, err := v.tx.QueryContext(ctx, `SELECT 'contact ' || c.id, c.raw_sha256 FROM contacts c
		LEFT JOIN raw_objects r ON r.sha256 = c.raw_sha256 WHERE r.sha256 IS NULL
		UNION ALL
		SELECT 'order ' || o.ref || ' attachment ' || x.file_name, x.raw_sha256 FROM order_attachments x
		JOIN orders o ON o.id = x.order_id LEFT JOIN raw_objects r ON r.sha256 = x.raw_sha256 WHERE r.sha256 IS NULL`)
	if err != nil {
		return fmt.Errorf("check contacts' raw objects: %w", err)
	}
	defer missing.Close()
	for missing.Next() {
		var what, sha string
		if err := missing.Scan(&what, &sha); err != nil {
			return fmt.Errorf("check contacts' raw objects: %w", err)
		}
		rep.Problems = append(rep.Problems, canary.Problem{Object: sha, Kind: "missing object",
			Detail: fmt.Sprintf("%s's raw object is gone", what)})
	}
	return missing.Err()
}

// putRaw stores raw bytes under their SHA-256 unless already stored, and
// returns the hash. Identical bytes are one object.
func (tx *Tx) putRaw(ctx context.Context, raw []byte) (string, error) {
	sum := sha256.Sum256(raw)
	name := hex.EncodeToString(sum[:])
	_, err := tx.putRawHashed(ctx, name, raw)
	return name, err
}

// putRawHashed is putRaw with the hash already computed by the caller (off
// the writer goroutine). It reports whether the bytes were new.
func (tx *Tx) putRawHashed(ctx context.Context, name string, raw []byte) (bool, error) {
	res, err := tx.execStmt(ctx, `INSERT INTO raw_objects (sha256, size, bytes, stored_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (sha256) DO NOTHING`, name, len(raw), raw, fmtTime(tx.now))
	if err != nil {
		return false, fmt.Errorf("store raw object: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store raw object: %w", err)
	}
	return n == 1, nil
}

// RawObject returns the stored bytes of a raw object.
func (d *DB) RawObject(ctx context.Context, sha string) ([]byte, error) {
	var b []byte
	if err := d.db.QueryRowContext(ctx, `SELECT bytes FROM raw_objects WHERE sha256 = ?`, sha).Scan(&b); err != nil {
		return nil, mapErr(err, "read raw object "+sha)
	}
	return b, nil
}
