package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/sqlite"
)

// A row changed behind the chain's back is found, though every link and
// every raw object still holds: the contact's time, its receipt (envelope
// and authentication results), its bytes, and its matches are read back
// against the entries that recorded them.
func TestVerifyComparesRowsWithChain(t *testing.T) {
	chain := canary.InvestigationChain(invName)
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, f *evidenceFixture, raw *sql.DB)
		kind   string
		says   string
		chain  string
	}{
		{"contact time moved", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			dropTrigger(t, raw, "contacts_no_update")
			mustExec(t, raw, `UPDATE contacts SET received_at = '2026-09-01T00:00:00.000000000Z' WHERE id = ?`, f.contact)
		}, "changed row", "received_at", chain},
		{"receipt rewritten", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			dropTrigger(t, raw, "contacts_no_update")
			mustExec(t, raw, `UPDATE contacts SET auth_json = '{"dkim":[{"domain":"shopa.example","result":"pass"}]}' WHERE id = ?`, f.contact)
		}, "changed row", "receipt_sha256", chain},
		{"sender and subject rewritten", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			dropTrigger(t, raw, "contacts_no_update")
			mustExec(t, raw, `UPDATE contacts SET from_text = 'orders@shopa.example', subject = 'Your order' WHERE id = ?`, f.contact)
		}, "changed row", "receipt_sha256", chain},
		{"contact pointed at other bytes", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			dropTrigger(t, raw, "contacts_no_update")
			mustExec(t, raw, `UPDATE contacts SET raw_sha256 = ? WHERE id = ?`, f.attSHA, f.contact)
		}, "changed row", "raw_sha256", chain},
		{"unissued cleared", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			dropTrigger(t, raw, "contacts_no_update")
			mustExec(t, raw, `UPDATE contacts SET unissued_json = '["x@canary.example"]' WHERE id = ?`, f.contact)
		}, "changed row", "unissued", chain},
		{"contact deleted", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			dropTrigger(t, raw, "contacts_no_delete")
			dropTrigger(t, raw, "matches_no_delete")
			mustExec(t, raw, `PRAGMA foreign_keys = OFF`)
			mustExec(t, raw, `DELETE FROM matches WHERE contact_id = ?`, f.contact)
			mustExec(t, raw, `DELETE FROM contacts WHERE id = ?`, f.contact)
		}, "missing row", "no longer in the database", chain},
		{"contact slipped in", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			mustExec(t, raw, `INSERT INTO contacts (channel, received_at, source, raw_sha256, stored_at)
				VALUES ('sms', '2026-10-05T00:00:00.000000000Z', 'forged', ?, '2026-10-05T00:00:00.000000000Z')`, f.rawSHA)
		}, "unrecorded row", "no \"contact received\" entry", ""},
		{"mark slipped in", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			mustExec(t, raw, `INSERT INTO marks (contact_id, mark, why, marked_at) VALUES (?, 'ignore', '', '2026-10-05T00:00:00.000000000Z')`, f.contact)
		}, "unrecorded row", `["ignore at 2026-10-05T00:00:00.000000000Z"] in the database, [] in the chain`, chain},
		{"mark changed", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			if err := f.db.MarkContact(t.Context(), f.contact, "scam", "quotes the order"); err != nil {
				t.Fatal(err)
			}
			dropTrigger(t, raw, "marks_no_update")
			mustExec(t, raw, `UPDATE marks SET mark = 'first-party' WHERE contact_id = ?`, f.contact)
		}, "changed row", "first-party (quotes the order)", chain},
		{"mark deleted", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			if err := f.db.MarkContact(t.Context(), f.contact, "scam", ""); err != nil {
				t.Fatal(err)
			}
			dropTrigger(t, raw, "marks_no_delete")
			mustExec(t, raw, `DELETE FROM marks WHERE contact_id = ?`, f.contact)
		}, "missing row", `[] in the database, ["scam at `, chain},
		{"mark's time changed", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			if err := f.db.MarkContact(t.Context(), f.contact, "ignore", "test mail"); err != nil {
				t.Fatal(err)
			}
			dropTrigger(t, raw, "marks_no_update")
			mustExec(t, raw, `UPDATE marks SET marked_at = '2026-01-01T00:00:00.000000000Z' WHERE contact_id = ?`, f.contact)
		}, "changed row", `["ignore (test mail) at 2026-01-01T00:00:00.000000000Z"] in the database`, chain},
		{"match excerpt changed", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			dropTrigger(t, raw, "matches_no_update")
			mustExec(t, raw, `UPDATE matches SET excerpt = 'words the sender never wrote' WHERE contact_id = ?`, f.contact)
		}, "changed row", "match excerpts are not those its entry hashed", chain},
		{"match made partial", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			dropTrigger(t, raw, "matches_no_update")
			mustExec(t, raw, `UPDATE matches SET partial = 1 WHERE contact_id = ?`, f.contact)
		}, "changed row", "partial=true", chain},
		{"match deleted", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			dropTrigger(t, raw, "matches_no_delete")
			mustExec(t, raw, `DELETE FROM matches WHERE contact_id = ?`, f.contact)
		}, "missing row", "no longer in the database", chain},
		{"match slipped in", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			mustExec(t, raw, `INSERT INTO matches (contact_id, token_id, how, partial, excerpt) VALUES (?, ?, 'body', 0, '')`,
				f.contact, token(t, f.order, canary.FieldShippingName).ID)
		}, "unrecorded row", "in no entry", chain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newEvidenceFixture(t)
			if rep := mustVerify(t, f.db, ""); !rep.OK {
				t.Fatalf("before tampering: %+v", rep.Problems)
			}
			tc.tamper(t, f, rawDB(t, f.db))
			for _, inv := range []string{"", invName} {
				rep := mustVerify(t, f.db, inv)
				found := problemWhere(rep, func(p canary.Problem) bool {
					return p.Kind == tc.kind && strings.HasPrefix(p.Object, "contact ")
				})
				if tc.kind == "unrecorded row" && tc.chain == "" && inv != "" {
					// Another investigation's chain, unread, may hold the entry.
					if found != nil {
						t.Fatalf("Verify(%q) reports %+v, which only the whole database can tell", inv, *found)
					}
					continue
				}
				if rep.OK || found == nil {
					t.Fatalf("Verify(%q) problems %+v, want a %s naming a contact", inv, rep.Problems, tc.kind)
				}
				if found.Chain != tc.chain || !strings.Contains(found.Detail, tc.says) {
					t.Fatalf("Verify(%q) found %+v, want chain %q and a detail saying %q", inv, *found, tc.chain, tc.says)
				}
			}
		})
	}
}

