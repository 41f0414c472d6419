package sqlite_test

import (
	"context"
	"slices"
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
