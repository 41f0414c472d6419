package ingest

import (
	"bytes"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	htmlcharset "golang.org/x/net/html/charset"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"
)

// charsetKind says how a charset label can be read.
type charsetKind int

const (
	charsetUTF8    charsetKind = iota // UTF-8 or ASCII: bytes pass through
	charsetKnown                      // a decoder exists
	charsetUnknown                    // no decoder: fall back
)

// lookupCharset finds a decoder for a charset label. The charset package of
// go-message knows the IANA and WHATWG names (GBK, Big5, windows-125x,
// ISO-8859-x, KOI8, Shift_JIS, EUC-KR...). Importing it also sets
// message.CharsetReader in its init, but this parser calls charset.Reader
// itself and does not depend on that global.
func lookupCharset(label string) (charsetKind, func(io.Reader) io.Reader) {
	switch normalizeCharset(label) {
	case "", "utf-8", "utf8", "us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "unicode-1-1-utf-8":
		return charsetUTF8, nil
	case "gb2312", "gbk", "x-gbk", "cp936", "euc-cn", "gb_2312-80", "gb18030", "csgb2312", "chinese":
		// Mail labelled GB2312 or GBK routinely holds characters only
		// GB18030, their superset, can encode.
		return charsetKnown, func(r io.Reader) io.Reader {
			return transform.NewReader(r, simplifiedchinese.GB18030.NewDecoder())
		}
	}
	if _, err := charset.Reader(normalizeCharset(label), bytes.NewReader(nil)); err != nil {
		return charsetUnknown, nil
	}
	return charsetKnown, func(r io.Reader) io.Reader {
		cr, err := charset.Reader(normalizeCharset(label), r)
		if err != nil {
			return r // cannot happen: the same label was accepted above
		}
		return cr
	}
}

func normalizeCharset(label string) string {
	return strings.ToLower(strings.Trim(label, " \t\"';"))
}

// convertBytes converts b from the charset label to valid UTF-8. An unknown
// charset is read as UTF-8 when b is valid UTF-8 and as Latin-1 otherwise.
func (p *mimeParser) convertBytes(label string, b []byte, where string, report bool) string {
	kind, dec := lookupCharset(label)
	switch kind {
	case charsetKnown:
		// The decoders replace bad input rather than fail, so an error
		// leaves nothing more to read.
		out, _ := io.ReadAll(dec(bytes.NewReader(b)))
		return validText(string(out))
	case charsetUTF8:
		return validText(string(b))
	}
	if validUTF8Prefix(b) {
		if report {
			p.problem("%s: unknown charset %q, read as UTF-8", where, clip(label))
		}
		return validText(string(b))
	}
	if report {
		p.problem("%s: unknown charset %q, read as Latin-1", where, clip(label))
	}
	return latin1(b)
}

func latin1(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/4)
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

// validUTF8Prefix reports whether b is valid UTF-8 but for a rune cut short
// at its end, as happens when a text is read up to a byte limit.
func validUTF8Prefix(b []byte) bool {
	if utf8.Valid(b) {
		return true
	}
	for k := 1; k <= 3 && k <= len(b); k++ {
		tail := b[len(b)-k:]
		if utf8.RuneStart(tail[0]) && !utf8.FullRune(tail) {
			return utf8.Valid(b[:len(b)-k])
		}
	}
	return false
}

// transferEncoding returns the Content-Transfer-Encoding, lower-cased, its
// first token only: "base64 (yes)" and "Base64;" appear in spam.
func transferEncoding(h mimeHeader) string {
	v, _ := h.get("content-transfer-encoding")
	v = strings.ToLower(strings.TrimSpace(v))
	if i := strings.IndexAny(v, " \t;(\""); i >= 0 {
		v = v[:i]
	}
	return v
}

// newTransferDecoder returns a reader of the decoded body. It decodes as it
// is read, so a part that is not wanted costs nothing and a huge one is read
// only as far as the text budget goes.
func newTransferDecoder(cte string, body []byte) io.Reader {
	switch cte {
	case "quoted-printable":
		return &qpDecoder{src: body}
	case "base64":
		return &base64Decoder{src: body}
	}
	return bytes.NewReader(body)
}

func knownTransferEncoding(cte string) bool {
	switch cte {
	case "", "7bit", "8bit", "binary", "quoted-printable", "base64":
		return true
	}
	return false
}

// limitReader is io.LimitReader for a non-negative int.
func limitReader(r io.Reader, n int) io.Reader {
	return io.LimitReader(r, int64(n))
}

// readUpTo reads at most n bytes of r.
func readUpTo(r io.Reader, n int) []byte {
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(limitReader(r, n))
	return buf.Bytes()
}

// textPart decodes one text part into Texts.
func (p *mimeParser) textPart(h mimeHeader, body []byte, mediaType string, params map[string]string, label string) {
	if p.textLeft <= 0 {
		p.textOver()
		return
	}
	cte := transferEncoding(h)
	if !knownTransferEncoding(cte) {
		p.problem("%s: unknown transfer encoding %q, read as 8bit", label, clip(cte))
	}
	r := newTransferDecoder(cte, body)
	cs := params["charset"]
	var text string
	if isHTMLType(mediaType) {
		text = p.htmlText(r, cs, label)
	} else {
		text = p.plainText(r, cs, label)
	}
	if d, ok := r.(*base64Decoder); ok && d.bad {
		p.problem("invalid base64 in %s", label)
	}
	if d, ok := r.(*qpDecoder); ok && d.bad {
		p.problem("invalid quoted-printable in %s", label)
	}
	p.addText(text)
}