// rewriteChain rewrites the investigation's chain entry by entry with
// edit, relinking it, as an older version would have written it.
func rewriteChain(t *testing.T, f *evidenceFixture, raw *sql.DB, edit func(e *canary.AuditEntry)) {
	t.Helper()
	dropTrigger(t, raw, "audit_log_no_update")
	log, err := f.db.AuditLog(t.Context(), canary.InvestigationChain(invName))
	if err != nil {
		t.Fatal(err)
	}
	prev := canary.GenesisHash
	for _, e := range log {
		edit(&e)
		e.PrevHash = prev
		e.Hash = e.ComputeHash()
		prev = e.Hash
		mustExec(t, raw, `UPDATE audit_log SET action = ?, detail = ?, prev_hash = ?, hash = ? WHERE chain = ? AND seq = ?`,
			e.Action, e.Detail, e.PrevHash, e.Hash, e.Chain, e.Seq)
	}
}

// Verify reads the entries as every version wrote them: a database from
// before "matches made" (one "match made" entry per match) and before
// receipt hashes verifies clean, and a change to its rows is still found.
func TestVerifyReadsOlderEntries(t *testing.T) {
	f := newEvidenceFixture(t)
	raw := rawDB(t, f.db)
	rewriteChain(t, f, raw, func(e *canary.AuditEntry) {
		switch e.Action {
		case "contact received":
			e.Detail = strings.Replace(e.Detail, `"receipt_sha256":`, `"receipt_sha256_unknown":`, 1)
		case "matches made":
			_, rest, ok := strings.Cut(e.Detail, `"matches":[`)
			if !ok || !strings.HasPrefix(e.Detail, `{"excerpts_sha256":"`) {
				t.Fatalf("matches made entry as written now: %s", e.Detail)
			}
			inner := strings.TrimSuffix(rest, `]}`)
			if strings.Contains(inner, "},{") {
				t.Fatalf("fixture has several matches: %s", e.Detail)
			}
			e.Action, e.Detail = "match made", inner
		}
	})
	if rep := mustVerify(t, f.db, ""); !rep.OK {
		t.Fatalf("older entries: %+v, want OK", rep.Problems)
	}
	dropTrigger(t, raw, "matches_no_update")
	mustExec(t, raw, `UPDATE matches SET partial = 1 WHERE contact_id = ?`, f.contact)
	rep := mustVerify(t, f.db, "")
	if rep.OK || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0].Detail, "partial=true") {
		t.Fatalf("after a change: %s, want the match's change found", fmt.Sprint(rep.Problems))
	}
}

