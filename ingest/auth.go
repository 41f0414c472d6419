package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/dkim"
	"golang.org/x/net/publicsuffix"

	"github.com/leaktrace/leaktrace/canary"
)

// Resolver is the DNS that DKIM and SPF checks ask. *net.Resolver
// satisfies it; tests pass a fake so they run offline.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// NewResolver returns the system resolver, or one that asks only the DNS
// server at addr ("host:port") when addr is set.
func NewResolver(addr string) Resolver {
	if addr == "" {
		return net.DefaultResolver
	}
	var d net.Dialer
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}
}

// DNSAnswer is one DNS answer a check relied on, kept with the contact so
// the verdict can be re-examined after the records change.
type DNSAnswer struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Answers []string `json:"answers"`
	Error   string   `json:"error,omitempty"`
	Cached  bool     `json:"cached,omitempty"`
	At      string   `json:"at"`
}

// DKIMResult is the verification of one DKIM-Signature.
type DKIMResult struct {
	Domain     string   `json:"d"`
	Identifier string   `json:"i,omitempty"`
	Result     string   `json:"result"` // pass, fail, temperror, permerror
	Error      string   `json:"error,omitempty"`
	HeaderKeys []string `json:"h,omitempty"`
	// PartialBody is set when the signature covers only the first bytes
	// of the body (l= tag): anything can follow, so it authenticates nothing.
	PartialBody bool `json:"partial_body,omitempty"`
}

// SPFResult is the SPF check of the MAIL FROM domain (or HELO for the null
// sender) against the connecting address.
type SPFResult struct {
	Identity string `json:"identity"` // mailfrom or helo
	Domain   string `json:"domain"`
	IP       string `json:"ip"`
	Result   string `json:"result"`
	Error    string `json:"error,omitempty"`
}

// ARCResult is the validation of the ARC chain (RFC 8617) a message
// arrived with, done at receipt by VerifyARC.
//
// ARC decides nothing: the receiving server is the canary domain's own MX,
// so the sets only document what forwarders on the way claim to have seen
// (their ARC-Authentication-Results). Even a chain that passes proves only
// that those forwarders signed it, not who wrote the message; Domains and
// first-party status never use it.
type ARCResult struct {
	// Sets counts the distinct instances (i=) of the ARC fields that parsed.
	Sets int `json:"sets"`
	// NewestCV is the cv= of the highest-instance ARC-Seal, as written.
	NewestCV string `json:"newest_cv,omitempty"`
	// Result is ARCNone, ARCPass, ARCFail, ARCTempError or ARCPermError.
	Result string `json:"result"`
	// FailedInstance and FailedHeader say where the chain stopped passing
	// (0 and "" when the chain as a whole is at fault); Error says why.
	FailedInstance int    `json:"failed_instance,omitempty"`
	FailedHeader   string `json:"failed_header,omitempty"`
	Error          string `json:"error,omitempty"`
	// Instances are the signing domains and selectors each set claims
	// (at most 50), in instance order.
	Instances []ARCInstance `json:"instances,omitempty"`
	Note      string        `json:"note"`
}

// AuthResult is what the receiving side found out about who sent a message.
type AuthResult struct {
	DKIM []DKIMResult `json:"dkim"`
	SPF  *SPFResult   `json:"spf,omitempty"`
	ARC  *ARCResult   `json:"arc,omitempty"`
	// FromDomain is the domain of the single From address ("" when there
	// is none or several).
	FromDomain string `json:"from_domain,omitempty"`
	// Domains are the authenticated domains: every DKIM pass (d=) over the
	// whole body, and the SPF pass domain when it is aligned (same
	// organisational domain) with From. They decide first-party status.
	Domains []string    `json:"authenticated_domains"`
	DNS     []DNSAnswer `json:"dns"`
}

// Authenticator verifies DKIM and SPF at receipt.
type Authenticator struct {
	Resolver Resolver
	// Timeout bounds all DNS work for one message (default 10s).
	Timeout time.Duration
	// MaxSignatures bounds the DKIM signatures verified per message (default 5).
	MaxSignatures int
	Now           func() time.Time

	cache dnsCache
}

func (a *Authenticator) now() time.Time {
	if a.Now != nil {
		return a.Now().UTC()
	}
	return time.Now().UTC()
}

