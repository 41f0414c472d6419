package ingest_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/leaktrace/leaktrace/ingest"
)

// The signer below is written apart from the validator (regular
// expressions, string building) so that the two share as little code as
// possible; the upstream test vectors in TestARCVectors check both against
// a third implementation.

// arcTestKey is a signing key and the TXT record publishing it.
type arcTestKey struct {
	signer crypto.Signer
	algo   string // a= value
	txt    string
}

func newRSAArcKey(tb testing.TB) arcTestKey {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	return arcTestKey{signer: key, algo: "rsa-sha256", txt: "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)}
}

// newEdArcKey derives an Ed25519 key from seed, so that fuzz seeds signed
// with it stay valid from one run to the next.
func newEdArcKey(seed string) arcTestKey {
	s := sha256.Sum256([]byte(seed))
	key := ed25519.NewKeyFromSeed(s[:])
	pub := key.Public().(ed25519.PublicKey)
	return arcTestKey{signer: key, algo: "ed25519-sha256", txt: "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)}
}

func (k arcTestKey) sign(tb testing.TB, data string) string {
	tb.Helper()
	digest := sha256.Sum256([]byte(data))
	opts := crypto.Hash(0)
	if k.algo == "rsa-sha256" {
		opts = crypto.SHA256
	}
	sig, err := k.signer.Sign(rand.Reader, digest[:], opts)
	if err != nil {
		tb.Fatal(err)
	}
	return foldBase64(base64.StdEncoding.EncodeToString(sig))
}

// foldBase64 splits a long value over continuation lines, as signers do.
func foldBase64(s string) string {
	var out []string
	for len(s) > 60 {
		out, s = append(out, s[:60]), s[60:]
	}
	return strings.Join(append(out, s), "\r\n\t")
}

// arcHop is one forwarder adding an ARC set.
type arcHop struct {
	domain, selector string
	key              arcTestKey
	cv               string // "" for the right one: none at i=1, pass above
	signed           string // AMS h=
	length           int    // AMS l=, when > 0
	algo             string // a= override
}

var (
	wspRun      = regexp.MustCompile(`[ \t]+`)
	fold        = regexp.MustCompile(`\r\n([ \t])`)
	lineEndWSP  = regexp.MustCompile(`[ \t]+\r\n`)
	trailingEOL = regexp.MustCompile(`(\r\n)+$`)
	instanceTag = regexp.MustCompile(`^[^:]*:\s*i=(\d+);`)
)

// relaxedField is RFC 6376 section 3.4.2 applied step by step.
func relaxedField(field string) string {
	name, value, _ := strings.Cut(field, ":")
	value = fold.ReplaceAllString(value, "$1")
	value = wspRun.ReplaceAllString(value, " ")
	value = strings.Trim(value, " ")
	return strings.ToLower(strings.TrimRight(name, " \t")) + ":" + value + "\r\n"
}

// relaxedBody is RFC 6376 section 3.4.4 applied step by step.
func relaxedBody(body string) string {
	body = lineEndWSP.ReplaceAllString(body, "\r\n")
	body = wspRun.ReplaceAllString(body, " ")
	body = lineEndWSP.ReplaceAllString(body, "\r\n")
	body = trailingEOL.ReplaceAllString(body, "")
	if body == "" {
		return ""
	}
	return body + "\r\n"
}

// headerFields splits a CRLF header into its fields, folding kept.
func headerFields(hdr string) []string {
	var fields []string
	for _, line := range strings.Split(hdr, "\r\n") {
		if (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")) && len(fields) > 0 {
			fields[len(fields)-1] += "\r\n" + line
		} else {
			fields = append(fields, line)
		}
	}
	return fields
}

func fieldName(f string) string {
	name, _, _ := strings.Cut(f, ":")
	return strings.ToLower(strings.TrimSpace(name))
}

// arcSeal adds ARC set i on top of msg (CRLF line ends), signed by hop.
func arcSeal(tb testing.TB, msg string, i int, hop arcHop) string {
	tb.Helper()
	hdr, body, ok := strings.Cut(msg, "\r\n\r\n")
	if !ok {
		tb.Fatal("message without a body")
	}
	cv := hop.cv
	if cv == "" {
		cv = "pass"
		if i == 1 {
			cv = "none"
		}
	}
	signed := hop.signed
	if signed == "" {
		signed = "from:to:subject:date:message-id"
	}
	algo := hop.algo
	if algo == "" {
		algo = hop.key.algo
	}
	fields := append([]string{fmt.Sprintf("ARC-Authentication-Results: i=%d; mx.%s;\r\n\tspf=pass smtp.mailfrom=%s", i, hop.domain, hop.domain)}, headerFields(hdr)...)

	canon := relaxedBody(body)
	length := ""
	if hop.length > 0 {
		canon, length = canon[:hop.length], fmt.Sprintf(" l=%d;", hop.length)
	}
	bh := sha256.Sum256([]byte(canon))
	ams := fmt.Sprintf("ARC-Message-Signature: i=%d; a=%s; c=relaxed/relaxed; d=%s; s=%s;\r\n\th=%s; t=1748858400;%s\r\n\tbh=%s;\r\n\tb=",
		i, algo, hop.domain, hop.selector, signed, length, base64.StdEncoding.EncodeToString(bh[:]))
	var data strings.Builder
	taken := map[string]int{}
	for _, name := range strings.Split(signed, ":") {
		seen := 0
		for k := len(fields) - 1; k >= 0; k-- {
			if fieldName(fields[k]) != name {
				continue
			}
			if seen == taken[name] {
				data.WriteString(relaxedField(fields[k]))
				break
			}
			seen++
		}
		taken[name]++
	}
	data.WriteString(strings.TrimSuffix(relaxedField(ams), "\r\n"))
	ams += hop.key.sign(tb, data.String())
	fields = append([]string{ams}, fields...)

	seal := fmt.Sprintf("ARC-Seal: i=%d; a=%s; cv=%s; d=%s; s=%s; t=1748858400;\r\n\tb=", i, algo, cv, hop.domain, hop.selector)
	data.Reset()
	for j := 1; j <= i; j++ {
		for _, name := range []string{"arc-authentication-results", "arc-message-signature", "arc-seal"} {
			for _, f := range fields {
				if m := instanceTag.FindStringSubmatch(f); m != nil && m[1] == fmt.Sprint(j) && fieldName(f) == name {
					data.WriteString(relaxedField(f))
				}
			}
		}
	}
	data.WriteString(strings.TrimSuffix(relaxedField(seal), "\r\n"))
	seal += hop.key.sign(tb, data.String())
	return strings.Join(append([]string{seal}, fields...), "\r\n") + "\r\n\r\n" + body
}

// arcChain seals msg once per hop, hop k adding instance k+1.
func arcChain(tb testing.TB, msg string, hops ...arcHop) string {
	tb.Helper()
	for k, hop := range hops {
		msg = arcSeal(tb, msg, k+1, hop)
	}
	return msg
}

const arcTestMsg = "From: ShopA <orders@shopa.vn>\r\nTo: x@canary.example\r\nSubject: Your order\r\n" +
	"Date: Mon, 2 Jun 2025 10:00:00 +0000\r\nMessage-ID: <1@shopa.vn>\r\n\r\nThanks for your order.\r\n  Track it here.  \r\n\r\n"

// arcDNS serves TXT records and errors, and counts the questions.
type arcDNS struct {
	records map[string][]string
	errs    map[string]error
	asked   map[string]int
}

func (d *arcDNS) lookup(_ context.Context, name string) ([]string, error) {
	name = strings.ToLower(name)
	if d.asked == nil {
		d.asked = map[string]int{}
	}
	d.asked[name]++
	if err := d.errs[name]; err != nil {
		return nil, err
	}
	if v, ok := d.records[name]; ok {
		return v, nil
	}
	return nil, notFound(name)
}

// removeFields drops the ARC fields of kind (a prefix of the name) claiming instance i.
func removeFields(msg, kind string, i int) string {
	hdr, body, _ := strings.Cut(msg, "\r\n\r\n")
	var keep []string
	for _, f := range headerFields(hdr) {
		m := instanceTag.FindStringSubmatch(f)
		if m != nil && m[1] == fmt.Sprint(i) && strings.HasPrefix(fieldName(f), strings.ToLower(kind)) {
			continue
		}
		keep = append(keep, f)
	}
	return strings.Join(keep, "\r\n") + "\r\n\r\n" + body
}

// fieldOf returns the ARC field of the given name claiming instance i.
func fieldOf(tb testing.TB, msg, name string, i int) string {
	tb.Helper()
	hdr, _, _ := strings.Cut(msg, "\r\n\r\n")
	for _, f := range headerFields(hdr) {
		if m := instanceTag.FindStringSubmatch(f); m != nil && m[1] == fmt.Sprint(i) && fieldName(f) == strings.ToLower(name) {
			return f
		}
	}
	tb.Fatalf("no %s i=%d", name, i)
	return ""
}

func TestVerifyARC(t *testing.T) {
	rsaKey := newRSAArcKey(t)
	edKey := newEdArcKey("TestVerifyARC")
	revoked := newEdArcKey("revoked")
	list := arcHop{domain: "lists.example", selector: "arc", key: rsaKey}
	fwd := arcHop{domain: "forward.example", selector: "ed", key: edKey}
	mx := arcHop{domain: "mx.example", selector: "s1", key: rsaKey}
	records := map[string][]string{
		"arc._domainkey.lists.example":     {rsaKey.txt},
		"ed._domainkey.forward.example":    {edKey.txt},
		"s1._domainkey.mx.example":         {rsaKey.txt},
		"gone._domainkey.revoked.example":  {"v=DKIM1; k=ed25519; p="},
		"wrong._domainkey.mixed.example":   {edKey.txt},
		"two._domainkey.records.example":   {edKey.txt, edKey.txt},
		"sha1._domainkey.lists.example":    {rsaKey.txt},
		"k._domainkey.garbage.example":     {"v=DKIM1; k=rsa; p=!!notbase64!!"},
		"short._domainkey.forward.example": {"v=DKIM1; k=ed25519; p=AAAA"},
	}
	one := arcChain(t, arcTestMsg, list)
	three := arcChain(t, arcTestMsg, list, fwd, mx)
	ams1 := fieldOf(t, three, "ARC-Message-Signature", 1)
	timeout := &net.DNSError{Err: "i/o timeout", Name: "ed._domainkey.forward.example", IsTimeout: true, IsTemporary: true}

	for _, tc := range []struct {
		name     string
		msg      string
		errs     map[string]error
		result   string
		instance int
		header   string
		errHas   string
		sets     int
		cv       string
	}{
		{name: "no ARC", msg: arcTestMsg, result: ingest.ARCNone},
		{name: "1 set pass", msg: one, result: ingest.ARCPass, sets: 1, cv: "none"},
		{name: "3 sets pass", msg: three, result: ingest.ARCPass, sets: 3, cv: "pass"},
		{name: "LF line ends", msg: strings.ReplaceAll(three, "\r\n", "\n"), result: ingest.ARCPass, sets: 3, cv: "pass"},
		{name: "AMS body tampered", msg: strings.Replace(three, "Thanks for", "Pay now for", 1),
			result: ingest.ARCFail, instance: 3, header: ingest.ARCHeaderAMS, errHas: "body hash", sets: 3, cv: "pass"},
		{name: "signed header tampered", msg: strings.Replace(three, "Subject: Your order", "Subject: Your refund", 1),
			result: ingest.ARCFail, instance: 3, header: ingest.ARCHeaderAMS, errHas: "does not verify", sets: 3, cv: "pass"},
		{name: "sealed AAR tampered", msg: strings.Replace(three, "spf=pass smtp.mailfrom=lists.example", "spf=fail smtp.mailfrom=lists.example", 1),
			result: ingest.ARCFail, instance: 3, header: ingest.ARCHeaderAS, errHas: "does not verify", sets: 3, cv: "pass"},
		{name: "older AMS tampered, newest seal breaks", msg: strings.Replace(three, ams1, strings.Replace(ams1, "t=1748858400", "t=1748858401", 1), 1),
			result: ingest.ARCFail, instance: 3, header: ingest.ARCHeaderAS, errHas: "does not verify", sets: 3, cv: "pass"},
		{name: "missing instance", msg: removeFields(three, "ARC-", 2),
			result: ingest.ARCFail, instance: 2, errHas: "no ARC set with i=2", sets: 2, cv: "pass"},
		{name: "missing seal", msg: removeFields(three, "ARC-Seal", 1),
			result: ingest.ARCFail, instance: 1, header: ingest.ARCHeaderAS, errHas: "0 ARC-Seal fields", sets: 3, cv: "pass"},
		{name: "duplicate instance", msg: fieldOf(t, three, "ARC-Message-Signature", 2) + "\r\n" + three,
			result: ingest.ARCFail, instance: 2, header: ingest.ARCHeaderAMS, errHas: "2 ARC-Message-Signature fields", sets: 3, cv: "pass"},
		{name: "newest cv=fail", msg: arcChain(t, arcTestMsg, list, arcHop{domain: "forward.example", selector: "ed", key: edKey, cv: "fail"}),
			result: ingest.ARCFail, instance: 2, header: ingest.ARCHeaderAS, errHas: "cv=fail", sets: 2, cv: "fail"},
		{name: "cv=fail inside the chain", msg: arcChain(t, arcTestMsg, list, arcHop{domain: "forward.example", selector: "ed", key: edKey, cv: "fail"}, mx),
			result: ingest.ARCFail, instance: 2, header: ingest.ARCHeaderAS, errHas: "want cv=pass", sets: 3, cv: "pass"},
		{name: "cv=pass at i=1", msg: arcChain(t, arcTestMsg, arcHop{domain: "lists.example", selector: "arc", key: rsaKey, cv: "pass"}),
			result: ingest.ARCFail, instance: 1, header: ingest.ARCHeaderAS, errHas: "want cv=none", sets: 1, cv: "pass"},
		{name: "revoked key", msg: arcChain(t, arcTestMsg, list, arcHop{domain: "revoked.example", selector: "gone", key: revoked}),
			result: ingest.ARCFail, instance: 2, header: ingest.ARCHeaderAMS, errHas: "revoked", sets: 2, cv: "pass"},
		{name: "no key record", msg: arcChain(t, arcTestMsg, arcHop{domain: "nokey.example", selector: "x", key: edKey}),
			result: ingest.ARCFail, instance: 1, header: ingest.ARCHeaderAMS, errHas: "no key record", sets: 1, cv: "none"},
		{name: "several key records", msg: arcChain(t, arcTestMsg, arcHop{domain: "records.example", selector: "two", key: edKey}),
			result: ingest.ARCFail, instance: 1, header: ingest.ARCHeaderAMS, errHas: "2 TXT records", sets: 1, cv: "none"},
		{name: "DNS temporary error", msg: three, errs: map[string]error{"ed._domainkey.forward.example": timeout},
			result: ingest.ARCTempError, instance: 2, header: ingest.ARCHeaderAS, errHas: "timeout", sets: 3, cv: "pass"},
		{name: "DNS cancelled", msg: one, errs: map[string]error{"arc._domainkey.lists.example": context.Canceled},
			result: ingest.ARCTempError, instance: 1, header: ingest.ARCHeaderAMS, sets: 1, cv: "none"},
		{name: "key type differs from a=", msg: arcChain(t, arcTestMsg, arcHop{domain: "mixed.example", selector: "wrong", key: edKey, algo: "rsa-sha256"}),
			result: ingest.ARCFail, instance: 1, header: ingest.ARCHeaderAMS, errHas: "key is ed25519", sets: 1, cv: "none"},
		{name: "rsa-sha1 refused", msg: arcChain(t, arcTestMsg, arcHop{domain: "lists.example", selector: "sha1", key: rsaKey, algo: "rsa-sha1"}),
			result: ingest.ARCFail, instance: 1, header: ingest.ARCHeaderAMS, errHas: "rsa-sha1", sets: 1, cv: "none"},
		{name: "malformed key record", msg: arcChain(t, arcTestMsg, arcHop{domain: "garbage.example", selector: "k", key: rsaKey}),
			result: ingest.ARCFail, instance: 1, header: ingest.ARCHeaderAMS, errHas: "p=", sets: 1, cv: "none"},
		{name: "short ed25519 key", msg: arcChain(t, arcTestMsg, arcHop{domain: "forward.example", selector: "short", key: edKey}),
			result: ingest.ARCFail, instance: 1, header: ingest.ARCHeaderAMS, errHas: "ed25519 key of 3 bytes", sets: 1, cv: "none"},
		{name: "garbage tags", msg: strings.Replace(one, "c=relaxed/relaxed;", "c=relaxed/relaxed;;", 1),
			result: ingest.ARCFail, header: ingest.ARCHeaderAMS, errHas: "malformed tag list", sets: 1, cv: "none"},
		{name: "tag without value", msg: strings.Replace(one, "c=relaxed/relaxed;", "c=relaxed/relaxed; nonsense;", 1),
			result: ingest.ARCFail, header: ingest.ARCHeaderAMS, errHas: "no '='", sets: 1, cv: "none"},
		{name: "bad base64 in AS b=", msg: regexp.MustCompile(`(ARC-Seal: [^\r]*\r\n\tb=)[^\r]*`).ReplaceAllString(one, "${1}!!!*"),
			result: ingest.ARCFail, instance: 1, header: ingest.ARCHeaderAS, errHas: "not base64", sets: 1, cv: "none"},
		{name: "bad base64 in bh=", msg: regexp.MustCompile(`bh=[^;]*;`).ReplaceAllString(one, "bh=%%%;"),
			result: ingest.ARCFail, instance: 1, header: ingest.ARCHeaderAMS, errHas: "not base64", sets: 1, cv: "none"},
		{name: "huge i=", msg: strings.Replace(one, "ARC-Seal: i=1;", "ARC-Seal: i=99999999999999999999999;", 1),
			result: ingest.ARCFail, header: ingest.ARCHeaderAS, errHas: "not an instance number", sets: 1},
		{name: "i=0", msg: "ARC-Seal: i=0; a=rsa-sha256; cv=none; d=x.example; s=s; b=\r\n" + arcTestMsg,
			result: ingest.ARCFail, header: ingest.ARCHeaderAS, errHas: "start at 1", sets: 0},
		{name: "AAR without i=", msg: strings.Replace(one, "ARC-Authentication-Results: i=1;", "ARC-Authentication-Results: mx.lists.example; i=1;", 1),
			result: ingest.ARCFail, header: ingest.ARCHeaderAAR, errHas: "does not start with i=", sets: 1, cv: "none"},
		{name: "h= names AMS fields, the one verified excluded", msg: arcChain(t, arcTestMsg, list,
			arcHop{domain: "forward.example", selector: "ed", key: edKey, signed: "from:arc-message-signature:arc-message-signature:arc-authentication-results"}),
			result: ingest.ARCPass, sets: 2, cv: "pass"},
		{name: "l= covers a prefix", msg: arcChain(t, arcTestMsg, arcHop{domain: "lists.example", selector: "arc", key: rsaKey, length: 10}) + "Appended.\r\n",
			result: ingest.ARCPass, sets: 1, cv: "none"},
		{name: "header too long", msg: "ARC-Seal: i=1; a=x\r\nX-Pad: " + strings.Repeat("x", 300<<10) + "\r\n\r\nbody\r\n",
			result: ingest.ARCPermError, errHas: "header longer than", sets: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dns := &arcDNS{records: records, errs: tc.errs}
			res := ingest.VerifyARC(context.Background(), []byte(tc.msg), dns.lookup)
			if res.Result != tc.result || res.FailedInstance != tc.instance || res.FailedHeader != tc.header ||
				!strings.Contains(res.Error, tc.errHas) || res.Sets != tc.sets || res.NewestCV != tc.cv {
				t.Fatalf("got %+v\nwant result %s at i=%d %q, error containing %q, %d sets, newest cv %q",
					res, tc.result, tc.instance, tc.header, tc.errHas, tc.sets, tc.cv)
			}
			if tc.result == ingest.ARCPass && res.Error != "" || tc.result != ingest.ARCPass && tc.result != ingest.ARCNone && res.Error == "" {
				t.Fatalf("result %s with error %q", res.Result, res.Error)
			}
			for name, n := range dns.asked {
				if n != 1 {
					t.Errorf("%s asked %d times, want once", name, n)
				}
			}
		})
	}

	t.Run("signing domains", func(t *testing.T) {
		res := ingest.VerifyARC(context.Background(), []byte(three), (&arcDNS{records: records}).lookup)
		want := []ingest.ARCInstance{
			{Instance: 1, AMSDomain: "lists.example", AMSSelector: "arc", SealDomain: "lists.example", SealSelector: "arc", CV: "none"},
			{Instance: 2, AMSDomain: "forward.example", AMSSelector: "ed", SealDomain: "forward.example", SealSelector: "ed", CV: "pass"},
			{Instance: 3, AMSDomain: "mx.example", AMSSelector: "s1", SealDomain: "mx.example", SealSelector: "s1", CV: "pass"},
		}
		if !reflect.DeepEqual(res.Instances, want) {
			t.Fatalf("Instances=%+v, want %+v", res.Instances, want)
		}
	})
}

// TestVerifyARCLimits checks the bounds on work: 50 sets verify (each key
// asked once), 51 are refused before any DNS question, and a chain using
// more distinct keys than are looked up stops with a permerror.
func TestVerifyARCLimits(t *testing.T) {
	key := newEdArcKey("limits")
	records := map[string][]string{"a._domainkey.one.example": {key.txt}}
	hops := make([]arcHop, 51)
	for i := range hops {
		hops[i] = arcHop{domain: "one.example", selector: "a", key: key}
		records[fmt.Sprintf("k%d._domainkey.many.example", i)] = []string{key.txt}
	}
	fifty := arcChain(t, arcTestMsg, hops[:50]...)
	dns := &arcDNS{records: records}
	if res := ingest.VerifyARC(context.Background(), []byte(fifty), dns.lookup); res.Result != ingest.ARCPass || res.Sets != 50 || len(res.Instances) != 50 {
		t.Fatalf("50 sets: %+v", res)
	}
	if len(dns.asked) != 1 || dns.asked["a._domainkey.one.example"] != 1 {
		t.Fatalf("50 sets asked %v, want one question", dns.asked)
	}

	dns = &arcDNS{records: records}
	res := ingest.VerifyARC(context.Background(), []byte(arcSeal(t, fifty, 51, hops[50])), dns.lookup)
	if res.Result != ingest.ARCFail || res.Sets != 51 || !strings.Contains(res.Error, "limit of 50") || len(res.Instances) != 50 {
		t.Fatalf("51 sets: %+v", res)
	}
	if len(dns.asked) != 0 {
		t.Fatalf("51 sets asked %v, want nothing", dns.asked)
	}

	for i := range hops {
		hops[i].domain, hops[i].selector = "many.example", fmt.Sprintf("k%d", i)
	}
	dns = &arcDNS{records: records}
	res = ingest.VerifyARC(context.Background(), []byte(arcChain(t, arcTestMsg, hops[:20]...)), dns.lookup)
	if res.Result != ingest.ARCPermError || res.FailedInstance != 4 || !strings.Contains(res.Error, "distinct keys") {
		t.Fatalf("20 keys: %+v", res)
	}
	if len(dns.asked) != 16 {
		t.Fatalf("20 keys: asked %d names, want 16", len(dns.asked))
	}
}

// An ARC chain, even one that passes, documents forwarders' claims and
// authenticates no domain.
func TestAuthenticatorARCDecidesNothing(t *testing.T) {
	key := newEdArcKey("authenticator")
	dns := fakeDNS{"arc._domainkey.forwarder.example": {key.txt}}
	raw := arcChain(t, arcTestMsg, arcHop{domain: "forwarder.example", selector: "arc", key: key})
	a := &ingest.Authenticator{Resolver: dns}
	res := a.Check(context.Background(), []byte(raw), &ingest.Envelope{MailFrom: "bounce@shopa.vn", Helo: "h"}, net.ParseIP("198.51.100.1"))
	if res.ARC == nil || res.ARC.Result != ingest.ARCPass || res.ARC.Instances[0].SealDomain != "forwarder.example" {
		t.Fatalf("ARC=%+v, want a pass by forwarder.example", res.ARC)
	}
	if len(res.Domains) != 0 {
		t.Fatalf("Domains=%q, want none: ARC decides nothing", res.Domains)
	}
	if !slices.ContainsFunc(res.DNS, func(a ingest.DNSAnswer) bool { return a.Name == "arc._domainkey.forwarder.example" }) {
		t.Fatalf("the ARC key lookup is not in the recorded DNS answers: %+v", res.DNS)
	}
	if res := a.Check(context.Background(), []byte(arcTestMsg), nil, nil); res.ARC != nil {
		t.Fatalf("ARC=%+v for a message without ARC fields, want nil", res.ARC)
	}
}

// arcSuiteEnv names the environment variable that TestARCVectors reads: the
// path of a copy of tests/arc-draft-validation-tests.yml from ValiMail's
// arc_test_suite. The suite has no licence, so it is not kept in this
// repository (see testdata/arc/SOURCES.md).
const arcSuiteEnv = "LEAKTRACE_ARC_SUITE"

// arcVectorDeviations are upstream cases whose expectation this validator
// deliberately does not follow; they run, and must give our result.
var arcVectorDeviations = map[string]struct{ want, why string }{
	"ams_fields_a_sha1":    {ingest.ARCFail, "the suite accepts an rsa-sha1 AMS; RFC 8301 forbids relying on SHA-1 signatures"},
	"as_fields_a_sha1":     {ingest.ARCFail, "the suite accepts an rsa-sha1 ARC-Seal; RFC 8301 forbids relying on SHA-1 signatures"},
	"ams_fields_h_empty":   {ingest.ARCFail, "the suite accepts an AMS with an empty h=; RFC 6376 section 5.4 requires From to be signed, and the AMS has DKIM's semantics"},
	"ams_fields_h_mis_hdr": {ingest.ARCFail, "the suite accepts h=from:to::date:...; an empty name is not a hdr-name (RFC 6376 section 3.5 ABNF), and section 6.1.1 makes a malformed signature a PERMFAIL"},
	"as_fields_t_na":       {ingest.ARCPass, "the suite refuses an ARC-Seal without t=, following draft-06, where every AS tag was required; RFC 8617 section 4.1.3 only lists t among the tags an AS may carry, and DKIM's t= is RECOMMENDED, not required (dkimpy 1.1.4 passes it too)"},
}

type arcVectorScenario struct {
	Description string
	Tests       []arcVectorCase // in file order; a repeated name gets "#2", "#3"
	TXTRecords  map[string]string
}

type arcVectorCase struct {
	Name        string `yaml:"-"`
	Description string `yaml:"description"`
	Message     string `yaml:"message"`
	CV          string `yaml:"cv"`
}

// parseARCVectors reads the suite's YAML documents, one scenario each. The
// tests are walked as nodes rather than decoded into a map: the upstream
// file repeats some case names within a scenario, and every case must run.
func parseARCVectors(data []byte) ([]arcVectorScenario, error) {
	var out []arcVectorScenario
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
			return nil, fmt.Errorf("line %d: a scenario is not a mapping", doc.Line)
		}
		var sc arcVectorScenario
		fields := doc.Content[0].Content
		for i := 0; i+1 < len(fields); i += 2 {
			key, val := fields[i], fields[i+1]
			switch key.Value {
			case "description":
				sc.Description = val.Value
			case "txt-records":
				if err := val.Decode(&sc.TXTRecords); err != nil {
					return nil, fmt.Errorf("line %d: txt-records: %w", val.Line, err)
				}
			case "tests":
				if val.Kind != yaml.MappingNode {
					return nil, fmt.Errorf("line %d: tests is not a mapping", val.Line)
				}
				seen := map[string]int{}
				for j := 0; j+1 < len(val.Content); j += 2 {
					var tc arcVectorCase
					if err := val.Content[j+1].Decode(&tc); err != nil {
						return nil, fmt.Errorf("line %d: %w", val.Content[j].Line, err)
					}
					tc.Name = val.Content[j].Value
					if seen[tc.Name]++; seen[tc.Name] > 1 {
						tc.Name = fmt.Sprintf("%s#%d", tc.Name, seen[tc.Name])
					}
					sc.Tests = append(sc.Tests, tc)
				}
			}
		}
		out = append(out, sc)
	}
}

