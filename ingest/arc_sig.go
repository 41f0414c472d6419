package ingest

// The signatures of an ARC set: their tags, keys, canonicalisation and
// verification, as DKIM (RFC 6376) defines them.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"net"
	"slices"
	"strconv"
	"strings"
)

// arcSignature is a checked AMS or AS tag list.
type arcSignature struct {
	keyType          string // rsa or ed25519
	domain, selector string
	b                []byte
	// AMS only
	bh                         []byte
	headers                    []string
	headerRelaxed, bodyRelaxed bool
	length                     int64 // -1 without l=
}

// parseSignature checks the tags of an AMS or AS (RFC 8617 sections 4.1.2
// and 4.1.3, with RFC 6376's syntax).
func parseSignature(tags map[string]string, kind string) (*arcSignature, error) {
	required := []string{"a", "b", "d", "s"}
	if kind == ARCHeaderAMS {
		required = append(required, "bh", "h")
	} else {
		required = append(required, "cv")
		if _, ok := tags["h"]; ok {
			return nil, failf("an ARC-Seal has no h= tag (RFC 8617 section 4.1.3)")
		}
	}
	for _, t := range required {
		if _, ok := tags[t]; !ok {
			return nil, failf("no %s= tag", t)
		}
	}
	sig := &arcSignature{length: -1, domain: strings.ToLower(tags["d"]), selector: tags["s"]}
	var err error
	if sig.keyType, err = signatureAlgorithm(tags["a"]); err != nil {
		return nil, err
	}
	if !validDomain(sig.domain) {
		return nil, failf("d=%s is not a domain name", short(tags["d"]))
	}
	if !validDomain(sig.selector) {
		return nil, failf("s=%s is not a selector", short(sig.selector))
	}
	for _, t := range []string{"t", "x"} {
		if v, ok := tags[t]; ok && !isNumber(v, 12) {
			return nil, failf("%s=%s is not a time", t, short(v))
		}
	}
	if sig.b, err = decodeBase64(tags["b"]); err != nil {
		return nil, failf("b=: %v", err)
	}
	if kind == ARCHeaderAMS {
		err = parseAMSTags(tags, sig)
	}
	return sig, err
}

// parseAMSTags reads the tags only an ARC-Message-Signature has.
func parseAMSTags(tags map[string]string, sig *arcSignature) error {
	var err error
	if sig.bh, err = decodeBase64(tags["bh"]); err != nil {
		return failf("bh=: %v", err)
	}
	if sig.headerRelaxed, sig.bodyRelaxed, err = parseCanonicalization(tags["c"]); err != nil {
		return err
	}
	if sig.headers, err = parseSignedHeaders(tags["h"]); err != nil {
		return err
	}
	if l, ok := tags["l"]; ok {
		if !isNumber(l, 18) {
			return failf("l=%s is not a length", short(l))
		}
		sig.length, _ = strconv.ParseInt(l, 10, 64)
	}
	if q, ok := tags["q"]; ok && !slices.Contains(splitColons(q), "dns/txt") {
		return failf("q=%s: only dns/txt keys are known", short(q))
	}
	return nil
}

func signatureAlgorithm(a string) (keyType string, err error) {
	switch strings.ToLower(a) {
	case "rsa-sha256":
		return "rsa", nil
	case "ed25519-sha256":
		return "ed25519", nil
	case "rsa-sha1":
		return "", failf("a=rsa-sha1 is refused: SHA-1 signatures must not be relied on (RFC 8301)")
	}
	return "", failf("a=%s is not a known algorithm", short(a))
}

