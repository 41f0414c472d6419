package ingest

import (
	"bytes"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	gomail "github.com/emersion/go-message/mail"

	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/norm"
)

// mimeField is one header field, unfolded, its value still as written.
type mimeField struct {
	name  string // lower-cased
	value string
}

type mimeHeader []mimeField

// get returns the first field called name (lower-case).
func (h mimeHeader) get(name string) (string, bool) {
	for _, f := range h {
		if f.name == name {
			return f.value, true
		}
	}
	return "", false
}

// all returns the values of every field called name, in header order.
func (h mimeHeader) all(name string) []string {
	var vs []string
	for _, f := range h {
		if f.name == name {
			vs = append(vs, f.value)
		}
	}
	return vs
}

// readHeaderBlock splits b into its header fields and its body. It reads at
// most MaxHeaderBytes of fields; go-message's textproto.ReadHeader is not used
// because it gives up at the first malformed line, which scam mail is full of,
// and because it cannot bound nested header blocks.
//
// A line that is neither a field nor a continuation is joined to the field
// before it when a field follows (a wrapped parameter that lost its indent);
// otherwise it is where the body starts, for mail that omits the blank line.
func (p *mimeParser) readHeaderBlock(b []byte, label string, top bool) (mimeHeader, []byte) {
	var (
		h      mimeHeader
		name   []byte
		pieces [][]byte
		open   bool
	)
	flush := func() {
		if open {
			h = append(h, mimeField{name: strings.ToLower(string(name)), value: joinPieces(pieces)})
			open = false
			pieces = pieces[:0]
		}
	}
	limit := p.lim.MaxHeaderBytes
	for pos, first := 0, true; pos < len(b); first = false {
		line, next := headerLine(b, pos)
		cut := next > limit
		if cut {
			line = line[:max(0, min(len(line), limit-pos))]
		}
		switch {
		case len(line) == 0 && cut: // nothing of it is within the limit
		case isBlankLine(line) && !cut:
			flush()
			return h, b[next:]
		case first && top && bytes.HasPrefix(line, []byte("From ")) && !isFieldLine(line):
			// An mbox envelope line, as left by many export tools.
		case open && (line[0] == ' ' || line[0] == '\t'):
			pieces = append(pieces, line)
		default:
			fieldLine := line
			if first {
				fieldLine = bytes.TrimLeft(line, " \t")
			}
			if k, v, ok := splitFieldLine(fieldLine); ok {
				if len(fieldLine) != len(line) {
					p.problem("%s: header starts with white space", label)
				}
				flush()
				name, pieces, open = k, append(pieces, v), true
				break
			}
			if !cut && !continuesHeader(b, next) {
				if top && (len(h) > 0 || open) {
					p.problem("%s: no blank line after header", label)
				}
				flush()
				return h, b[pos:]
			}
			if open {
				pieces = append(pieces, line)
			} else {
				p.problem("%s: header line without a field name skipped", label)
			}
		}
		if cut {
			flush()
			p.problem("%s: header block over %s cut", label, sizeText(limit))
			return h, b[bodyAfterBlankLine(b, pos):]
		}
		pos = next
	}
	flush()
	return h, b[len(b):]
}

// headerLine returns the line at pos without its line break, and where the
// next line starts.
func headerLine(b []byte, pos int) ([]byte, int) {
	i := bytes.IndexByte(b[pos:], '\n')
	if i < 0 {
		return bytes.TrimSuffix(b[pos:], []byte("\r")), len(b)
	}
	return bytes.TrimSuffix(b[pos:pos+i], []byte("\r")), pos + i + 1
}

// isBlankLine treats a line of white space as blank: mailers that pad the
// separator line would otherwise have their body read as header.
func isBlankLine(line []byte) bool {
	return len(bytes.Trim(line, " \t\r")) == 0
}

// continuesHeader reports whether the line at pos is a header field or a
// continuation line.
func continuesHeader(b []byte, pos int) bool {
	if pos >= len(b) {
		return false
	}
	line, _ := headerLine(b, pos)
	if isBlankLine(line) {
		return false
	}
	return line[0] == ' ' || line[0] == '\t' || isFieldLine(line)
}

// bodyAfterBlankLine returns where the body starts when the header block is
// cut at pos: after the next blank line, or at the end.
func bodyAfterBlankLine(b []byte, pos int) int {
	for pos < len(b) {
		line, next := headerLine(b, pos)
		if isBlankLine(line) {
			return next
		}
		pos = next
	}
	return len(b)
}

