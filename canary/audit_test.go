package canary_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/leaktrace/leaktrace/canary"
)

func sampleEntry() canary.AuditEntry {
	return canary.AuditEntry{
		Chain:    canary.InvestigationChain("q4-cosmetics"),
		Seq:      7,
		At:       time.Date(2026, 11, 1, 10, 0, 0, 123456789, time.UTC),
		Action:   "token issued",
		Subject:  "order o-001",
		Detail:   `{"token":3,"kind":"email"}`,
		PrevHash: canary.GenesisHash,
	}
}

func TestAuditEntryComputeHash(t *testing.T) {
	e := sampleEntry()
	h := e.ComputeHash()
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(h) {
		t.Fatalf("ComputeHash()=%q, want 64 lower-case hex digits", h)
	}
	if again := e.ComputeHash(); again != h {
		t.Fatalf("ComputeHash()=%q the second time, want %q", again, h)
	}
	// The recorded Hash is not part of what is hashed.
	e.Hash = h
	if got := e.ComputeHash(); got != h {
		t.Fatalf("ComputeHash() with Hash set=%q, want %q", got, h)
	}
	// The same instant in another zone is the same entry.
	e.At = e.At.In(time.FixedZone("ICT", 7*3600))
	if got := e.ComputeHash(); got != h {
		t.Fatalf("ComputeHash() in another zone=%q, want %q", got, h)
	}
	for _, tc := range []struct {
		name   string
		change func(*canary.AuditEntry)
	}{
		{"chain", func(e *canary.AuditEntry) { e.Chain = canary.SharedChain }},
		{"seq", func(e *canary.AuditEntry) { e.Seq++ }},
		{"at", func(e *canary.AuditEntry) { e.At = e.At.Add(time.Nanosecond) }},
		{"action", func(e *canary.AuditEntry) { e.Action = "token issued " }},
		{"subject", func(e *canary.AuditEntry) { e.Subject = "order o-002" }},
		{"detail", func(e *canary.AuditEntry) { e.Detail = `{"token":4,"kind":"email"}` }},
		{"prev hash", func(e *canary.AuditEntry) { e.PrevHash = h }},
		{"empty detail", func(e *canary.AuditEntry) { e.Detail = "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := sampleEntry()
			tc.change(&e)
			if got := e.ComputeHash(); got == h {
				t.Fatalf("ComputeHash()=%q after changing %s, want a different hash", got, tc.name)
			}
		})
	}
}

// TestAuditEntryKnownHash pins the recipe VERIFY.txt gives third parties:
// sha256 of prev_hash, chain, seq, RFC 3339 UTC time, action, subject and
// detail, each written as its byte length, a colon, itself and a newline.
func TestAuditEntryKnownHash(t *testing.T) {
	e := canary.AuditEntry{Chain: "shared", Seq: 1, At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Action: "party added", Subject: "party ShopA", Detail: "{}", PrevHash: canary.GenesisHash}
	// for f in 000…000 shared 1 2026-01-02T03:04:05Z 'party added' 'party ShopA' '{}'; do
	//   printf '%s:%s\n' "$(printf %s "$f" | wc -c)" "$f"; done | sha256sum
	const want = "d6b2c1ba61f037ce7206e1cc8fae9459de114a4ae39407839755844a1277523f"
	if got := e.ComputeHash(); got != want {
		t.Fatalf("ComputeHash()=%q, want %q", got, want)
	}
}

func TestInvestigationChain(t *testing.T) {
	if got, want := canary.InvestigationChain("q4"), "investigation:q4"; got != want {
		t.Fatalf("InvestigationChain=%q, want %q", got, want)
	}
	if canary.InvestigationChain("shared") == canary.SharedChain {
		t.Fatalf("an investigation named shared shares the shared chain")
	}
	if len(canary.GenesisHash) != 64 {
		t.Fatalf("len(GenesisHash)=%d, want 64", len(canary.GenesisHash))
	}
}

// Moving text from one field to the next must change the hash.
func TestAuditHashHasNoFieldBoundaryAmbiguity(t *testing.T) {
	a := canary.AuditEntry{Chain: "shared", Seq: 1, Action: "order placed", Subject: "order o-1", Detail: "{}", PrevHash: canary.GenesisHash}
	b := a
	b.Action, b.Subject = "order placed\norder", "o-1"
	if a.ComputeHash() == b.ComputeHash() {
		t.Fatal("moving a field boundary kept the hash")
	}
}