// loadARCSuite reads the file arcSuiteEnv names; ok is false when it is unset.
func loadARCSuite(tb testing.TB) (scenarios []arcVectorScenario, path string, ok bool) {
	tb.Helper()
	path = os.Getenv(arcSuiteEnv)
	if path == "" {
		return nil, "", false
	}
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%s: %v", arcSuiteEnv, err)
	}
	scenarios, err = parseARCVectors(data)
	if err != nil {
		tb.Fatalf("%s=%s: %v", arcSuiteEnv, path, err)
	}
	return scenarios, path, true
}

// arcSuiteExpectation maps the suite's cv to a result. An empty cv (three
// upstream cases, where the reference implementation returned nothing)
// becomes fail: their chains contain cv=fail, which RFC 8617 section 5.2
// makes a fail.
func arcSuiteExpectation(cv string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(cv)) {
	case "none":
		return ingest.ARCNone, true
	case "pass":
		return ingest.ARCPass, true
	case "fail", "":
		return ingest.ARCFail, true
	}
	return "", false
}

// TestARCVectors runs every case of ValiMail's arc_test_suite validation
// file (see testdata/arc/SOURCES.md), read from the path in
// LEAKTRACE_ARC_SUITE: messages signed by another implementation, with the
// DNS records and the chain validation result it expects. Each message
// runs as stored (LF line ends, as the suite has them) and with CRLF line
// ends, as it would arrive over SMTP.
func TestARCVectors(t *testing.T) {
	scenarios, path, ok := loadARCSuite(t)
	if !ok {
		t.Skipf("%s is not set: point it at a copy of tests/arc-draft-validation-tests.yml from https://github.com/ValiMail/arc_test_suite to run the upstream ARC vectors (not kept here: the suite has no licence)", arcSuiteEnv)
	}
	passed, deviated, unstated, total := 0, 0, 0, 0
	for _, sc := range scenarios {
		records := map[string][]string{}
		for name, txt := range sc.TXTRecords {
			records[strings.ToLower(name)] = []string{txt}
		}
		for _, tc := range sc.Tests {
			total++
			want, known := arcSuiteExpectation(tc.CV)
			if !known {
				t.Errorf("%s: unknown expectation cv=%q", tc.Name, tc.CV)
				continue
			}
			dev, isDev := arcVectorDeviations[strings.Split(tc.Name, "#")[0]]
			if isDev {
				want = dev.want
			}
			ok := t.Run(tc.Name, func(t *testing.T) {
				for _, msg := range []string{tc.Message, strings.ReplaceAll(tc.Message, "\n", "\r\n")} {
					dns := &arcDNS{records: records}
					res := ingest.VerifyARC(context.Background(), []byte(msg), dns.lookup)
					if res.Result != want {
						t.Fatalf("%s (%s: %s): got %s (i=%d %s: %s), want %s", tc.Name, sc.Description, tc.Description, res.Result, res.FailedInstance, res.FailedHeader, res.Error, want)
					}
					t.Logf("%s: %s i=%d %s %s", tc.Name, res.Result, res.FailedInstance, res.FailedHeader, res.Error)
				}
			})
			switch {
			case !ok:
			case isDev:
				deviated++
				t.Logf("%s: deviation, suite expects %q: %s", tc.Name, strings.TrimSpace(tc.CV), dev.why)
			case strings.TrimSpace(tc.CV) == "":
				unstated++
			default:
				passed++
			}
		}
	}
	t.Logf("%s: %d scenarios, %d cases: %d as the suite expects, %d with no stated expectation taken as fail, %d deliberate deviations, %d failed",
		path, len(scenarios), total, passed, unstated, deviated, total-passed-unstated-deviated)
	if total == 0 {
		t.Fatalf("%s holds no test cases", path)
	}
}

