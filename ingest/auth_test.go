package ingest_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/leaktrace/leaktrace/ingest"
)

// fakeDNS answers TXT questions from a map and knows nothing else.
type fakeDNS map[string][]string

func notFound(name string) error {
	return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (f fakeDNS) LookupTXT(_ context.Context, name string) ([]string, error) {
	if v, ok := f[strings.TrimSuffix(strings.ToLower(name), ".")]; ok {
		return v, nil
	}
	return nil, notFound(name)
}

func (f fakeDNS) LookupMX(_ context.Context, name string) ([]*net.MX, error) {
	return nil, notFound(name)
}

func (f fakeDNS) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	return nil, notFound(host)
}

func (f fakeDNS) LookupAddr(_ context.Context, addr string) ([]string, error) {
	return nil, notFound(addr)
}

// dkimKey is a generated signing key and the TXT record publishing it.
type dkimKey struct {
	key *rsa.PrivateKey
	txt string
}

func newDKIMKey(tb testing.TB) dkimKey {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	return dkimKey{key: key, txt: "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(pub)}
}

func (k dkimKey) sign(tb testing.TB, domain, raw string, opts func(*dkim.SignOptions)) string {
	tb.Helper()
	o := &dkim.SignOptions{Domain: domain, Selector: "sel", Signer: k.key,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed}
	if opts != nil {
		opts(o)
	}
	var out bytes.Buffer
	if err := dkim.Sign(&out, strings.NewReader(raw), o); err != nil {
		tb.Fatal(err)
	}
	return out.String()
}

func TestAuthenticatorCheck(t *testing.T) {
	key := newDKIMKey(t)
	dns := fakeDNS{
		"sel._domainkey.shopa.vn": {key.txt},
		"mail.shopa.vn":           {"v=spf1 ip4:192.0.2.10 -all"},
		"shopa.vn":                {"v=spf1 -all"},
		"scam.example":            {"v=spf1 ip4:192.0.2.66 -all"},
	}
	a := &ingest.Authenticator{Resolver: dns}
	plain := "From: ShopA <orders@shopa.vn>\r\nTo: x@canary.example\r\nSubject: Your order\r\n\r\nThanks for your order.\r\n"
	for _, tc := range []struct {
		name     string
		raw      string
		mailFrom string
		ip       string
		want     []string
		dkim     string
		spf      string
	}{
		{"dkim pass", key.sign(t, "shopa.vn", plain, nil), "bounce@other.example", "198.51.100.1", []string{"shopa.vn"}, "pass", "none"},
		{"dkim body altered", strings.Replace(key.sign(t, "shopa.vn", plain, nil), "Thanks", "Pay now", 1), "bounce@other.example", "198.51.100.1", []string{}, "fail", "none"},
		{"spf pass aligned with From", plain, "bounce@mail.shopa.vn", "192.0.2.10", []string{"mail.shopa.vn"}, "", "pass"},
		{"spf pass not aligned with From", strings.Replace(plain, "orders@shopa.vn", "orders@shopa-support.example", 1), "x@scam.example", "192.0.2.66", []string{}, "", "pass"},
		{"From claim only", plain, "bounce@shopa.vn", "203.0.113.5", []string{}, "", "fail"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := &ingest.Envelope{MailFrom: tc.mailFrom, Helo: "client.test"}
			res := a.Check(context.Background(), []byte(tc.raw), env, net.ParseIP(tc.ip))
			if !slices.Equal(res.Domains, tc.want) {
				t.Fatalf("Domains=%q, want %q (dkim %+v, spf %+v)", res.Domains, tc.want, res.DKIM, res.SPF)
			}
			if tc.dkim != "" && (len(res.DKIM) != 1 || res.DKIM[0].Result != tc.dkim) {
				t.Fatalf("DKIM=%+v, want one %s", res.DKIM, tc.dkim)
			}
			if res.SPF == nil || res.SPF.Result != tc.spf {
				t.Fatalf("SPF=%+v, want %s", res.SPF, tc.spf)
			}
			if len(res.DNS) == 0 {
				t.Fatal("no DNS answers recorded")
			}
		})
	}
}

// A signature with l= covers the first bytes of the body only: whatever
// follows is unsigned, so it authenticates nothing (go-msgauth refuses
// it; Authenticator would too).
func TestAuthenticatorBodyLengthTag(t *testing.T) {
	key := newDKIMKey(t)
	a := &ingest.Authenticator{Resolver: fakeDNS{"sel._domainkey.shopa.vn": {key.txt}}}
	body := "Thanks for your order.\r\n"
	signed := key.sign(t, "shopa.vn", "From: orders@shopa.vn\r\nSubject: x\r\n\r\n"+body, nil)
	sigStart := strings.Index(signed, "DKIM-Signature:")
	sigEnd := strings.Index(signed, "From:")
	sig := signed[sigStart:sigEnd]
	withL := strings.Replace(sig, "v=1;", "v=1; l=24;", 1)
	raw := withL + signed[sigEnd:] + "Appended scam text.\r\n"
	res := a.Check(context.Background(), []byte(raw), &ingest.Envelope{MailFrom: "x@y.example", Helo: "h"}, net.ParseIP("198.51.100.1"))
	if len(res.Domains) != 0 {
		t.Fatalf("Domains=%q, want none from a signature with l= (DKIM %+v)", res.Domains, res.DKIM)
	}
}
