package canary

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// SharedChain is the audit chain of settings shared by all investigations
// (parties, domains, the phone pool) and of contacts that matched none.
const SharedChain = "shared"

// InvestigationChain names the audit chain of one investigation.
func InvestigationChain(name string) string { return "investigation:" + name }

// GenesisHash is the previous hash of a chain's first entry.
var GenesisHash = strings.Repeat("0", 64)

// AuditEntry is one link of a hash chain. Each entry's hash covers the
// previous hash, so changing or removing any entry breaks every later link.
type AuditEntry struct {
	Chain    string
	Seq      int64
	At       time.Time
	Action   string // "token issued", "exposure recorded", "contact received", ...
	Subject  string // what it is about: "order o-001", "contact 17"
	Detail   string // JSON with the facts of the change
	PrevHash string
	Hash     string
}

// ComputeHash returns the hex SHA-256 of the entry's canonical form: each
// field as its length in bytes, a colon, the field and a newline, in the
// order prev_hash, chain, seq, time (RFC 3339 UTC with nanoseconds), action,
// subject, detail. The lengths make the form unambiguous: no text can move
// from one field to the next and keep the hash. VERIFY.txt in an evidence
// bundle gives the same recipe to third parties.
func (e *AuditEntry) ComputeHash() string {
	var b strings.Builder
	for _, f := range []string{
		e.PrevHash, e.Chain, strconv.FormatInt(e.Seq, 10),
		e.At.UTC().Format(time.RFC3339Nano), e.Action, e.Subject, e.Detail,
	} {
		b.WriteString(strconv.Itoa(len(f)))
		b.WriteByte(':')
		b.WriteString(f)
		b.WriteByte('\n')
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

// Problem is one finding of verify: a broken link, a raw object whose bytes
// no longer hash to its name, or a purged object (not broken).
type Problem struct {
	Chain  string `json:"chain,omitempty"`
	Seq    int64  `json:"seq,omitempty"`
	Object string `json:"object,omitempty"`
	Kind   string `json:"kind"` // "broken link", "bad hash", "changed object", "missing object", "purged"
	Detail string `json:"detail"`
}

// VerifyReport is what verify found.
type VerifyReport struct {
	Chains   int       `json:"chains"`
	Entries  int       `json:"entries"`
	Objects  int       `json:"objects"`
	Rows     int       `json:"rows"` // evidence and set-up rows compared with the entries that recorded them
	Problems []Problem `json:"problems"`
	OK       bool      `json:"ok"`
}