// dkimpyCase is one ARC chain sealed by dkimpy, from
// testdata/arc/dkimpy/cases.json (made by gen.py there, with keys made for
// it; see testdata/arc/SOURCES.md).
type dkimpyCase struct {
	Name   string  `json:"name"`
	Note   string  `json:"note"`
	Want   string  `json:"want"`
	Dkimpy *string `json:"dkimpy_cv"` // null: dkimpy ended the chain on a cv=fail
	Reason string  `json:"dkimpy_reason"`
	// Set for chains with an Ed25519 set, which stock dkimpy refuses in ARC:
	// its verdict with ed25519-sha256 admitted.
	DkimpyEd25519 *string           `json:"dkimpy_cv_ed25519_allowed"`
	Departure     string            `json:"departure"`
	TXT           map[string]string `json:"txt"`
	Message       string            `json:"message"`
}

const dkimpyCasesPath = "testdata/arc/dkimpy/cases.json"

func loadDkimpyCases(tb testing.TB) []dkimpyCase {
	tb.Helper()
	data, err := os.ReadFile(dkimpyCasesPath)
	if err != nil {
		tb.Fatal(err)
	}
	var doc struct {
		Cases []dkimpyCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		tb.Fatalf("%s: %v", dkimpyCasesPath, err)
	}
	return doc.Cases
}