func isFieldLine(line []byte) bool {
	_, _, ok := splitFieldLine(line)
	return ok
}

// splitFieldLine splits "Name: value". The name must be printable ASCII
// without spaces (RFC 5322 section 2.2); white space before the colon is
// tolerated because it appears in the wild.
func splitFieldLine(line []byte) (name, value []byte, ok bool) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return nil, nil, false
	}
	name = bytes.TrimRight(line[:i], " \t")
	if len(name) == 0 {
		return nil, nil, false
	}
	for _, c := range name {
		if c < 33 || c > 126 {
			return nil, nil, false
		}
	}
	return name, line[i+1:], true
}

// joinPieces unfolds a field: each line is trimmed and the lines are joined
// with one space.
func joinPieces(pieces [][]byte) string {
	var sb strings.Builder
	for _, pc := range pieces {
		pc = bytes.Trim(pc, " \t")
		if len(pc) == 0 {
			continue
		}
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		sb.Write(pc)
	}
	return sb.String()
}

// topHeader fills the Message fields read from the top-level header.
func (p *mimeParser) topHeader(h mimeHeader) {
	m := p.msg
	if v, ok := h.get("from"); ok {
		m.From = p.decodeHeaderText(v, "from")
		addrs, parsed := p.addresses(v, "from")
		if !parsed {
			// In a From that does not parse, the address in angle brackets
			// is the sender; one in the display name is likely a lure.
			addrs = append(scanAddrSpecs(strings.Join(angleAddrRE.FindAllString(v, -1), " ")), addrs...)
		}
		if len(addrs) > 0 {
			m.FromAddr = addrs[0]
		}
	}
	m.To = p.addressField(h, "to")
	m.Cc = p.addressField(h, "cc")
	m.Bcc = p.addressField(h, "bcc")
	m.ReplyTo = p.addressField(h, "reply-to")
	m.DeliveredTo = p.addressField(h, "delivered-to")
	m.XOriginalTo = p.addressField(h, "x-original-to")
	if v, ok := h.get("subject"); ok {
		m.Subject = p.decodeHeaderText(v, "subject")
	}
	if v, ok := h.get("date"); ok {
		m.DateText = validText(v)
		if t, ok := parseMailDate(v); ok {
			m.Date = t
		} else {
			p.problem("unreadable Date header %q", clip(m.DateText))
		}
	}
	if v, ok := h.get("message-id"); ok {
		id := strings.TrimSpace(v)
		if i := strings.IndexByte(id, '<'); i >= 0 {
			if j := strings.IndexByte(id[i:], '>'); j > 0 {
				id = id[i+1 : i+j]
			}
		}
		m.MessageID = validText(strings.TrimSpace(id))
	}
	var rcptFor addrList
	for _, v := range h.all("received") {
		m.Received = append(m.Received, validText(v))
		rcptFor.add(receivedFor(v)...)
	}
	m.ReceivedFor = rcptFor.list
	for _, v := range h.all("authentication-results") {
		m.AuthenticationResults = append(m.AuthenticationResults, validText(v))
	}
	m.DKIMSignatures = len(h.all("dkim-signature"))
}

func validText(s string) string {
	return strings.ToValidUTF8(s, "\uFFFD")
}

// addrList collects addresses once each, in the order first seen. A map
// keeps a header of many thousand addresses from taking quadratic time.
type addrList struct {
	list []string
	seen map[string]bool
}

func (l *addrList) add(vs ...string) {
	for _, v := range vs {
		if l.seen[v] {
			continue
		}
		if l.seen == nil {
			l.seen = make(map[string]bool)
		}
		l.seen[v] = true
		l.list = append(l.list, v)
	}
}

// addressField returns the addr-specs of every field called name.
func (p *mimeParser) addressField(h mimeHeader, name string) []string {
	var l addrList
	for _, v := range h.all(name) {
		addrs, _ := p.addresses(v, name)
		l.add(addrs...)
	}
	return l.list
}

// addresses reads the addr-specs of one address-list field and reports
// whether it parsed. When it does not, it falls back to a scan for anything
// shaped like an address, so that a canary address in a broken header is
// never missed.
func (p *mimeParser) addresses(v, name string) ([]string, bool) {
	if strings.TrimSpace(v) == "" {
		return nil, true
	}
	var l addrList
	list, err := gomail.ParseAddressList(v)
	if err == nil {
		for _, a := range list {
			if s := strings.ToLower(strings.TrimSpace(a.Address)); s != "" {
				l.add(validText(s))
			}
		}
		return l.list, true
	}
	l.add(scanAddrSpecs(v)...)
	if dec := p.decodeWordsOnly(v); dec != v {
		l.add(scanAddrSpecs(dec)...)
	}
	p.problem("%s header unreadable, %d addresses found by scan", textproto.CanonicalMIMEHeaderKey(name), len(l.list))
	return l.list, false
}

