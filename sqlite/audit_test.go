package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/sqlite"
)

// evidenceFixture is a fixture with an order, an attachment and two
// contacts, so every chain and object kind has entries.
type evidenceFixture struct {
	*fixture
	order   *canary.Order
	contact int64
	rawSHA  string
	attSHA  string
}

func newEvidenceFixture(tb testing.TB) *evidenceFixture {
	tb.Helper()
	ctx := context.Background()
	f := &evidenceFixture{fixture: newFixture(tb, 5)}
	f.order, _ = f.mustCreateOrder(tb, sqlite.OrderSpec{Ref: "o-1", Platform: "ShopA", Merchant: "Lens Pharmacy",
		Courier: "FastExpress", PlacedAt: f.clock.now, Facts: []sqlite.Fact{{canary.FactOrderNo, "2611011234"}}})
	var err error
	if f.attSHA, err = f.db.AttachToOrder(ctx, invName, "o-1", "label.png", "label", []byte("\x89PNG label bytes")); err != nil {
		tb.Fatalf("AttachToOrder: %v", err)
	}
	f.clock.Advance(24 * time.Hour)
	email := token(tb, f.order, canary.FieldChatEmail)
	c := mailContact(email)
	if f.contact, _, err = f.db.RecordContact(ctx, c, []byte(rawMail(email.Value))); err != nil {
		tb.Fatalf("RecordContact: %v", err)
	}
	f.rawSHA = c.RawSHA256
	// A contact that matched nothing goes to the shared chain.
	if _, _, err := f.db.RecordContact(ctx, &canary.Contact{Channel: canary.ChannelSMS, ReceivedAt: f.clock.now, Source: "test",
		From: "+84900000000", To: []string{"+84912000099"}}, []byte("spam text")); err != nil {
		tb.Fatalf("RecordContact(unmatched): %v", err)
	}
	return f
}

func rawMail(to string) string {
	return "From: \"CSKH ShopA\" <cskh@shopa-hoantien.example>\r\nTo: " + to +
		"\r\nSubject: =?UTF-8?B?SG/DoG4gdGnhu4Fu?=\r\n\r\nChị ơi, đơn hàng 2611011234 được hoàn tiền.\r\n"
}

func mailContact(tok canary.Token) *canary.Contact {
	return &canary.Contact{Channel: canary.ChannelEmail, ReceivedAt: t0.Add(48 * time.Hour), ReceivedText: "Mon, 2 Nov 2026 07:00:00 +0700",
		Source: "eml:test.eml", From: "cskh@shopa-hoantien.example", To: []string{tok.Value}, Subject: "Hoàn tiền",
		Matches: []canary.Match{{TokenID: tok.ID, Kind: tok.Kind, Value: tok.Value, How: canary.HowRecipient}}}
}

func mustVerify(tb testing.TB, db *sqlite.DB, investigation string) *canary.VerifyReport {
	tb.Helper()
	rep, err := db.Verify(context.Background(), investigation)
	if err != nil {
		tb.Fatalf("Verify(%q): %v", investigation, err)
	}
	return rep
}

// problem returns the report's problem of kind, failing if there is not
// exactly one problem in all.
func onlyProblem(tb testing.TB, rep *canary.VerifyReport, kind string) canary.Problem {
	tb.Helper()
	if rep.OK {
		tb.Fatalf("Verify OK=true, want a %s", kind)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].Kind != kind {
		tb.Fatalf("Problems=%+v, want one %s", rep.Problems, kind)
	}
	return rep.Problems[0]
}

func TestVerifyClean(t *testing.T) {
	f := newEvidenceFixture(t)
	raw := rawDB(t, f.db)
	rep := mustVerify(t, f.db, "")
	if !rep.OK || len(rep.Problems) != 0 {
		t.Fatalf("Verify=%+v, want OK with no problems", rep)
	}
	if rep.Chains != 2 || rep.Entries != count(t, raw, "audit_log") || rep.Objects != count(t, raw, "raw_objects") || rep.Objects != 3 {
		t.Fatalf("Verify counted %d chains, %d entries, %d objects; want 2, %d, 3", rep.Chains, rep.Entries, rep.Objects, count(t, raw, "audit_log"))
	}
	if rep := mustVerify(t, f.db, invName); !rep.OK || rep.Chains != 2 {
		t.Fatalf("Verify(%s)=%+v, want OK over the shared and the investigation chain", invName, rep)
	}
	if _, err := f.db.Verify(context.Background(), "nope"); !errors.Is(err, canary.ErrNotFound) {
		t.Fatalf("Verify(unknown) err=%v, want ErrNotFound", err)
	}
	// Every state change is in the chain.
	log, err := f.db.AuditLog(context.Background(), canary.InvestigationChain(invName))
	if err != nil {
		t.Fatalf("AuditLog: %v", err)
	}
	actions := map[string]int{}
	for i, e := range log {
		actions[e.Action]++
		if e.Seq != int64(i+1) || e.Hash != e.ComputeHash() {
			t.Fatalf("entry %d: Seq=%d Hash=%q, want seq %d and its computed hash", i, e.Seq, e.Hash, i+1)
		}
	}
	for _, a := range []string{"investigation created", "account created", "order created", "token issued", "exposure recorded",
		"order placed", "order shipped", "attachment stored", "contact received", "matches made"} {
		if actions[a] == 0 {
			t.Fatalf("no %q entry in the chain (%v)", a, actions)
		}
	}
}

