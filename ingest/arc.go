package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// ARC chain validation results (ARCResult.Result). RFC 8617 knows only
// none, pass and fail; temperror and permerror say that the chain was not
// checked to the end, so that they are not read as a verdict on it.
const (
	// ARCNone: the message has no ARC header field.
	ARCNone = "none"
	// ARCPass: the chain is complete, every ARC-Seal verifies and so does
	// the newest ARC-Message-Signature over the message as received.
	ARCPass = "pass"
	// ARCFail: RFC 8617's fail: a broken or incomplete chain, a cv=fail,
	// a malformed field, a signature or body hash that does not verify, or
	// a key that is missing, revoked, malformed or too weak.
	ARCFail = "fail"
	// ARCTempError: a key could not be had for now (DNS timeout or server
	// failure, or the time allowed for the message ran out); asking again
	// later may give another answer.
	ARCTempError = "temperror"
	// ARCPermError: the chain was not checked to the end because it goes
	// past what is done for one message: a header too long to find the
	// body, or more distinct keys than are looked up.
	ARCPermError = "permerror"
)

const (
	// maxARCSets is RFC 8617's limit (section 4.2.1); longer chains fail.
	maxARCSets = 50
	// maxARCHeaderBytes bounds the header read, as scanHeader does.
	maxARCHeaderBytes = 256 << 10
	// maxARCKeys bounds the distinct keys looked up for one message: one
	// chain of 50 sets could otherwise ask 51 names.
	maxARCKeys = 16
	// minRSABits and maxRSABits bound the keys used: RFC 8301 refuses
	// shorter ones, and longer ones only cost time.
	minRSABits = 1024
	maxRSABits = 8192
)

// The ARC header field names, as ARCResult.FailedHeader gives them.
const (
	ARCHeaderAAR = "ARC-Authentication-Results"
	ARCHeaderAMS = "ARC-Message-Signature"
	ARCHeaderAS  = "ARC-Seal"
)

const arcNote = "ARC records forwarders' claims; it decides nothing about who sent the message"

// TXTLookup returns the TXT records of name, one string per record.
type TXTLookup func(ctx context.Context, name string) ([]string, error)

// ARCInstance is what one ARC set says about itself.
type ARCInstance struct {
	Instance     int    `json:"i"`
	AMSDomain    string `json:"ams_domain,omitempty"`
	AMSSelector  string `json:"ams_selector,omitempty"`
	SealDomain   string `json:"seal_domain,omitempty"`
	SealSelector string `json:"seal_selector,omitempty"`
	CV           string `json:"cv,omitempty"`
}

// VerifyARC validates the ARC chain of the message raw as RFC 8617 section
// 5.2 says: the sets must be complete and numbered 1..N (N at most 50),
// the newest ARC-Message-Signature must verify over the message as it is,
// and every ARC-Seal from N down to 1 must verify. Keys are asked of
// lookup, each distinct name once. It never panics on hostile input: what
// is wrong is said in the result.
func VerifyARC(ctx context.Context, raw []byte, lookup TXTLookup) *ARCResult {
	res := &ARCResult{Result: ARCNone, Note: arcNote}
	fields, body, headerErr := splitHeader(raw, maxARCHeaderBytes)
	sets, seen, parseProblem := collectARC(fields)
	if seen == 0 {
		return res
	}
	res.Sets = len(sets)
	res.NewestCV, res.Instances = describeARC(sets)
	p := parseProblem
	switch {
	case headerErr != nil:
		p = &arcProblem{err: arcErrorf(ARCPermError, "%v: the body could not be found", headerErr)}
	case p == nil:
		v := &arcValidator{lookup: lookup, fields: fields, body: body, keys: map[string]keyResult{}}
		p = v.validate(ctx, sets)
	}
	if p == nil {
		res.Result = ARCPass
		return res
	}
	res.Result, res.FailedInstance, res.FailedHeader, res.Error = resultOf(p.err), p.instance, p.header, p.err.Error()
	return res
}