// Check verifies raw as received from ip with the given envelope.
func (a *Authenticator) Check(ctx context.Context, raw []byte, env *Envelope, ip net.IP) *AuthResult {
	timeout := a.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rr := &recordingResolver{next: a.Resolver, cache: &a.cache, now: a.now}
	if rr.next == nil {
		rr.next = net.DefaultResolver
	}
	res := &AuthResult{DKIM: []DKIMResult{}}
	hdr := scanHeader(raw, 256<<10)
	res.FromDomain = fromDomain(hdr)

	if hdr.count("dkim-signature") > 0 {
		maxSig := a.MaxSignatures
		if maxSig <= 0 {
			maxSig = 5
		}
		lengths := dkimLengthTags(hdr)
		verifs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
			LookupTXT:        func(name string) ([]string, error) { return rr.LookupTXT(ctx, name) },
			MaxVerifications: maxSig,
		})
		for i, v := range verifs {
			d := DKIMResult{Domain: strings.ToLower(v.Domain), Identifier: v.Identifier, HeaderKeys: v.HeaderKeys, Result: "pass"}
			switch {
			case v.Err == nil:
			case dkim.IsTempFail(v.Err):
				d.Result, d.Error = "temperror", v.Err.Error()
			case dkim.IsPermFail(v.Err):
				d.Result, d.Error = "permerror", v.Err.Error()
			default:
				d.Result, d.Error = "fail", v.Err.Error()
			}
			d.PartialBody = i < len(lengths) && lengths[i]
			res.DKIM = append(res.DKIM, d)
		}
		if err != nil && len(verifs) == 0 {
			res.DKIM = append(res.DKIM, DKIMResult{Result: "permerror", Error: err.Error()})
		}
	}

	if env != nil && ip != nil {
		s := &SPFResult{Identity: "mailfrom", IP: ip.String()}
		sender := env.MailFrom
		if _, d, ok := strings.Cut(sender, "@"); !ok || d == "" {
			s.Identity, sender = "helo", "postmaster@"+env.Helo
		}
		// DNS is asked in the ASCII form of a name; an SMTPUTF8 sender may
		// have written "bücher.vn".
		local, domain, _ := strings.Cut(sender, "@")
		s.Domain = canary.DomainKey(domain)
		sender = local + "@" + s.Domain
		r, err := spf.CheckHostWithSender(ip, canary.DomainKey(env.Helo), sender, spf.WithResolver(rr), spf.WithContext(ctx))
		s.Result = string(r)
		if err != nil && r != spf.Pass {
			s.Error = err.Error()
		}
		res.SPF = s
	}

	// Most mail has no ARC field: the header scan above already says so.
	if hdr.count("arc-seal")+hdr.count("arc-message-signature")+hdr.count("arc-authentication-results") > 0 {
		if arc := VerifyARC(ctx, raw, rr.LookupTXT); arc.Result != ARCNone {
			res.ARC = arc
		}
	}
	res.Domains = res.authenticated()
	res.DNS = rr.answers()
	return res
}