// parseCanonicalization reads c= (RFC 6376 section 3.5); simple/simple
// when absent, and simple for a missing body part.
func parseCanonicalization(c string) (headerRelaxed, bodyRelaxed bool, err error) {
	if c == "" {
		return false, false, nil
	}
	hc, bc, _ := strings.Cut(c, "/")
	if bc == "" {
		bc = "simple"
	}
	parse := func(s string) (bool, error) {
		switch strings.ToLower(s) {
		case "simple":
			return false, nil
		case "relaxed":
			return true, nil
		}
		return false, failf("c=%s is not a known canonicalization", short(c))
	}
	if headerRelaxed, err = parse(hc); err != nil {
		return false, false, err
	}
	bodyRelaxed, err = parse(bc)
	return headerRelaxed, bodyRelaxed, err
}

// parseSignedHeaders reads h=. From must be signed (RFC 6376 section 5.4),
// and an ARC-Seal must not be (RFC 8617 section 4.1.2): seals are added
// after the AMS and would make it depend on later hops.
func parseSignedHeaders(h string) ([]string, error) {
	names := splitColons(h)
	for _, n := range names {
		if n == "" || strings.ContainsFunc(n, func(r rune) bool { return r <= ' ' || r > '~' || r == ':' }) {
			return nil, failf("h=%s is not a list of header field names", short(h))
		}
	}
	if !slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, "from") }) {
		return nil, failf("h= does not sign From")
	}
	if slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, ARCHeaderAS) }) {
		return nil, failf("h= signs ARC-Seal, which an AMS must not (RFC 8617 section 4.1.2)")
	}
	return names, nil
}

func splitColons(s string) []string {
	parts := strings.Split(s, ":")
	for i, p := range parts {
		parts[i] = strings.Trim(p, fws)
	}
	return parts
}

// arcKey is a public key from DNS.
type arcKey struct {
	keyType string // rsa or ed25519
	pub     crypto.PublicKey
}

// key returns the key for sig, asking DNS at most once per name and for
// at most maxARCKeys names.
func (v *arcValidator) key(ctx context.Context, sig *arcSignature) (*arcKey, error) {
	name := strings.ToLower(sig.selector + "._domainkey." + sig.domain)
	if r, ok := v.keys[name]; ok {
		return r.key, r.err
	}
	if len(v.keys) >= maxARCKeys {
		return nil, arcErrorf(ARCPermError, "more than %d distinct keys: %s was not looked up", maxARCKeys, name)
	}
	if err := ctx.Err(); err != nil {
		return nil, arcErrorf(ARCTempError, "no time left to look up %s: %v", name, err)
	}
	txts, err := v.lookup(ctx, name)
	k, err := keyFromAnswer(name, txts, err)
	v.keys[name] = keyResult{key: k, err: err}
	return k, err
}

// keyFromAnswer reads a key record. A name that does not exist fails; any
// other lookup error (timeout, server failure, cancelled) is temporary.
func keyFromAnswer(name string, txts []string, err error) (*arcKey, error) {
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return nil, failf("no key record at %s", name)
		}
		return nil, arcErrorf(ARCTempError, "key lookup %s: %v", name, err)
	}
	switch len(txts) {
	case 0:
		return nil, failf("no key record at %s", name)
	case 1:
	default:
		// RFC 6376 section 3.6.2.2 leaves several records undefined.
		return nil, failf("%d TXT records at %s, want 1", len(txts), name)
	}
	k, err := parseKeyRecord(txts[0])
	if err != nil {
		return nil, fmt.Errorf("key record at %s: %w", name, err)
	}
	return k, nil
}