// dropTrigger removes a trigger as an attacker with the sqlite3 CLI could.
func dropTrigger(tb testing.TB, raw *sql.DB, name string) {
	tb.Helper()
	mustExec(tb, raw, "DROP TRIGGER "+name)
}

func TestVerifyFindsTampering(t *testing.T) {
	chain := canary.InvestigationChain(invName)
	for _, tc := range []struct {
		name    string
		tamper  func(t *testing.T, f *evidenceFixture, raw *sql.DB)
		kind    string
		chain   string
		seq     int64
		object  bool
		details string
	}{
		{"changed detail", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			dropTrigger(t, raw, "audit_log_no_update")
			mustExec(t, raw, `UPDATE audit_log SET detail = detail || ' ' WHERE chain = ? AND seq = 3`, chain)
		}, "bad hash", chain, 3, false, "entry 3"},
		{"changed time", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			dropTrigger(t, raw, "audit_log_no_update")
			mustExec(t, raw, `UPDATE audit_log SET at = '2026-10-01T00:00:00.000000000Z' WHERE chain = ? AND seq = 5`, chain)
		}, "bad hash", chain, 5, false, ""},
		{"changed shared entry", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			dropTrigger(t, raw, "audit_log_no_update")
			mustExec(t, raw, `UPDATE audit_log SET subject = 'party ShopZ' WHERE chain = 'shared' AND seq = 2`)
		}, "bad hash", canary.SharedChain, 2, false, ""},
		{"hash cut short", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			// Reported, not a crash of the report.
			dropTrigger(t, raw, "audit_log_no_update")
			mustExec(t, raw, `UPDATE audit_log SET hash = 'x' WHERE chain = ? AND seq = 4`, chain)
		}, "bad hash", chain, 4, false, "recorded x"},
		{"rehashed entry", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			// The attacker recomputes the changed entry's hash: the next link breaks.
			dropTrigger(t, raw, "audit_log_no_update")
			log, _ := f.db.AuditLog(context.Background(), chain)
			e := log[3]
			e.Detail = `{"forged":true}`
			mustExec(t, raw, `UPDATE audit_log SET detail = ?, hash = ? WHERE chain = ? AND seq = 4`, e.Detail, e.ComputeHash(), chain)
		}, "broken link", chain, 5, false, ""},
		{"deleted middle entry", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			dropTrigger(t, raw, "audit_log_no_delete")
			mustExec(t, raw, `DELETE FROM audit_log WHERE chain = ? AND seq = 6`, chain)
		}, "broken link", chain, 7, false, "entry 6 is missing"},
		{"deleted first entry", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			dropTrigger(t, raw, "audit_log_no_delete")
			mustExec(t, raw, `DELETE FROM audit_log WHERE chain = ? AND seq = 1`, chain)
		}, "broken link", chain, 2, false, ""},
		{"renumbered after delete", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			dropTrigger(t, raw, "audit_log_no_delete")
			dropTrigger(t, raw, "audit_log_no_update")
			mustExec(t, raw, `DELETE FROM audit_log WHERE chain = ? AND seq = 6`, chain)
			mustExec(t, raw, `UPDATE audit_log SET seq = -seq WHERE chain = ? AND seq > 6`, chain)
			mustExec(t, raw, `UPDATE audit_log SET seq = -seq - 1 WHERE chain = ? AND seq < 0`, chain)
		}, "broken link", chain, 6, false, ""},
		{"changed raw byte", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			dropTrigger(t, raw, "raw_objects_only_purge")
			mustExec(t, raw, `UPDATE raw_objects SET bytes = CAST(replace(CAST(bytes AS TEXT), '2611011234', '2611011235') AS BLOB) WHERE sha256 = ?`, f.rawSHA)
		}, "changed object", "", 0, true, ""},
		{"truncated raw object", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			dropTrigger(t, raw, "raw_objects_only_purge")
			mustExec(t, raw, `UPDATE raw_objects SET bytes = substr(bytes, 1, 10) WHERE sha256 = ?`, f.rawSHA)
		}, "changed object", "", 0, true, ""},
		{"deleted contact object", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			dropTrigger(t, raw, "raw_objects_no_delete")
			mustExec(t, raw, `DELETE FROM raw_objects WHERE sha256 = ?`, f.rawSHA)
		}, "missing object", "", 0, true, "contact "},
		{"deleted attachment object", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			dropTrigger(t, raw, "raw_objects_no_delete")
			mustExec(t, raw, `DELETE FROM raw_objects WHERE sha256 = ?`, f.attSHA)
		}, "missing object", "", 0, true, "order o-1 attachment label.png"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newEvidenceFixture(t)
			raw := rawDB(t, f.db)
			tc.tamper(t, f, raw)
			p := onlyProblem(t, mustVerify(t, f.db, ""), tc.kind)
			if p.Chain != tc.chain || p.Seq != tc.seq {
				t.Fatalf("problem at %q seq %d, want %q seq %d (%+v)", p.Chain, p.Seq, tc.chain, tc.seq, p)
			}
			if tc.object && p.Object == "" {
				t.Fatalf("problem %+v names no object", p)
			}
			if !strings.Contains(p.Detail, tc.details) {
				t.Fatalf("Detail=%q, want it to say %q", p.Detail, tc.details)
			}
		})
	}
}