var angleAddrRE = regexp.MustCompile(`<[^<>]*>`)

// addrSpecRE matches something shaped like local@domain. It leaves out the
// rarely used local-part characters that double as delimiters (=?"<>) so
// that encoded words and quoting around an address are not taken into it,
// and its local part is ASCII only: canary local parts are, and the letters
// of a script written without spaces ("请联系abc@x.com") would otherwise
// join them. addrSpecIDNRE is it for text that is not all ASCII, where a
// domain may be an international one ("bücher.vn"); canary.QuotedDomain
// then parts the domain from such letters after it.
var (
	addrSpecRE    = regexp.MustCompile(`[A-Za-z0-9._%+\-!#$&'*^~]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*`)
	addrSpecIDNRE = regexp.MustCompile(`[A-Za-z0-9._%+\-!#$&'*^~]+@[\pL\pN](?:[\pL\pN\pM\-]*[\pL\pN\pM])?(?:\.[\pL\pN](?:[\pL\pN\pM\-]*[\pL\pN\pM])?)*`)
)

func scanAddrSpecs(s string) []string {
	s = validText(s)
	re := addrSpecRE
	if !norm.IsASCII(s) {
		s, re = canary.AddressText(s), addrSpecIDNRE
	}
	var l addrList
	for _, a := range re.FindAllString(s, -1) {
		at := strings.LastIndexByte(a, '@')
		local := strings.Trim(a[:at], ".'")
		domain := canary.QuotedDomain(a[at+1:])
		if local == "" || domain == "" {
			continue
		}
		l.add(strings.ToLower(local + "@" + domain))
	}
	return l.list
}

var receivedForRE = regexp.MustCompile(`(?i)\bfor\s+<?\s*([^\s<>;()"]+@[^\s<>;()"]+)`)

// receivedFor returns the addresses of "for <addr>" clauses in a Received
// header: the envelope recipient as a relay saw it.
func receivedFor(v string) []string {
	var l addrList
	for _, m := range receivedForRE.FindAllStringSubmatch(v, -1) {
		l.add(scanAddrSpecs(m[1])...)
	}
	return l.list
}

// dateLayouts are tried after net/mail.ParseDate, for dates mailers and
// spam kits write that RFC 5322 does not allow.
var dateLayouts = []string{
	"Mon, 2 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04:05 MST",
	"Mon, 2 Jan 2006 15:04:05",
	"Mon, 2 Jan 2006 15:04 -0700",
	"Mon, 2 Jan 06 15:04:05 -0700",
	"2 Jan 2006 15:04:05 -0700",
	"2 Jan 2006 15:04:05",
	"Mon, 2 January 2006 15:04:05 -0700",
	"Mon Jan 2 15:04:05 2006",
	"Mon Jan 2 15:04:05 -0700 2006",
	"Mon Jan 2 15:04:05 MST 2006",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05",
	time.RFC3339,
}

var (
	dateCommentRE = regexp.MustCompile(`\([^()]*\)`)
	dateSpaceRE   = regexp.MustCompile(`\s+`)
)

