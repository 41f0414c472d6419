package sqlite_test

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/sqlite"
)

// twoInvestigations is the evidence fixture plus a second investigation
// whose order's token the same contact also reached: the contact is then
// recorded in both chains.
func twoInvestigations(t *testing.T) (*evidenceFixture, int64) {
	t.Helper()
	f := newEvidenceFixture(t)
	ctx := context.Background()
	if err := f.db.CreateInvestigation(ctx, &canary.Investigation{Name: "q2", Locale: canary.LocaleVietnam, Address: baseAddress}); err != nil {
		t.Fatal(err)
	}
	o, _ := f.mustCreateOrder(t, sqlite.OrderSpec{Investigation: "q2", Ref: "p-1", Platform: "ShopB", Merchant: "Beauty Corner",
		Courier: "SlowPost", PlacedAt: f.clock.now})
	f.clock.Advance(24 * time.Hour)
	a, b := token(t, f.order, canary.FieldChatEmail), token(t, o, canary.FieldChatEmail)
	c := mailContact(a)
	c.To = append(c.To, b.Value)
	c.Matches = append(c.Matches, canary.Match{TokenID: b.ID, Kind: b.Kind, Value: b.Value, How: canary.HowRecipient, Excerpt: b.Value})
	id, _, err := f.db.RecordContact(ctx, c, []byte(rawMail(a.Value+", "+b.Value)))
	if err != nil {
		t.Fatal(err)
	}
	return f, id
}

func kinds(rep *canary.VerifyReport) []string {
	var out []string
	for _, p := range rep.Problems {
		out = append(out, p.Kind+" "+p.Chain)
	}
	return out
}

// A contact recorded in two investigations' chains is compared with both
// entries, and each match with its own investigation's entry.
func TestVerifyContactInTwoChains(t *testing.T) {
	f, id := twoInvestigations(t)
	if rep := mustVerify(t, f.db, ""); !rep.OK {
		t.Fatalf("clean: %+v", rep.Problems)
	}
	raw := rawDB(t, f.db)
	dropTrigger(t, raw, "contacts_no_update")
	mustExec(t, raw, `UPDATE contacts SET received_at = '2026-01-01T00:00:00.000000000Z' WHERE id = ?`, id)
	want := []string{"changed row " + canary.InvestigationChain("q2"), "changed row " + canary.InvestigationChain(invName)}
	if got := kinds(mustVerify(t, f.db, "")); !slices.Equal(got, want) {
		t.Fatalf("after the change: %q, want %q", got, want)
	}
	// One investigation's verify reads its own chain and the shared one.
	if got := kinds(mustVerify(t, f.db, "q2")); !slices.Equal(got, want[:1]) {
		t.Fatalf("q2 alone: %q, want %q", got, want[:1])
	}
	dropTrigger(t, raw, "matches_no_delete")
	mustExec(t, raw, `DELETE FROM matches WHERE contact_id = ? AND token_id IN (SELECT id FROM tokens WHERE investigation_id = (SELECT id FROM investigations WHERE name = 'q2'))`, id)
	rep := mustVerify(t, f.db, "")
	if got := kinds(rep); len(got) != 3 || got[2] != "missing row "+canary.InvestigationChain("q2") {
		t.Fatalf("after a match is gone: %+v", rep.Problems)
	}
}

// An entry that cannot be read is reported, and the row it recorded is
// then one that no entry records.
func TestVerifyUnreadableEntry(t *testing.T) {
	f := newEvidenceFixture(t)
	raw := rawDB(t, f.db)
	rewriteChain(t, f, raw, func(e *canary.AuditEntry) {
		if e.Action == "contact received" {
			e.Detail = "{not json"
		}
	})
	rep := mustVerify(t, f.db, "")
	got := kinds(rep)
	chain := canary.InvestigationChain(invName)
	if !slices.Contains(got, "unreadable entry "+chain) || !slices.Contains(got, "unrecorded row ") {
		t.Fatalf("problems %q, want an unreadable entry and an unrecorded row", got)
	}
	for _, p := range rep.Problems {
		if p.Kind == "unreadable entry" && !strings.Contains(p.Detail, "contact received") {
			t.Fatalf("unreadable entry %+v does not name its action", p)
		}
	}
}