// arcError is a reason the chain did not pass, with the result it leads to.
type arcError struct {
	result string
	msg    string
}

func (e *arcError) Error() string { return e.msg }

func arcErrorf(result, format string, a ...any) error {
	return &arcError{result: result, msg: fmt.Sprintf(format, a...)}
}

func failf(format string, a ...any) error { return arcErrorf(ARCFail, format, a...) }

// resultOf is the result err leads to; errors not made here are failures.
func resultOf(err error) string {
	var e *arcError
	if errors.As(err, &e) {
		return e.result
	}
	return ARCFail
}

// arcProblem says where the chain stopped passing and why.
type arcProblem struct {
	instance int
	header   string
	err      error
}

// headerField is one header field as received: its lines joined by CRLF
// (a bare LF ends a line too), without the final line end.
type headerField struct {
	name string // as written, before the colon
	text string // name, colon and value, folding kept
}

// splitHeader returns the header fields of raw and its body. Lines without
// a colon that do not continue a field are not fields and are skipped.
// The header must end within max bytes, or the body is not known.
func splitHeader(raw []byte, max int) ([]headerField, []byte, error) {
	var fields []headerField
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			text := cur.String()
			name, _, _ := strings.Cut(text, ":")
			fields = append(fields, headerField{name: strings.TrimRight(name, " \t"), text: text})
			cur.Reset()
		}
	}
	for off := 0; off < len(raw); {
		end := bytes.IndexByte(raw[off:], '\n')
		next := len(raw)
		if end >= 0 {
			next = off + end + 1
		} else {
			end = len(raw) - off
		}
		if next > max {
			flush()
			return fields, nil, fmt.Errorf("header longer than %d bytes", max)
		}
		line := bytes.TrimSuffix(raw[off:off+end], []byte{'\r'})
		off = next
		switch {
		case len(line) == 0:
			flush()
			return fields, raw[off:], nil
		case line[0] == ' ' || line[0] == '\t':
			if cur.Len() > 0 {
				cur.WriteString("\r\n")
				cur.Write(line)
			}
		default:
			flush()
			if bytes.IndexByte(line, ':') >= 0 {
				cur.Write(line)
			}
		}
	}
	flush()
	return fields, nil, nil
}

// arcField is a parsed ARC header field.
type arcField struct {
	*headerField
	kind     string            // ARCHeaderAAR, ARCHeaderAMS or ARCHeaderAS
	instance int               // i=
	tags     map[string]string // AMS and AS only
	relaxed  string            // relaxed canonical form, for the seals
}

// arcSet gathers the fields claiming one instance; a valid set has one of each.
type arcSet struct {
	aar, ams, seal []*arcField
}

func (s *arcSet) of(kind string) *[]*arcField {
	switch kind {
	case ARCHeaderAAR:
		return &s.aar
	case ARCHeaderAMS:
		return &s.ams
	}
	return &s.seal
}

func arcKind(name string) string {
	for _, k := range []string{ARCHeaderAAR, ARCHeaderAMS, ARCHeaderAS} {
		if strings.EqualFold(name, k) {
			return k
		}
	}
	return ""
}

// collectARC sorts the ARC fields into sets by instance. seen counts the
// ARC fields, parsed or not; problem is the first one that did not parse.
func collectARC(fields []headerField) (sets map[int]*arcSet, seen int, problem *arcProblem) {
	sets = map[int]*arcSet{}
	for i := range fields {
		kind := arcKind(fields[i].name)
		if kind == "" {
			continue
		}
		seen++
		f, err := parseARCField(&fields[i], kind)
		if err != nil {
			if problem == nil {
				problem = &arcProblem{instance: f.instance, header: kind, err: err}
			}
			continue
		}
		s := sets[f.instance]
		if s == nil {
			s = &arcSet{}
			sets[f.instance] = s
		}
		list := s.of(kind)
		*list = append(*list, f)
	}
	return sets, seen, problem
}