// parseKeyRecord reads a DKIM key record (RFC 6376 section 3.6.1, RFC 8463).
func parseKeyRecord(txt string) (*arcKey, error) {
	tags, err := parseTagList(txt)
	if err != nil {
		return nil, failf("malformed: %v", err)
	}
	if v, ok := tags["v"]; ok && v != "DKIM1" {
		return nil, failf("v=%s, want DKIM1", short(v))
	}
	if h, ok := tags["h"]; ok && !slices.Contains(splitColons(h), "sha256") {
		return nil, failf("h=%s does not allow sha256", short(h))
	}
	if s, ok := tags["s"]; ok && !slices.ContainsFunc(splitColons(s), func(x string) bool { return x == "*" || x == "email" }) {
		return nil, failf("s=%s is not for email", short(s))
	}
	p, ok := tags["p"]
	if !ok {
		return nil, failf("no p= tag")
	}
	der, err := decodeBase64(p)
	if err != nil {
		return nil, failf("p=: %v", err)
	}
	if len(der) == 0 {
		return nil, failf("key revoked (empty p=)")
	}
	switch k := strings.ToLower(tags["k"]); k {
	case "", "rsa":
		return parseRSAKey(der)
	case "ed25519":
		if len(der) != ed25519.PublicKeySize {
			return nil, failf("ed25519 key of %d bytes, want %d", len(der), ed25519.PublicKeySize)
		}
		return &arcKey{keyType: "ed25519", pub: ed25519.PublicKey(der)}, nil
	default:
		return nil, failf("k=%s is not a known key type", short(k))
	}
}

func parseRSAKey(der []byte) (*arcKey, error) {
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		// RFC 6376 erratum 3017: some publish the bare RSAPublicKey.
		var perr error
		if pub, perr = x509.ParsePKCS1PublicKey(der); perr != nil {
			return nil, failf("p= is not a public key: %v", err)
		}
	}
	rk, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, failf("k=rsa but p= holds a %T", pub)
	}
	if bits := rk.N.BitLen(); bits < minRSABits || bits > maxRSABits {
		return nil, failf("RSA key of %d bits, want %d to %d", bits, minRSABits, maxRSABits)
	}
	return &arcKey{keyType: "rsa", pub: rk}, nil
}

func verifySignature(k *arcKey, sig *arcSignature, digest []byte) error {
	if k.keyType != sig.keyType {
		return failf("the signature is %s but the key is %s", sig.keyType, k.keyType)
	}
	switch pub := k.pub.(type) {
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest, sig.b); err != nil {
			return failf("signature does not verify: %v", err)
		}
	case ed25519.PublicKey:
		// RFC 8463: Ed25519 signs the SHA-256 hash.
		if !ed25519.Verify(pub, digest, sig.b) {
			return failf("signature does not verify")
		}
	}
	return nil
}

// pickHeaders returns the fields h= names, each name taking the next
// instance from the bottom (RFC 6376 section 5.4.2); names with no field
// left sign nothing. The signature being verified is left out: it did not
// exist when the signer picked the fields.
func pickHeaders(fields []headerField, names []string, self *headerField) []*headerField {
	byName := map[string][]int{}
	for i := len(fields) - 1; i >= 0; i-- {
		if &fields[i] == self {
			continue
		}
		n := strings.ToLower(fields[i].name)
		byName[n] = append(byName[n], i)
	}
	var out []*headerField
	for _, name := range names {
		n := strings.ToLower(name)
		if idx := byName[n]; len(idx) > 0 {
			out = append(out, &fields[idx[0]])
			byName[n] = idx[1:]
		}
	}
	return out
}

const (
	crlf = "\r\n"
	fws  = " \t\r\n"
)

// canonHeader is a field in simple or relaxed form (RFC 6376 section 3.4),
// with its CRLF.
func canonHeader(text string, relaxed bool) string {
	if !relaxed {
		return text + crlf
	}
	name, value, _ := strings.Cut(text, ":")
	value = strings.Join(strings.FieldsFunc(value, func(r rune) bool { return strings.ContainsRune(fws, r) }), " ")
	return strings.ToLower(strings.TrimRight(name, " \t")) + ":" + value + crlf
}

// withoutB empties the value of the b= tag of a signature field, the
// whitespace around it included (RFC 6376 section 3.7).
func withoutB(text string) string {
	name, value, _ := strings.Cut(text, ":")
	parts := strings.Split(value, ";")
	for i, p := range parts {
		if tag, _, ok := strings.Cut(p, "="); ok && strings.Trim(tag, fws) == "b" {
			parts[i] = p[:strings.IndexByte(p, '=')+1]
		}
	}
	return name + ":" + strings.Join(parts, ";")
}