// authenticated lists the domains the message is authenticated for.
func (r *AuthResult) authenticated() []string {
	out := []string{}
	for _, d := range r.DKIM {
		if k := canary.DomainKey(d.Domain); d.Result == "pass" && !d.PartialBody && k != "" && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	if s := r.SPF; s != nil && s.Result == string(spf.Pass) && s.Identity == "mailfrom" && aligned(s.Domain, r.FromDomain) && !slices.Contains(out, s.Domain) {
		out = append(out, s.Domain)
	}
	sort.Strings(out)
	return out
}

// aligned reports relaxed DMARC alignment: the same organisational domain
// (eTLD+1), whichever form, ASCII or Unicode, each name is written in.
func aligned(a, b string) bool {
	a, b = canary.DomainKey(a), canary.DomainKey(b)
	if a == "" || b == "" {
		return false
	}
	if a == b {
		return true
	}
	oa, err1 := publicsuffix.EffectiveTLDPlusOne(a)
	ob, err2 := publicsuffix.EffectiveTLDPlusOne(b)
	return err1 == nil && err2 == nil && oa == ob
}

// header is a message's top-level header as name/value pairs, unfolded.
type header []struct{ name, value string }

func (h header) count(name string) int {
	n := 0
	for _, f := range h {
		if strings.EqualFold(f.name, name) {
			n++
		}
	}
	return n
}

func (h header) values(name string) []string {
	var out []string
	for _, f := range h {
		if strings.EqualFold(f.name, name) {
			out = append(out, f.value)
		}
	}
	return out
}

// scanHeader reads the top-level header fields of raw, at most max bytes.
func scanHeader(raw []byte, max int) header {
	if len(raw) > max {
		raw = raw[:max]
	}
	var h header
	for len(raw) > 0 {
		end := bytes.IndexByte(raw, '\n')
		line := raw
		if end >= 0 {
			line = raw[:end]
		}
		trimmed := bytes.TrimRight(line, "\r")
		if len(trimmed) == 0 {
			break
		}
		if (trimmed[0] == ' ' || trimmed[0] == '\t') && len(h) > 0 {
			h[len(h)-1].value += " " + strings.TrimSpace(string(trimmed))
		} else if name, value, ok := bytes.Cut(trimmed, []byte(":")); ok {
			h = append(h, struct{ name, value string }{strings.TrimSpace(string(name)), strings.TrimSpace(string(value))})
		}
		if end < 0 {
			break
		}
		raw = raw[end+1:]
	}
	return h
}

// fromDomain is the domain of the one From address; DMARC treats a
// message with several From fields or addresses as unaligned.
func fromDomain(h header) string {
	vs := h.values("from")
	if len(vs) != 1 {
		return ""
	}
	addrs, err := mail.ParseAddressList(vs[0])
	if err != nil || len(addrs) != 1 {
		return ""
	}
	_, d, ok := strings.Cut(addrs[0].Address, "@")
	if !ok {
		return ""
	}
	return strings.ToLower(d)
}

// dkimLengthTags says, per DKIM-Signature in header order, whether it has
// an l= tag (body length limit).
func dkimLengthTags(h header) []bool {
	var out []bool
	for _, v := range h.values("dkim-signature") {
		has := false
		for _, tag := range strings.Split(v, ";") {
			k, _, _ := strings.Cut(tag, "=")
			if strings.TrimSpace(k) == "l" {
				has = true
			}
		}
		out = append(out, has)
	}
	return out
}

// recordingResolver keeps every answer one message's checks used.
type recordingResolver struct {
	next  Resolver
	cache *dnsCache
	now   func() time.Time

	mu  sync.Mutex
	log []DNSAnswer
}

var _ spf.DNSResolver = (*recordingResolver)(nil)

const maxRecordedAnswers = 64

func (r *recordingResolver) lookup(ctx context.Context, typ, name string, fn func() ([]string, error)) ([]string, error) {
	ans, err, cached := r.cache.get(typ, name)
	if !cached {
		ans, err = fn()
		r.cache.put(typ, name, ans, err, r.now())
	}
	a := DNSAnswer{Name: name, Type: typ, Answers: ans, Cached: cached, At: r.now().Format(time.RFC3339)}
	if a.Answers == nil {
		a.Answers = []string{}
	}
	if err != nil {
		a.Error = err.Error()
	}
	r.mu.Lock()
	if len(r.log) < maxRecordedAnswers {
		r.log = append(r.log, a)
	}
	r.mu.Unlock()
	return ans, err
}

func (r *recordingResolver) answers() []DNSAnswer {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.log == nil {
		return []DNSAnswer{}
	}
	return slices.Clone(r.log)
}

func (r *recordingResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	return r.lookup(ctx, "TXT", name, func() ([]string, error) { return r.next.LookupTXT(ctx, name) })
}

func (r *recordingResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	ans, err := r.lookup(ctx, "MX", name, func() ([]string, error) {
		mxs, err := r.next.LookupMX(ctx, name)
		var out []string
		for _, mx := range mxs {
			out = append(out, fmt.Sprintf("%d %s", mx.Pref, mx.Host))
		}
		return out, err
	})
	var out []*net.MX
	for _, s := range ans {
		p, h, _ := strings.Cut(s, " ")
		n, _ := strconv.Atoi(p)
		out = append(out, &net.MX{Host: h, Pref: uint16(n)})
	}
	return out, err
}

func (r *recordingResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	ans, err := r.lookup(ctx, "A/AAAA", host, func() ([]string, error) {
		ips, err := r.next.LookupIPAddr(ctx, host)
		var out []string
		for _, ip := range ips {
			out = append(out, ip.String())
		}
		return out, err
	})
	var out []net.IPAddr
	for _, s := range ans {
		if ip := net.ParseIP(s); ip != nil {
			out = append(out, net.IPAddr{IP: ip})
		}
	}
	return out, err
}

func (r *recordingResolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	return r.lookup(ctx, "PTR", addr, func() ([]string, error) { return r.next.LookupAddr(ctx, addr) })
}

// dnsCache keeps answers briefly so a burst of mail from one sender does
// not ask the same questions again. Errors are kept for less time.
type dnsCache struct {
	mu sync.Mutex
	m  map[string]cacheEntry
}

type cacheEntry struct {
	ans []string
	err error
	exp time.Time
}

const (
	cacheTTL      = 5 * time.Minute
	cacheErrorTTL = 30 * time.Second
	cacheMax      = 10000
)

func (c *dnsCache) get(typ, name string) ([]string, error, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[typ+" "+strings.ToLower(name)]
	if !ok || time.Now().After(e.exp) {
		return nil, nil, false
	}
	return e.ans, e.err, true
}

func (c *dnsCache) put(typ, name string, ans []string, err error, now time.Time) {
	// A cancelled or timed-out lookup says nothing about the record.
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return
	}
	ttl := cacheTTL
	if err != nil {
		ttl = cacheErrorTTL
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= cacheMax {
		c.m = map[string]cacheEntry{}
	}
	c.m[typ+" "+strings.ToLower(name)] = cacheEntry{ans: ans, err: err, exp: time.Now().Add(ttl)}
}