func parseMailDate(v string) (time.Time, bool) {
	if t, err := mail.ParseDate(v); err == nil {
		return t, true
	}
	s := dateCommentRE.ReplaceAllString(v, " ")
	s = strings.TrimSpace(dateSpaceRE.ReplaceAllString(s, " "))
	s = strings.Replace(s, ",", ", ", 1)
	s = strings.ReplaceAll(s, ",  ", ", ")
	if len(s) > 64 {
		return time.Time{}, false
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// decodeHeaderText decodes RFC 2047 encoded words in v and reads raw 8-bit
// bytes that are not UTF-8 in the charset the body declares, or Latin-1.
func (p *mimeParser) decodeHeaderText(v, name string) string {
	return p.decodeWords(v, name, true)
}

// decodeWordsOnly decodes encoded words and leaves other bytes as they are.
func (p *mimeParser) decodeWordsOnly(v string) string {
	return p.decodeWords(v, "", false)
}

// decodeWords is a lenient RFC 2047 decoder. Unlike mime.WordDecoder it joins
// the bytes of adjacent words in one charset before converting them, because
// many encoders split a multibyte character across two words, and it accepts
// words that touch other text. Unknown charsets never fail the decoding.
func (p *mimeParser) decodeWords(v, name string, report bool) string {
	if !strings.Contains(v, "=?") {
		return p.literalHeaderText(v, name, report)
	}
	var (
		out      strings.Builder
		run      []byte // bytes of adjacent words in one charset
		runCS    string
		prevWord bool
		pos      int // start of text not yet written
		search   int // where to look for the next word
		closeAt  int // a "?=" at or after search, kept so each is found once
	)
	flush := func() {
		if len(run) > 0 {
			out.WriteString(p.convertBytes(runCS, run, headerLabel(name), report))
			run = run[:0]
		}
	}
	literal := func(s string) string {
		t := p.literalHeaderText(s, name, report)
		if !utf8.ValidString(s) {
			report = false // one problem per header is enough
		}
		return t
	}
	for {
		i := strings.Index(v[search:], "=?")
		if i < 0 {
			break
		}
		i += search
		if closeAt < i+2 {
			j := strings.Index(v[i+2:], "?=")
			if j < 0 {
				break // no word can end after here
			}
			closeAt = i + 2 + j
		}
		cs, enc, text, n, ok := splitEncodedWord(v[i:])
		if !ok {
			search = i + 2
			continue
		}
		// White space between two encoded words is not part of the text.
		if gap := v[pos:i]; !prevWord || strings.Trim(gap, " \t") != "" {
			flush()
			out.WriteString(literal(gap))
		}
		if !strings.EqualFold(cs, runCS) {
			flush()
			runCS = cs
		}
		run = appendWordText(run, enc, text)
		pos, search = i+n, i+n
		prevWord = true
	}
	flush()
	out.WriteString(literal(v[pos:]))
	return validText(out.String())
}

func headerLabel(name string) string {
	return textproto.CanonicalMIMEHeaderKey(name) + " header"
}

// splitEncodedWord parses "=?charset?E?text?=" at the start of s and
// returns its parts and length. Spaces inside the text are tolerated. Once
// the "=?charset?E?" prefix is read the word always succeeds, ending at the
// first "?=", so the scan for it is never repeated.
func splitEncodedWord(s string) (cs string, enc byte, text string, n int, ok bool) {
	q := strings.IndexByte(s[2:], '?')
	if q <= 0 || q > 75 {
		return "", 0, "", 0, false
	}
	cs = s[2 : 2+q]
	if strings.ContainsAny(cs, " \t\"") {
		return "", 0, "", 0, false
	}
	if i := strings.IndexByte(cs, '*'); i >= 0 { // RFC 2231 language suffix
		cs = cs[:i]
	}
	rest := s[2+q+1:]
	if len(rest) < 2 || rest[1] != '?' {
		return "", 0, "", 0, false
	}
	switch enc = rest[0]; enc {
	case 'B', 'b', 'Q', 'q':
	default:
		return "", 0, "", 0, false
	}
	end := strings.Index(rest[2:], "?=")
	if end < 0 {
		return "", 0, "", 0, false
	}
	text = rest[2 : 2+end]
	return cs, enc, text, 2 + q + 1 + 2 + end + 2, true
}

func appendWordText(dst []byte, enc byte, text string) []byte {
	if enc == 'B' || enc == 'b' {
		d := base64Decoder{src: []byte(text)}
		buf := make([]byte, len(text))
		n, _ := d.Read(buf)
		return append(dst, buf[:n]...)
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '_':
			dst = append(dst, ' ')
		case c == '=' && i+2 < len(text) && isHex(text[i+1]) && isHex(text[i+2]):
			dst = append(dst, unhex(text[i+1])<<4|unhex(text[i+2]))
			i += 2
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// literalHeaderText returns header text outside encoded words. Raw UTF-8 is
// kept (RFC 6532); other 8-bit bytes are read in the charset the body
// declares, since a mailer that writes raw 8-bit headers uses one charset
// for the whole message, or else as Latin-1.
func (p *mimeParser) literalHeaderText(s, name string, report bool) string {
	if utf8.ValidString(s) {
		return s
	}
	cs := p.headerHint
	if cs == "" {
		cs = "iso-8859-1"
	}
	if report && name != "" {
		p.problem("%s has 8-bit bytes that are not UTF-8, read as %s", headerLabel(name), cs)
	}
	return p.convertBytes(cs, []byte(s), headerLabel(name), false)
}