// plainText reads up to the text budget of a non-HTML text part.
func (p *mimeParser) plainText(r io.Reader, cs, label string) string {
	kind, dec := lookupCharset(cs)
	if kind == charsetKnown {
		p.noteHint(cs)
		r = dec(r)
	}
	buf := readUpTo(r, p.textLeft+1)
	if len(buf) > p.textLeft {
		p.textOver()
	}
	return strings.ReplaceAll(p.plainBytes(buf, kind, cs, label), "\r\n", "\n")
}

// plainBytes converts the bytes of a text part read in the charset kind.
func (p *mimeParser) plainBytes(buf []byte, kind charsetKind, cs, label string) string {
	switch {
	case kind == charsetKnown:
		return validText(string(buf))
	case validUTF8Prefix(buf):
		if kind == charsetUnknown {
			p.problem("%s: unknown charset %q, read as UTF-8", label, clip(cs))
		}
		return validText(string(buf))
	case kind == charsetUnknown:
		p.problem("%s: unknown charset %q, read as Latin-1", label, clip(cs))
		return latin1(buf)
	case normalizeCharset(cs) == "utf-8" || normalizeCharset(cs) == "utf8":
		p.problem("%s: invalid UTF-8 replaced", label)
		return validText(string(buf))
	}
	p.problem("%s: 8-bit text without a charset, read as Latin-1", label)
	return latin1(buf)
}

// htmlText streams an HTML part through the tokenizer and keeps its visible
// text, up to the text budget.
func (p *mimeParser) htmlText(r io.Reader, cs, label string) string {
	kind, dec := lookupCharset(cs)
	switch {
	case kind == charsetKnown:
		p.noteHint(cs)
		r = dec(r)
	case kind == charsetUnknown || normalizeCharset(cs) != "utf-8":
		// No usable label: sniff a BOM or <meta charset> as a browser
		// would, else UTF-8 if the start is valid, else windows-1252.
		prefix := readUpTo(r, 1024)
		enc, name, _ := htmlcharset.DetermineEncoding(prefix, "text/html")
		r = io.MultiReader(bytes.NewReader(prefix), r)
		if kind == charsetUnknown {
			p.problem("%s: unknown charset %q, read as %s", label, clip(cs), name)
		}
		if name != "utf-8" {
			r = transform.NewReader(r, enc.NewDecoder())
		}
	}
	text, cut, err := htmlVisibleText(r, p.textLeft+1, max(64<<10, p.lim.MaxTextBytes))
	if err != nil {
		p.problem("%s: %v, rest of the HTML skipped", label, err)
	}
	if cut {
		p.textOver()
	}
	return validText(text)
}

// noteHint remembers the first charset a text part declares, to read raw
// 8-bit header bytes with.
func (p *mimeParser) noteHint(cs string) {
	if p.headerHint == "" {
		p.headerHint = normalizeCharset(cs)
	}
}

// qpDecoder decodes quoted-printable leniently: an "=" that starts neither
// an escape nor a soft line break is kept as it is.
type qpDecoder struct {
	src []byte
	bad bool
}

func (d *qpDecoder) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && len(d.src) > 0 {
		c := d.src[0]
		if c != '=' {
			p[n] = c
			n++
			d.src = d.src[1:]
			continue
		}
		if len(d.src) >= 3 && isHex(d.src[1]) && isHex(d.src[2]) {
			p[n] = unhex(d.src[1])<<4 | unhex(d.src[2])
			n++
			d.src = d.src[3:]
			continue
		}
		rest := bytes.TrimLeft(d.src[1:], " \t")
		switch {
		case len(rest) == 0:
			d.src = rest
		case rest[0] == '\n':
			d.src = rest[1:]
		case rest[0] == '\r' && (len(rest) == 1 || rest[1] == '\n'):
			d.src = rest[min(2, len(rest)):]
		default:
			d.bad = true
			p[n] = '='
			n++
			d.src = d.src[1:]
		}
	}
	if n == 0 && len(d.src) == 0 {
		return 0, io.EOF
	}
	return n, nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// base64Decoder decodes base64 leniently: white space is skipped, other
// stray bytes are skipped and noted, and padding in the middle ends one
// block and starts the next, as in bodies glued from several encodings.
type base64Decoder struct {
	src  []byte
	quad [4]byte
	nq   int
	out  [3]byte
	no   int // bytes of out still to return
	bad  bool
}

var base64Values = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	// The URL-safe alphabet turns up in mail from web forms.
	t['-'], t['_'] = 62, 63
	return t
}()

func (d *base64Decoder) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if d.no > 0 {
			k := copy(p[n:], d.out[3-d.no:])
			n += k
			d.no -= k
			continue
		}
		if len(d.src) == 0 {
			d.flushQuad()
			if d.no > 0 {
				continue
			}
			break
		}
		c := d.src[0]
		d.src = d.src[1:]
		switch v := base64Values[c]; {
		case v != 0xFF:
			d.quad[d.nq] = v
			d.nq++
			if d.nq == 4 {
				d.out = [3]byte{d.quad[0]<<2 | d.quad[1]>>4, d.quad[1]<<4 | d.quad[2]>>2, d.quad[2]<<6 | d.quad[3]}
				d.no = 3
				d.nq = 0
			}
		case c == '=':
			d.flushQuad()
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
		default:
			d.bad = true
		}
	}
	if n == 0 && d.no == 0 && len(d.src) == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// flushQuad emits what a partial block holds.
func (d *base64Decoder) flushQuad() {
	switch d.nq {
	case 1:
		d.bad = true
	case 2:
		d.out[2] = d.quad[0]<<2 | d.quad[1]>>4
		d.no = 1
	case 3:
		d.out[1] = d.quad[0]<<2 | d.quad[1]>>4
		d.out[2] = d.quad[1]<<4 | d.quad[2]>>2
		d.no = 2
	}
	d.nq = 0
}