// "matches made" entries from before their excerpts were hashed verify
// clean: their excerpts cannot be checked, and nothing says they changed.
func TestVerifyReadsMatchesWithoutExcerptHash(t *testing.T) {
	f := newEvidenceFixture(t)
	raw := rawDB(t, f.db)
	rewriteChain(t, f, raw, func(e *canary.AuditEntry) {
		if e.Action == "matches made" {
			_, rest, _ := strings.Cut(e.Detail, `",`)
			e.Detail = "{" + rest
		}
	})
	dropTrigger(t, raw, "matches_no_update")
	mustExec(t, raw, `UPDATE matches SET excerpt = 'unchecked' WHERE contact_id = ?`, f.contact)
	if rep := mustVerify(t, f.db, ""); !rep.OK {
		t.Fatalf("entries without an excerpt hash: %+v, want OK", rep.Problems)
	}
}

// The set-up that decides whom a contact can blame is read back too: a
// token's value, who saw it and when, when the order was placed and who
// shipped it.
func TestVerifyComparesSetupWithChain(t *testing.T) {
	chain := canary.InvestigationChain(invName)
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, f *evidenceFixture, raw *sql.DB)
		kind   string
		says   string
	}{
		{"courier's exposure deleted", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			dropTrigger(t, raw, "exposures_no_delete")
			mustExec(t, raw, `DELETE FROM exposures WHERE party_id = (SELECT id FROM parties WHERE name = 'FastExpress')`)
		}, "missing row", "shown to FastExpress"},
		{"exposure moved to another party", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			dropTrigger(t, raw, "exposures_no_update")
			mustExec(t, raw, `UPDATE exposures SET party_id = (SELECT id FROM parties WHERE name = 'SlowPost')
				WHERE party_id = (SELECT id FROM parties WHERE name = 'FastExpress')`)
		}, "unrecorded row", "shown to SlowPost"},
		{"exposure made earlier", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			dropTrigger(t, raw, "exposures_no_update")
			mustExec(t, raw, `UPDATE exposures SET exposed_at = '2026-01-01T00:00:00.000000000Z'
				WHERE party_id = (SELECT id FROM parties WHERE name = 'Lens Pharmacy')`)
		}, "changed row", "exposed_at"},
		{"exposure slipped in", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			mustExec(t, raw, `INSERT INTO exposures (token_id, party_id, field, quality, exposed_at)
				VALUES (?, (SELECT id FROM parties WHERE name = 'Beauty Corner'), 'x', 'full', '2026-10-01T00:00:00.000000000Z')`,
				token(t, f.order, canary.FieldShippingName).ID)
		}, "unrecorded row", "shown to Beauty Corner"},
		{"token value changed", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			dropTrigger(t, raw, "tokens_no_update")
			mustExec(t, raw, `UPDATE tokens SET value = 'someone else' WHERE id = ?`, token(t, f.order, canary.FieldShippingName).ID)
		}, "changed row", "value"},
		{"order placed later", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			dropTrigger(t, raw, "orders_stages_stay")
			mustExec(t, raw, `UPDATE orders SET placed_at = '2026-12-31T00:00:00.000000000Z' WHERE ref = 'o-1'`)
		}, "changed row", "placed_at"},
		{"token moved to another order", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			o2, _ := f.mustCreateOrder(t, sqlite.OrderSpec{Ref: "o-2", Platform: "ShopA", Merchant: "Lens Pharmacy"})
			dropTrigger(t, raw, "tokens_no_update")
			mustExec(t, raw, `UPDATE tokens SET order_id = ? WHERE id = ?`, o2.ID, token(t, f.order, canary.FieldShippingName).ID)
		}, "changed row", `owner is "order o-2" in the database, "order o-1" in the entry`},
		{"order's merchant changed", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			dropTrigger(t, raw, "orders_stages_stay")
			mustExec(t, raw, `UPDATE orders SET merchant_id = (SELECT id FROM parties WHERE name = 'Beauty Corner') WHERE ref = 'o-1'`)
		}, "changed row", "merchant"},
		{"abandoned order revived", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			f.mustCreateOrder(t, sqlite.OrderSpec{Ref: "o-3", Platform: "ShopA", Merchant: "Lens Pharmacy"})
			if _, err := f.db.AbandonOrder(t.Context(), invName, "o-3"); err != nil {
				t.Fatal(err)
			}
			dropTrigger(t, raw, "orders_stages_stay")
			mustExec(t, raw, `UPDATE orders SET abandoned_at = NULL WHERE ref = 'o-3'`)
		}, "missing row", "order o-3 abandoned"},
		{"account moved to another platform", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			mustExec(t, raw, `UPDATE accounts SET platform_id = (SELECT id FROM parties WHERE name = 'ShopB')`)
		}, "changed row", "platform"},
		{"attachment relabelled", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			dropTrigger(t, raw, "order_attachments_no_change")
			mustExec(t, raw, `UPDATE order_attachments SET what = 'checkout'`)
		}, "missing row", "as label"},
		{"order shipped by another courier", func(t *testing.T, f *evidenceFixture, raw *sql.DB) {
			dropTrigger(t, raw, "orders_stages_stay")
			mustExec(t, raw, `UPDATE orders SET courier_id = (SELECT id FROM parties WHERE name = 'SlowPost') WHERE ref = 'o-1'`)
		}, "changed row", "courier"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newEvidenceFixture(t)
			tc.tamper(t, f, rawDB(t, f.db))
			for _, inv := range []string{"", invName} {
				rep := mustVerify(t, f.db, inv)
				found := problemWhere(rep, func(p canary.Problem) bool {
					return p.Kind == tc.kind && strings.Contains(p.Detail, tc.says)
				})
				if rep.OK || found == nil || found.Chain != chain {
					t.Fatalf("Verify(%q) problems %+v, want a %s in %s saying %q", inv, rep.Problems, tc.kind, chain, tc.says)
				}
			}
		})
	}
}