// dkimpyResult reads dkimpy's cv as a result. dkimpy returns no cv for a
// chain holding cv=fail (it ends the chain there): not a pass.
func dkimpyResult(cv *string) string {
	if cv == nil {
		return ingest.ARCFail
	}
	switch *cv {
	case "pass", "none":
		return *cv
	}
	return ingest.ARCFail
}

// TestARCDkimpyVectors runs ARC chains sealed by another implementation,
// dkimpy, offline: 1 to 3 hops, RSA 2048 and Ed25519 keys, relaxed and
// simple AMS canonicalization, and chains edited after sealing so that
// they must fail. Each case records dkimpy's own arc_verify verdict beside
// ours; they must agree unless the case names a departure.
func TestARCDkimpyVectors(t *testing.T) {
	cases := loadDkimpyCases(t)
	results := map[string]int{}
	agreed, departed := 0, 0
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			records := map[string][]string{}
			for name, txt := range tc.TXT {
				records[strings.ToLower(name)] = []string{txt}
			}
			for _, msg := range []string{tc.Message, strings.ReplaceAll(tc.Message, "\r\n", "\n")} {
				dns := &arcDNS{records: records}
				res := ingest.VerifyARC(context.Background(), []byte(msg), dns.lookup)
				if res.Result != tc.Want {
					t.Fatalf("%s: got %s (i=%d %s: %s), want %s", tc.Note, res.Result, res.FailedInstance, res.FailedHeader, res.Error, tc.Want)
				}
				for name := range dns.asked {
					if _, ok := records[name]; !ok {
						t.Errorf("asked %s, which the case does not publish", name)
					}
				}
				t.Logf("%s i=%d %s %s", res.Result, res.FailedInstance, res.FailedHeader, res.Error)
			}
			if tc.DkimpyEd25519 != nil && dkimpyResult(tc.DkimpyEd25519) != tc.Want {
				t.Errorf("dkimpy with Ed25519 allowed says %q, the case wants %s", *tc.DkimpyEd25519, tc.Want)
			}
			switch {
			case dkimpyResult(tc.Dkimpy) == tc.Want:
				agreed++
			case tc.Departure != "":
				departed++
				t.Logf("departs from stock dkimpy (%s: %s): %s", dkimpyResult(tc.Dkimpy), tc.Reason, tc.Departure)
			default:
				t.Errorf("dkimpy says %s (%s), the case wants %s and names no departure", dkimpyResult(tc.Dkimpy), tc.Reason, tc.Want)
			}
			results[tc.Want]++
		})
	}
	t.Logf("%d dkimpy-sealed cases (%d pass, %d fail): %d agree with dkimpy's arc_verify, %d depart from it", len(cases), results[ingest.ARCPass], results[ingest.ARCFail], agreed, departed)
	if results[ingest.ARCPass] == 0 || results[ingest.ARCFail] == 0 {
		t.Fatalf("%s holds %d passing and %d failing cases; it needs both", dkimpyCasesPath, results[ingest.ARCPass], results[ingest.ARCFail])
	}
}

