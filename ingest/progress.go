package ingest

import (
	"context"
	"encoding/json"
	"net/mail"
	"slices"
	"strings"

	"github.com/emersion/go-msgauth/authres"

	"github.com/leaktrace/leaktrace/canary"
)

// Progress reports how far a long import has gone, for a progress bar or
// a periodic log line. Total is 0 when it is not known in advance.
type Progress struct {
	Source     string // the mailbox or file being read
	Done       int    // records handled so far in Source
	Total      int
	Recorded   int // new contacts, all sources so far
	Duplicates int // records whose exact bytes were already held
	Skipped    int // records not recorded (too large, outbound, empty)
}

// mailOrigin is what a mailbox or a mail file adds to the contact that
// Ingester.Email builds: where exactly the bytes came from, and which
// Authentication-Results may be believed.
type mailOrigin struct {
	Receipt    map[string]any // merged into Contact.Auth
	Problems   []string
	AuthservID string // trust Authentication-Results from this authserv-id only
}

// emailFrom records raw through Ingester.Email, the one mail path, and
// adds origin to the contact just before it is stored.
func (in *Ingester) emailFrom(ctx context.Context, raw []byte, source string, origin mailOrigin) (*Recorded, error) {
	cp := *in
	cp.Store = amendingRecorder{next: in.Store, amend: origin.amend}
	return cp.Email(ctx, raw, source, nil)
}

// amendingRecorder changes a contact before the real store records it.
type amendingRecorder struct {
	next  canary.ContactRecorder
	amend func(*canary.Contact)
}

func (r amendingRecorder) RecordContact(ctx context.Context, c *canary.Contact, raw []byte) (int64, bool, error) {
	r.amend(c)
	return r.next.RecordContact(ctx, c, raw)
}

func (o mailOrigin) amend(c *canary.Contact) {
	c.Problems = append(c.Problems, o.Problems...)
	receipt := map[string]any{}
	if c.Auth != "" {
		_ = json.Unmarshal([]byte(c.Auth), &receipt)
	}
	for k, v := range o.Receipt {
		receipt[k] = v
	}
	if o.AuthservID != "" {
		var ars []string
		if v, ok := receipt["authentication_results_untrusted"].([]any); ok {
			for _, s := range v {
				if s, ok := s.(string); ok {
					ars = append(ars, s)
				}
			}
		}
		trusted, domains := trustedAuthResults(ars, o.AuthservID, c.From)
		receipt["authserv_id"] = o.AuthservID
		if trusted != "" {
			receipt["authentication_results_trusted"] = trusted
		}
		for _, d := range domains {
			if !slices.Contains(c.AuthDomains, d) {
				c.AuthDomains = append(c.AuthDomains, d)
			}
		}
	}
	if b, err := json.Marshal(receipt); err == nil {
		c.Auth = string(b)
	}
}

// trustedAuthResults picks the topmost Authentication-Results header that
// carries authservID (the one the user's own mail host added last; RFC 8601
// requires a host to remove older ones that claim its id) and returns it with
// the domains it authenticates: a DKIM pass (header.d, or the domain of
// header.i), an SPF pass whose MAIL FROM domain aligns with From, or a DMARC
// pass (which is by definition one of those, aligned with From).
func trustedAuthResults(headers []string, authservID, from string) (string, []string) {
	for _, h := range headers {
		id, results, err := authres.Parse(stripAuthResComments(h))
		if !strings.EqualFold(id, authservID) {
			continue
		}
		_ = err // results parsed before a malformed one still count
		fromDom := mailDomain(from)
		var out []string
		add := func(d string) {
			d = strings.ToLower(strings.Trim(strings.TrimSpace(d), "."))
			if d != "" && !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
		for _, r := range results {
			switch r := r.(type) {
			case *authres.DKIMResult:
				if r.Value != authres.ResultPass {
					continue
				}
				if r.Domain != "" {
					add(r.Domain)
				} else if _, d, ok := strings.Cut(r.Identifier, "@"); ok {
					add(d)
				}
			case *authres.SPFResult:
				if r.Value == authres.ResultPass && fromDom != "" && aligned(mailDomain(r.From), fromDom) {
					add(fromDom)
				}
			case *authres.DMARCResult:
				if r.Value == authres.ResultPass && r.From != "" && (fromDom == "" || aligned(r.From, fromDom)) {
					add(r.From)
				}
			}
		}
		return h, out
	}
	return "", nil
}

// stripAuthResComments removes RFC 5322 comments, which may hold ';' and
// '=' that would confuse the parser, keeping quoted strings intact.
func stripAuthResComments(s string) string {
	var b strings.Builder
	depth, quoted, escaped := 0, false, false
	for _, r := range s {
		switch {
		case escaped:
			escaped = false
			if depth == 0 {
				b.WriteRune(r)
			}
			continue
		case r == '\\':
			escaped = true
			if depth == 0 {
				b.WriteRune(r)
			}
			continue
		case quoted:
			if r == '"' {
				quoted = false
			}
			b.WriteRune(r)
			continue
		case r == '"' && depth == 0:
			quoted = true
		case r == '(':
			depth++
			continue
		case r == ')' && depth > 0:
			depth--
			if depth == 0 {
				b.WriteByte(' ')
			}
			continue
		}
		if depth == 0 {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mailDomain returns the lower-case domain of an address or of a From
// header's text ("Shop <news@shop.example>"); a bare domain is returned as is.
func mailDomain(s string) string {
	s = strings.TrimSpace(s)
	if a, err := mail.ParseAddress(s); err == nil {
		s = a.Address
	} else if i, j := strings.LastIndexByte(s, '<'), strings.LastIndexByte(s, '>'); i >= 0 && j > i {
		s = s[i+1 : j]
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		s = s[i+1:]
	}
	return strings.ToLower(strings.Trim(s, " .>"))
}