func TestVerifyReportsFirstBrokenLinkOfEachChain(t *testing.T) {
	f := newEvidenceFixture(t)
	raw := rawDB(t, f.db)
	dropTrigger(t, raw, "audit_log_no_update")
	chain := canary.InvestigationChain(invName)
	for _, seq := range []int{9, 4, 12} {
		mustExec(t, raw, `UPDATE audit_log SET detail = detail || ' ' WHERE chain = ? AND seq = ?`, chain, seq)
	}
	mustExec(t, raw, `UPDATE audit_log SET detail = detail || ' ' WHERE chain = 'shared' AND seq IN (3, 5)`)
	rep := mustVerify(t, f.db, "")
	if rep.OK || len(rep.Problems) != 2 {
		t.Fatalf("Problems=%+v, want one per chain", rep.Problems)
	}
	got := map[string]int64{}
	for _, p := range rep.Problems {
		got[p.Chain] = p.Seq
	}
	if got[chain] != 4 || got[canary.SharedChain] != 3 {
		t.Fatalf("first broken links=%v, want %s at 4 and shared at 3", got, chain)
	}
}

func TestEvidenceIsAppendOnly(t *testing.T) {
	f := newEvidenceFixture(t)
	raw := rawDB(t, f.db)
	before := counts(t, raw)
	for _, q := range []string{
		`UPDATE contacts SET subject = 'nothing to see'`,
		`DELETE FROM contacts`,
		`UPDATE matches SET how = 'body'`,
		`DELETE FROM matches`,
		`UPDATE audit_log SET detail = '{}'`,
		`DELETE FROM audit_log`,
		`DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)`,
		`UPDATE raw_objects SET bytes = x'00'`,
		`UPDATE raw_objects SET size = size + 1`,
		`UPDATE raw_objects SET bytes = x'00', purged_at = '2026-12-01'`,
		`DELETE FROM raw_objects`,
		`UPDATE tokens SET value = 'x'`,
		`DELETE FROM tokens`,
		`UPDATE exposures SET exposed_at = '2030-01-01'`,
		`DELETE FROM exposures`,
	} {
		if _, err := raw.Exec(q); err == nil {
			t.Fatalf("%s succeeded, want the schema to refuse it", q)
		}
	}
	if err := f.db.MarkContact(context.Background(), f.contact, canary.MarkScam, "fake refund"); err != nil {
		t.Fatalf("MarkContact: %v", err)
	}
	for _, q := range []string{`UPDATE marks SET mark = 'ignore'`, `DELETE FROM marks`} {
		if _, err := raw.Exec(q); err == nil {
			t.Fatalf("%s succeeded, want the schema to refuse it", q)
		}
	}
	after := counts(t, raw)
	before["marks"]++
	before["audit_log"]++
	sameCounts(t, before, after)
	if rep := mustVerify(t, f.db, ""); !rep.OK {
		t.Fatalf("Verify=%+v after refused writes, want OK", rep)
	}
}

// TestPurgeLeavesTombstone empties raw bytes the only way the schema allows.
func TestPurgeLeavesTombstone(t *testing.T) {
	f := newEvidenceFixture(t)
	raw := rawDB(t, f.db)
	mustExec(t, raw, `UPDATE raw_objects SET bytes = NULL, purged_at = '2027-11-01T00:00:00.000000000Z' WHERE sha256 = ?`, f.rawSHA)
	rep := mustVerify(t, f.db, "")
	p := onlyProblem(t, &canary.VerifyReport{Problems: rep.Problems}, "purged")
	if !rep.OK || p.Object != f.rawSHA {
		t.Fatalf("Verify=%+v, want OK with %s purged", rep, f.rawSHA)
	}
	if _, err := raw.Exec(`UPDATE raw_objects SET purged_at = NULL WHERE sha256 = ?`, f.rawSHA); err == nil {
		t.Fatalf("un-purging succeeded")
	}
}