func parseARCField(h *headerField, kind string) (*arcField, error) {
	f := &arcField{headerField: h, kind: kind, relaxed: canonHeader(h.text, true)}
	_, value, _ := strings.Cut(h.text, ":")
	if kind == ARCHeaderAAR {
		n, err := aarInstance(value)
		f.instance = n
		return f, err
	}
	tags, err := parseTagList(value)
	if err != nil {
		return f, failf("malformed tag list: %v", err)
	}
	f.tags = tags
	i, ok := tags["i"]
	if !ok {
		return f, failf("no i= tag")
	}
	n, err := parseInstance(i)
	f.instance = n
	return f, err
}

// aarInstance reads the "i=N;" that must open an ARC-Authentication-Results
// value (RFC 8617 section 4.1.1).
func aarInstance(value string) (int, error) {
	s := strings.TrimLeft(value, fws)
	if !strings.HasPrefix(s, "i") {
		return 0, failf("value does not start with i=")
	}
	s = strings.TrimLeft(s[1:], fws)
	if !strings.HasPrefix(s, "=") {
		return 0, failf("value does not start with i=")
	}
	num, _, ok := strings.Cut(s[1:], ";")
	if !ok {
		return 0, failf("no ';' after i=")
	}
	return parseInstance(strings.Trim(num, fws))
}

// parseInstance reads an i= value. Values past the set limit parse, so
// that the limit is what the result reports.
func parseInstance(v string) (int, error) {
	if v == "" || len(v) > 9 || strings.Trim(v, "0123456789") != "" {
		return 0, failf("i=%s is not an instance number", short(v))
	}
	n, _ := strconv.Atoi(v)
	if n < 1 {
		return 0, failf("i=%s: instances start at 1", short(v))
	}
	return n, nil
}

// describeARC is the newest cv as written and what each set claims.
func describeARC(sets map[int]*arcSet) (newestCV string, instances []ARCInstance) {
	order := make([]int, 0, len(sets))
	for i := range sets {
		order = append(order, i)
	}
	slices.Sort(order)
	if n := len(order); n > 0 && len(sets[order[n-1]].seal) > 0 {
		newestCV = sets[order[n-1]].seal[0].tags["cv"]
	}
	for _, i := range order[:min(len(order), maxARCSets)] {
		in := ARCInstance{Instance: i}
		if s := sets[i]; len(s.ams) > 0 {
			in.AMSDomain, in.AMSSelector = strings.ToLower(s.ams[0].tags["d"]), s.ams[0].tags["s"]
		}
		if s := sets[i]; len(s.seal) > 0 {
			in.SealDomain, in.SealSelector, in.CV = strings.ToLower(s.seal[0].tags["d"]), s.seal[0].tags["s"], s.seal[0].tags["cv"]
		}
		instances = append(instances, in)
	}
	return newestCV, instances
}

// arcValidator checks one message's chain.
type arcValidator struct {
	lookup TXTLookup
	fields []headerField
	body   []byte
	keys   map[string]keyResult
}

type keyResult struct {
	key *arcKey
	err error
}

// chainSet is a set known to have exactly one field of each kind.
type chainSet struct {
	aar, ams, seal *arcField
}

func (v *arcValidator) validate(ctx context.Context, sets map[int]*arcSet) *arcProblem {
	chain, p := checkChain(sets)
	if p != nil {
		return p
	}
	n := len(chain)
	if err := v.verifyAMS(ctx, chain[n-1].ams); err != nil {
		return &arcProblem{instance: n, header: ARCHeaderAMS, err: err}
	}
	for i := n; i >= 1; i-- {
		if err := v.verifySeal(ctx, chain, i); err != nil {
			return &arcProblem{instance: i, header: ARCHeaderAS, err: err}
		}
	}
	return nil
}