// appendEntry adds a correctly linked entry at the end of the chain, as
// someone holding the database file could.
func appendEntry(t *testing.T, f *evidenceFixture, raw *sql.DB, action, subject, detail string) {
	t.Helper()
	log, err := f.db.AuditLog(t.Context(), canary.InvestigationChain(invName))
	if err != nil {
		t.Fatal(err)
	}
	last := log[len(log)-1]
	e := canary.AuditEntry{Chain: last.Chain, Seq: last.Seq + 1, At: last.At, Action: action, Subject: subject, Detail: detail, PrevHash: last.Hash}
	e.Hash = e.ComputeHash()
	mustExec(t, raw, `INSERT INTO audit_log (chain, seq, at, action, subject, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Chain, e.Seq, e.At.UTC().Format("2006-01-02T15:04:05.000000000Z"), e.Action, e.Subject, e.Detail, e.PrevHash, e.Hash)
}

// Ways to hide an entry or a row from the join that a helper's review
// found in its first version, each now reported.
func TestVerifyStreamsCannotBeSplit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, f *evidenceFixture, raw *sql.DB)
		want   []string // kinds that must be among the problems
	}{
		{"entry's subject stored as a blob, contact deleted", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			dropTrigger(t, raw, "audit_log_no_update")
			for _, tr := range []string{"contacts_no_delete", "matches_no_delete"} {
				dropTrigger(t, raw, tr)
			}
			mustExec(t, raw, `PRAGMA foreign_keys = OFF`)
			mustExec(t, raw, `UPDATE audit_log SET subject = CAST(subject AS BLOB) WHERE subject = ?`, "contact "+strconv.FormatInt(f.contact, 10))
			mustExec(t, raw, `DELETE FROM matches WHERE contact_id = ?`, f.contact)
			mustExec(t, raw, `DELETE FROM contacts WHERE id = ?`, f.contact)
		}, []string{"altered entry", "missing row"}},
		{"entry in a chain named by a blob", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			mustExec(t, raw, `INSERT INTO audit_log VALUES (CAST(? AS BLOB), 1, '2026-12-01T00:00:00.000000000Z', 'contact marked', ?, '{"mark":"first-party","why":"forged"}', 'junk', 'junk')`,
				canary.InvestigationChain(invName), "contact "+strconv.FormatInt(f.contact, 10))
			mustExec(t, raw, `INSERT INTO marks (contact_id, mark, why, marked_at) VALUES (?, 'first-party', 'forged', '2026-12-01T00:00:00.000000000Z')`, f.contact)
		}, []string{"altered entry", "unrecorded row"}},
		{"contact with a negative id", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			mustExec(t, raw, `INSERT INTO contacts (id, channel, received_at, source, raw_sha256, stored_at)
				VALUES (-7, 'sms', '2026-10-05T00:00:00.000000000Z', 'forged', ?, '2026-10-05T00:00:00.000000000Z')`, f.rawSHA)
		}, []string{"unrecorded row"}},
		{"mark's time erased", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			if err := f.db.MarkContact(t.Context(), f.contact, "scam", ""); err != nil {
				t.Fatal(err)
			}
			// A table rebuilt without NOT NULL: a report, not an error.
			mustExec(t, raw, `CREATE TABLE marks_loose (id INTEGER PRIMARY KEY, contact_id INTEGER, mark TEXT, why TEXT, marked_at TEXT)`)
			mustExec(t, raw, `INSERT INTO marks_loose SELECT * FROM marks`)
			mustExec(t, raw, `DROP TABLE marks`)
			mustExec(t, raw, `ALTER TABLE marks_loose RENAME TO marks`)
			mustExec(t, raw, `UPDATE marks SET marked_at = NULL WHERE contact_id = ?`, f.contact)
		}, []string{"changed row"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newEvidenceFixture(t)
			raw := rawDB(t, f.db)
			tc.tamper(t, f, raw)
			rep := mustVerify(t, f.db, "")
			got := strings.Join(kinds(rep), "; ")
			for _, k := range tc.want {
				if !strings.Contains(got, k) {
					t.Fatalf("problems %q, want a %s", got, k)
				}
			}
		})
	}
}

// An entry whose subject only looks like a contact's ("contact 1 ") speaks
// of none: it does not split that contact's rows from its entries.
func TestVerifyOddSubjectIsNoContact(t *testing.T) {
	f := newEvidenceFixture(t)
	raw := rawDB(t, f.db)
	appendEntry(t, f, raw, "contact marked", "contact "+strconv.FormatInt(f.contact, 10)+" ", `{"mark":"scam","why":""}`)
	if rep := mustVerify(t, f.db, ""); !rep.OK {
		t.Fatalf("odd subject: %+v, want OK", rep.Problems)
	}
}

// Verify tells its progress through each stage, ending each at its total.
func TestVerifyWithProgress(t *testing.T) {
	f := newEvidenceFixture(t)
	last := map[string][2]int64{}
	var order []string
	rep, err := f.db.VerifyWithProgress(t.Context(), "", func(stage string, done, total int64) {
		if _, seen := last[stage]; !seen {
			order = append(order, stage)
		}
		last[stage] = [2]int64{done, total}
	})
	if err != nil || !rep.OK {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	if want := []string{"links", "objects", "rows"}; !slices.Equal(order, want) {
		t.Fatalf("stages %q, want %q", order, want)
	}
	for stage, dt := range last {
		if dt[0] != dt[1] || dt[1] == 0 {
			t.Errorf("stage %s ended at %d of %d", stage, dt[0], dt[1])
		}
	}
	if got := last["links"][1]; got != int64(rep.Entries) {
		t.Errorf("links total %d, want the %d entries verified", got, rep.Entries)
	}
}

// A match row is recorded only by its own investigation's chain: an entry
// in any other chain, a fresh correctly hashed one included, or one in a
// chain that verify did not check, does not vouch for it.
func TestVerifyMatchOnlyByItsOwnChain(t *testing.T) {
	for _, tc := range []struct {
		name, chain   string
		investigation string // verify only this one
	}{
		{"entry in a fresh chain", "zz", ""},
		{"entry in a chain named ''", "", invName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newEvidenceFixture(t)
			raw := rawDB(t, f.db)
			var other canary.Token
			for _, tok := range f.order.Tokens {
				if tok.Field != canary.FieldChatEmail {
					other = tok
					break
				}
			}
			mustExec(t, raw, `INSERT INTO matches (contact_id, token_id, how, partial, excerpt) VALUES (?, ?, 'recipient', 0, '')`, f.contact, other.ID)
			e := canary.AuditEntry{Chain: tc.chain, Seq: 1, At: t0, Action: "matches made", Subject: "contact " + strconv.FormatInt(f.contact, 10),
				Detail: `{"matches":[{"how":"recipient","partial":false,"token":` + strconv.FormatInt(other.ID, 10) + `}]}`, PrevHash: canary.GenesisHash}
			e.Hash = e.ComputeHash()
			mustExec(t, raw, `INSERT INTO audit_log (chain, seq, at, action, subject, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				e.Chain, e.Seq, e.At.UTC().Format("2006-01-02T15:04:05.000000000Z"), e.Action, e.Subject, e.Detail, e.PrevHash, e.Hash)
			rep := mustVerify(t, f.db, tc.investigation)
			got := strings.Join(kinds(rep), "; ")
			if !strings.Contains(got, "unrecorded row "+canary.InvestigationChain(invName)) {
				t.Fatalf("problems %q, want the match row unrecorded in its investigation's chain", got)
			}
			if strings.Contains(got, "bad hash") || strings.Contains(got, "broken link") {
				t.Fatalf("problems %q: the forged chain itself should hold", got)
			}
			if tc.investigation == "" && !strings.Contains(got, "altered entry "+tc.chain) {
				t.Fatalf("problems %q, want chain %q named as no investigation's", got, tc.chain)
			}
		})
	}
}