// Text that is not UTF-8 (a Latin-1 file name, a typed "Crème") is kept
// as bytes in the rows and as U+FFFD in the entries' JSON: a genuine
// database with such text verifies clean.
func TestVerifyNotUTF8(t *testing.T) {
	ctx := t.Context()
	f := newEvidenceFixture(t)
	if err := f.db.AddParty(ctx, &canary.Party{Name: "Caf\xe9Ship", Kind: canary.KindCourier, Senders: []string{"CAF\xc9"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.db.AddParty(ctx, &canary.Party{Name: "Caf\xe9 Hub", Kind: canary.KindCourier, Parent: "caf\xe9ship",
		Domains: []string{"Hub.Example.", "b.example"}, Senders: []string{"+84 912 000 111", "HUB"}}); err != nil {
		t.Fatal(err)
	}
	f.mustCreateOrder(t, sqlite.OrderSpec{Ref: "o-\xe9", Platform: "ShopA", Merchant: "Lens Pharmacy", Courier: "Caf\xe9Ship",
		PlacedAt: f.clock.now, PlacedText: "l\xe0 7h", Facts: []sqlite.Fact{{canary.FactItem, "Cr\xe8me \xff\xfe"}}})
	// Two refs that read alike once their bytes are encoded, placed and
	// shipped in the opposite order to their creation.
	if err := f.db.AddParty(ctx, &canary.Party{Name: "Gro\xdf\xe9 Shop", Kind: canary.KindPlatform}); err != nil {
		t.Fatal(err)
	}
	if err := f.db.AddParty(ctx, &canary.Party{Name: "GS-Express", Kind: canary.KindCourier, Parent: "gro\xdf\xe9 shop"}); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"M\xfcller", "M\xf6ller"} {
		f.mustCreateOrder(t, sqlite.OrderSpec{Ref: ref, Platform: "ShopA", Merchant: "Lens Pharmacy"})
	}
	for i, ref := range []string{"M\xf6ller", "M\xfcller"} {
		at := f.clock.now.Add(time.Duration(i) * time.Minute)
		if _, err := f.db.PlaceOrder(ctx, invName, ref, at, fmt.Sprint(i), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.ShipOrder(ctx, invName, ref, "GS-Express", "", at.Add(time.Minute), nil); err != nil {
			t.Fatal(err)
		}
	}
	c := &canary.Contact{Channel: canary.ChannelEmail, ReceivedAt: f.clock.now, ReceivedText: "lun. 2 nov. 2026 \xe0 07:00",
		Source: "eml:Commande confirm\xe9e.eml", From: "x@y.example", Unissued: []string{"a\xe9@canary.example"}}
	id, _, err := f.db.RecordContact(ctx, c, []byte("not utf-8: \xe9"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.MarkContact(ctx, id, "scam", "caf\xe9 \xc3"); err != nil {
		t.Fatal(err)
	}
	for _, inv := range []string{"", invName} {
		if rep := mustVerify(t, f.db, inv); !rep.OK {
			t.Fatalf("Verify(%q) of a genuine database: %+v", inv, rep.Problems)
		}
	}
}

// verify reads one snapshot: contacts committed while it runs are seen
// with their entries, or not at all, never as rows without entries.
func TestVerifyWhileWriting(t *testing.T) {
	f := newEvidenceFixture(t)
	writer, err := sqlite.Open(t.Context(), f.db.Path(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	email := token(t, f.order, canary.FieldChatEmail)
	done := make(chan error, 1)
	go func() {
		for i := range 60 {
			c := mailContact(email)
			if _, _, err := writer.RecordContact(context.Background(), c, fmt.Appendf(nil, "%s %d", rawMail(email.Value), i)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			running = false
		default:
		}
		if rep := mustVerify(t, f.db, ""); !rep.OK {
			t.Fatalf("Verify while contacts are recorded: %+v", rep.Problems)
		}
	}
}

// The shared chain's rows are read back too: parties (their kind and
// sender identities decide which mail is first-party), canary domains and
// pool phones.
func TestVerifyComparesPartiesWithChain(t *testing.T) {
	for _, tc := range []struct {
		name, sql, kind, says string
	}{
		{"kind changed", `UPDATE parties SET kind = 'merchant' WHERE name = 'FastExpress'`, "changed row", "kind"},
		{"sender deleted", `DELETE FROM party_senders WHERE kind = 'sender' AND party_id = (SELECT id FROM parties WHERE name = 'FastExpress')`, "changed row", "senders"},
		{"domain slipped in", `INSERT INTO party_senders (party_id, kind, value) VALUES ((SELECT id FROM parties WHERE name = 'ShopB'), 'domain', 'shopb.example')`, "changed row", "domains"},
		{"domain turned to plus-addressing", `UPDATE domains SET plus = 1 WHERE name = 'canary.example'`, "changed row", "plus"},
		{"phone quarantine shortened", `UPDATE phones SET quarantine_until = '2026-01-01T00:00:00.000000000Z'`, "changed row", "quarantine_until"},
		{"phone slipped in", `INSERT INTO phones (e164, imported_at, quarantine_until) VALUES ('+84999999999', '2026-10-01T00:00:00.000000000Z', '2026-10-01T00:00:00.000000000Z')`, "unrecorded row", "phone +84999999999"},
		{"party slipped in", `INSERT INTO parties (name, name_key, kind, added_at) VALUES ('Ghost', 'ghost', 'broker', '2026-10-01T00:00:00.000000000Z')`, "unrecorded row", "party Ghost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newEvidenceFixture(t)
			raw := rawDB(t, f.db)
			for _, trig := range []string{"parties_no_delete", "phones_set_stays", "party_senders_no_delete"} {
				dropTrigger(t, raw, trig)
			}
			mustExec(t, raw, tc.sql)
			rep := mustVerify(t, f.db, "")
			if problemWhere(rep, func(p canary.Problem) bool {
				return p.Kind == tc.kind && p.Chain == canary.SharedChain && strings.Contains(p.Detail, tc.says)
			}) != nil {
				return
			}
			t.Fatalf("problems %+v, want a %s in the shared chain saying %q", rep.Problems, tc.kind, tc.says)
		})
	}
}

// problemWhere is the last of the report's problems that is, or nil.
func problemWhere(rep *canary.VerifyReport, is func(canary.Problem) bool) *canary.Problem {
	var found *canary.Problem
	for i, p := range rep.Problems {
		if is(p) {
			found = &rep.Problems[i]
		}
	}
	return found
}