// FuzzARC feeds hostile messages to the validator: it must not panic,
// must give one of its results with a reason for any non-pass, must be
// deterministic and must leave its input alone.
func FuzzARC(f *testing.F) {
	key := newEdArcKey("FuzzARC")
	records := map[string][]string{
		"fz._domainkey.fuzz.example": {key.txt},
		"fz._domainkey.rsa.example":  {"v=DKIM1; k=rsa; p=MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAIWmlgix/84GJ+dfgjm7LTc9EPdfkftlgiPpCq4/kbDAZmU0VvYKDljjleJ1dfvS+CGy9U/kk1tG3EeEvb82xAcCAwEAAQ=="},
		"fz._domainkey.gone.example": {"v=DKIM1; p="},
	}
	hop := arcHop{domain: "fuzz.example", selector: "fz", key: key}
	one := arcChain(f, arcTestMsg, hop)
	f.Add([]byte(one))
	f.Add([]byte(arcChain(f, arcTestMsg, hop, hop, hop)))
	f.Add([]byte(strings.ReplaceAll(one, "\r\n", "\n")))
	for _, tc := range loadDkimpyCases(f) {
		f.Add([]byte(tc.Message))
	}
	if scenarios, _, ok := loadARCSuite(f); ok {
		for _, sc := range scenarios {
			for _, tc := range sc.Tests {
				f.Add([]byte(tc.Message))
			}
		}
	}
	results := []string{ingest.ARCNone, ingest.ARCPass, ingest.ARCFail, ingest.ARCTempError, ingest.ARCPermError}
	f.Fuzz(func(t *testing.T, raw []byte) {
		before := bytes.Clone(raw)
		dns := &arcDNS{records: records}
		res := ingest.VerifyARC(context.Background(), raw, dns.lookup)
		if !bytes.Equal(raw, before) {
			t.Fatal("VerifyARC modified its input")
		}
		if !slices.Contains(results, res.Result) {
			t.Fatalf("result %q", res.Result)
		}
		if (res.Result == ingest.ARCPass || res.Result == ingest.ARCNone) != (res.Error == "") {
			t.Fatalf("result %s with error %q", res.Result, res.Error)
		}
		if res.Result == ingest.ARCPass && (res.Sets < 1 || res.Sets > 50 || len(res.Instances) != res.Sets) {
			t.Fatalf("pass with %d sets, %d instances", res.Sets, len(res.Instances))
		}
		if res.Result == ingest.ARCNone && (res.Sets != 0 || res.Instances != nil) {
			t.Fatalf("none with %d sets", res.Sets)
		}
		if len(dns.asked) > 16 {
			t.Fatalf("asked %d names", len(dns.asked))
		}
		for name, n := range dns.asked {
			if n != 1 {
				t.Fatalf("%s asked %d times", name, n)
			}
		}
		if again := ingest.VerifyARC(context.Background(), raw, (&arcDNS{records: records}).lookup); !reflect.DeepEqual(res, again) {
			t.Fatalf("not deterministic: %+v then %+v", res, again)
		}
		if _, err := json.Marshal(res); err != nil {
			t.Fatal(err)
		}
	})
}