// checkChain applies RFC 8617 section 5.2 steps 1 and 2: the set limit, a
// newest cv=fail, then the structure (sets 1..N, one field of each kind
// per set, cv=none at 1 and cv=pass above).
func checkChain(sets map[int]*arcSet) ([]chainSet, *arcProblem) {
	n := 0
	for i := range sets {
		n = max(n, i)
	}
	if len(sets) > maxARCSets || n > maxARCSets {
		return nil, &arcProblem{err: failf("refused: %d ARC sets (highest i=%d) exceed the limit of %d", len(sets), n, maxARCSets)}
	}
	if s := sets[n]; len(s.seal) > 0 && strings.EqualFold(s.seal[0].tags["cv"], "fail") {
		return nil, &arcProblem{instance: n, header: ARCHeaderAS, err: failf("the newest seal says cv=fail: a forwarder found the chain already broken")}
	}
	chain := make([]chainSet, n)
	for i := 1; i <= n; i++ {
		s := sets[i]
		if s == nil {
			return nil, &arcProblem{instance: i, err: failf("no ARC set with i=%d (the newest is i=%d)", i, n)}
		}
		for _, kind := range []string{ARCHeaderAAR, ARCHeaderAMS, ARCHeaderAS} {
			if got := len(*s.of(kind)); got != 1 {
				return nil, &arcProblem{instance: i, header: kind, err: failf("%d %s fields with i=%d, want 1", got, kind, i)}
			}
		}
		chain[i-1] = chainSet{aar: s.aar[0], ams: s.ams[0], seal: s.seal[0]}
	}
	for i, s := range chain {
		want := "pass"
		if i == 0 {
			want = "none"
		}
		if cv, ok := s.seal.tags["cv"]; !strings.EqualFold(cv, want) {
			if !ok {
				cv = "(missing)"
			}
			return nil, &arcProblem{instance: i + 1, header: ARCHeaderAS, err: failf("cv=%s, want cv=%s at i=%d", short(cv), want, i+1)}
		}
	}
	return chain, nil
}

// verifyAMS checks an ARC-Message-Signature like a DKIM signature (RFC 6376
// section 6.1.3) over the message as received.
func (v *arcValidator) verifyAMS(ctx context.Context, ams *arcField) error {
	sig, err := parseSignature(ams.tags, ARCHeaderAMS)
	if err != nil {
		return err
	}
	got, err := bodyHash(v.body, sig.bodyRelaxed, sig.length)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(got, sig.bh) != 1 {
		return failf("body hash does not match: the body changed after i=%d signed it", ams.instance)
	}
	key, err := v.key(ctx, sig)
	if err != nil {
		return err
	}
	h := sha256.New()
	for _, f := range pickHeaders(v.fields, sig.headers, ams.headerField) {
		io.WriteString(h, canonHeader(f.text, sig.headerRelaxed))
	}
	io.WriteString(h, strings.TrimSuffix(canonHeader(withoutB(ams.text), sig.headerRelaxed), crlf))
	return verifySignature(key, sig, h.Sum(nil))
}

// verifySeal checks ARC-Seal i (RFC 8617 section 5.1.2): it signs, for each
// set from 1 to i, the AAR, AMS and AS in relaxed form, its own b= emptied.
func (v *arcValidator) verifySeal(ctx context.Context, chain []chainSet, i int) error {
	seal := chain[i-1].seal
	sig, err := parseSignature(seal.tags, ARCHeaderAS)
	if err != nil {
		return err
	}
	key, err := v.key(ctx, sig)
	if err != nil {
		return err
	}
	h := sha256.New()
	for _, s := range chain[:i-1] {
		io.WriteString(h, s.aar.relaxed)
		io.WriteString(h, s.ams.relaxed)
		io.WriteString(h, s.seal.relaxed)
	}
	io.WriteString(h, chain[i-1].aar.relaxed)
	io.WriteString(h, chain[i-1].ams.relaxed)
	io.WriteString(h, strings.TrimSuffix(canonHeader(withoutB(seal.text), true), crlf))
	return verifySignature(key, sig, h.Sum(nil))
}