// bodyHash is the SHA-256 of the canonical body, or of its first limit
// bytes when limit >= 0.
func bodyHash(body []byte, relaxed bool, limit int64) ([]byte, error) {
	h := sha256.New()
	w := &limitedHash{h: h, left: limit}
	canonBody(body, relaxed, w.write)
	if limit >= 0 && w.left > 0 {
		return nil, failf("l=%d is longer than the body", limit)
	}
	return h.Sum(nil), nil
}

type limitedHash struct {
	h    hash.Hash
	left int64 // -1: no limit
}

func (w *limitedHash) write(b []byte) {
	if w.left >= 0 {
		b = b[:min(int64(len(b)), w.left)]
		w.left -= int64(len(b))
	}
	w.h.Write(b)
}

// canonBody emits the body in simple or relaxed form (RFC 6376 section
// 3.4): CRLF line ends, empty lines at the end dropped; relaxed also drops
// whitespace at line ends and shortens runs of it to one space. An empty
// body is a CRLF in simple form and nothing in relaxed form.
func canonBody(body []byte, relaxed bool, emit func([]byte)) {
	pending, wrote := 0, false
	var buf []byte
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if relaxed {
			buf = relaxLine(buf[:0], line)
			line = buf
		}
		if len(line) == 0 {
			pending++
			continue
		}
		for ; pending > 0; pending-- {
			emit([]byte(crlf))
		}
		emit(line)
		emit([]byte(crlf))
		wrote = true
	}
	if !wrote && !relaxed {
		emit([]byte(crlf))
	}
}

func relaxLine(dst, line []byte) []byte {
	space := false
	for _, c := range line {
		if c == ' ' || c == '\t' {
			space = true
			continue
		}
		if space {
			dst = append(dst, ' ')
			space = false
		}
		dst = append(dst, c)
	}
	return dst
}

// parseTagList reads a DKIM tag list (RFC 6376 section 3.2): names are
// case-sensitive and may not repeat; one trailing ';' is allowed. Values
// are returned without the whitespace around them.
func parseTagList(s string) (map[string]string, error) {
	tags := map[string]string{}
	parts := strings.Split(s, ";")
	for i, p := range parts {
		if strings.Trim(p, fws) == "" {
			if i == len(parts)-1 && i > 0 {
				continue
			}
			return nil, errors.New("empty tag")
		}
		name, value, ok := strings.Cut(p, "=")
		if !ok {
			return nil, fmt.Errorf("%s has no '='", short(strings.Trim(p, fws)))
		}
		name = strings.Trim(name, fws)
		if !validTagName(name) {
			return nil, fmt.Errorf("%s is not a tag name", short(name))
		}
		if _, dup := tags[name]; dup {
			return nil, fmt.Errorf("tag %s repeated", name)
		}
		if strings.ContainsFunc(value, func(r rune) bool { return r > '~' || (r < '!' && !strings.ContainsRune(fws, r)) }) {
			return nil, fmt.Errorf("tag %s has a character not allowed in a value", name)
		}
		tags[name] = strings.Trim(value, fws)
	}
	return tags, nil
}

func validTagName(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlpha(c) && !isDigit(c) && c != '_' {
			return false
		}
	}
	return true
}

// validDomain accepts dot-separated labels of letters, digits, '-' and
// '_' (selectors and DNS names both use '_').
func validDomain(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isAlpha(c) && !isDigit(c) && c != '-' && c != '_' {
				return false
			}
		}
	}
	return true
}

func isNumber(s string, maxDigits int) bool {
	return s != "" && len(s) <= maxDigits && strings.Trim(s, "0123456789") == ""
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// decodeBase64 decodes a b=, bh= or p= value, whose whitespace does not count.
func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if strings.ContainsRune(fws, r) {
			return -1
		}
		return r
	}, s)
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("not base64")
	}
	return b, nil
}

// short quotes a value from the message for an error, cut to a readable length.
func short(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.Quote(s)
}
