package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Limits bound the work the parser does on hostile input. A field that is
// zero or negative takes its value from DefaultLimits.
type Limits struct {
	MaxParts       int // MIME parts visited in total, the top-level entity included (default 200)
	MaxDepth       int // multipart/message nesting (default 10)
	MaxHeaderBytes int // bytes of one header block, top-level or nested (default 256 KiB); go-message leaves nested headers unbounded
	MaxTextBytes   int // decoded text kept across all parts (default 4 MiB)
}

// DefaultLimits returns the limits ParseMessage uses for fields left at zero.
func DefaultLimits() Limits {
	return Limits{
		MaxParts:       200,
		MaxDepth:       10,
		MaxHeaderBytes: 256 << 10,
		MaxTextBytes:   4 << 20,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxParts <= 0 {
		l.MaxParts = d.MaxParts
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	if l.MaxTextBytes <= 0 {
		l.MaxTextBytes = d.MaxTextBytes
	}
	return l
}

// Message is what ParseMessage reads out of a raw message. Every string in it
// is valid UTF-8; the raw bytes stay the evidence.
type Message struct {
	From     string // the From header as decoded text (display name and address)
	FromAddr string // its addr-spec, lower-cased, "" if none could be read

	// Addr-specs, lower-cased, in header order, each listed once.
	To, Cc, Bcc, ReplyTo, DeliveredTo, XOriginalTo []string

	ReceivedFor []string // addresses named in "Received: ... for <addr>" clauses

	Subject   string    // decoded (RFC 2047, any charset)
	DateText  string    // the Date header as written
	Date      time.Time // zero when absent or unreadable
	MessageID string    // without the angle brackets

	Received              []string // Received headers as written (unfolded), top first
	AuthenticationResults []string // Authentication-Results headers as written (unfolded)
	DKIMSignatures        int      // number of DKIM-Signature headers

	// Texts holds the decoded text of each text part in document order: each
	// text/plain part (and other text/* parts), the visible text of each
	// text/html part, and the From/To/Cc/Date/Subject of each attached
	// message/rfc822. Non-text attachments are skipped, and so is the
	// top-level Subject. Their total length is at most Limits.MaxTextBytes.
	Texts []string

	// Problems lists non-fatal issues in plain words, in the order met.
	Problems []string
}

// maxProblems keeps hostile input from growing Problems without bound.
const maxProblems = 100

var (
	errEmptyMessage = errors.New("empty input")
	errNoHeader     = errors.New("no header field found")
)

// ParseMessage reads a raw RFC 5322 message. It never panics and never
// modifies raw.
//
// It returns an error only when raw is not a message at all: empty, or no
// header field can be read. Everything else becomes a Problem and as much text
// as possible is still returned.
func ParseMessage(raw []byte, lim Limits) (*Message, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, fmt.Errorf("parse message: %w", errEmptyMessage)
	}
	p := &mimeParser{lim: lim.withDefaults(), msg: &Message{}}
	p.textLeft = p.lim.MaxTextBytes

	h, body := p.readHeaderBlock(raw, "message", true)
	if len(h) == 0 {
		return nil, fmt.Errorf("parse message: %w", errNoHeader)
	}
	// The body is walked first because raw 8-bit header text is read in the
	// charset the body declares; its problems are listed after the header's.
	headerEnd := len(p.msg.Problems)
	p.entity(h, body, "", 0, "text/plain")
	bodyProblems := append([]string(nil), p.msg.Problems[headerEnd:]...)
	p.msg.Problems = p.msg.Problems[:headerEnd]
	p.topHeader(h)
	p.msg.Problems = append(p.msg.Problems, bodyProblems...)
	p.finish()
	return p.msg, nil
}

// mimeParser holds the state of one ParseMessage call.
type mimeParser struct {
	lim Limits
	msg *Message

	parts      int      // entities visited
	partsFull  bool     // MaxParts reached
	textLeft   int      // bytes of text still allowed
	textFull   bool     // MaxTextBytes reached, reported
	dropped    int      // problems beyond maxProblems
	limits     []string // limit problems, listed last
	headerHint string
}

func (p *mimeParser) problem(format string, args ...any) {
	if len(p.msg.Problems) >= maxProblems {
		p.dropped++
		return
	}
	p.msg.Problems = append(p.msg.Problems, strings.ToValidUTF8(fmt.Sprintf(format, args...), "\uFFFD"))
}

// limitProblem records that a limit was reached. These are kept apart from
// the capped list: they say the result is incomplete, which matters most.
func (p *mimeParser) limitProblem(format string, args ...any) {
	p.limits = append(p.limits, fmt.Sprintf(format, args...))
}

func (p *mimeParser) finish() {
	if len(p.msg.Problems) > maxProblems {
		p.dropped += len(p.msg.Problems) - maxProblems
		p.msg.Problems = p.msg.Problems[:maxProblems]
	}
	if p.dropped > 0 {
		p.msg.Problems = append(p.msg.Problems, fmt.Sprintf("%d more problems not listed", p.dropped))
	}
	p.msg.Problems = append(p.msg.Problems, p.limits...)
}

// addText keeps s within the text budget. Once the budget is spent, by this
// text or by a part read only in part, no more text is kept, so that Texts
// never holds the start of a later part after a cut one.
func (p *mimeParser) addText(s string) {
	s = strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) > p.textLeft {
		s = strings.TrimSpace(cutUTF8(s, p.textLeft))
		p.textOver()
	}
	if s != "" {
		p.msg.Texts = append(p.msg.Texts, s)
		p.textLeft -= len(s)
	}
	if p.textFull {
		p.textLeft = 0
	}
}

// textOver notes, once, that text was cut.
func (p *mimeParser) textOver() {
	if !p.textFull {
		p.textFull = true
		p.limitProblem("text over %s cut", sizeText(p.lim.MaxTextBytes))
	}
}

// cutUTF8 shortens valid UTF-8 s to at most n bytes without splitting a rune.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

func sizeText(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + " KiB"
	}
	return strconv.Itoa(n) + " bytes"
}

func (p *mimeParser) partLimit() {
	if !p.partsFull {
		p.partsFull = true
		p.limitProblem("stopped after %d parts", p.lim.MaxParts)
	}
}

// partLabel names a part the way IMAP numbers sections, so a problem can be
// found again in the raw message.
func partLabel(section string) string {
	if section == "" {
		return "part 1"
	}
	return "part " + section
}

func childSection(section string, i int) string {
	if section == "" {
		return strconv.Itoa(i)
	}
	return section + "." + strconv.Itoa(i)
}

// entity handles one MIME entity whose header is h and whose still-encoded
// body is body. defaultType is what a missing Content-Type means here.
func (p *mimeParser) entity(h mimeHeader, body []byte, section string, depth int, defaultType string) {
	if p.parts >= p.lim.MaxParts {
		p.partLimit()
		return
	}
	p.parts++

	label := partLabel(section)
	mediaType, params := p.contentType(h, label, defaultType)
	switch {
	case strings.HasPrefix(mediaType, "multipart/"):
		containerLabel := label
		if section == "" {
			containerLabel = "message"
		}
		if depth >= p.lim.MaxDepth {
			p.problem("%s: nested deeper than %d levels, not opened", containerLabel, p.lim.MaxDepth)
			return
		}
		p.multipart(mediaType, params, body, section, containerLabel, depth)
	case mediaType == "message/rfc822" || mediaType == "message/global":
		if depth >= p.lim.MaxDepth {
			p.problem("%s: nested deeper than %d levels, not opened", label, p.lim.MaxDepth)
			return
		}
		p.embedded(h, body, section, label, depth)
	case isTextType(mediaType):
		p.textPart(h, body, mediaType, params, label)
	}
}

func isTextType(mediaType string) bool {
	switch mediaType {
	case "application/xhtml+xml",
		// Bounce and report bodies are header-like text that often quotes
		// the original recipient.
		"message/delivery-status", "message/global-delivery-status",
		"message/disposition-notification", "message/feedback-report":
		return true
	}
	return strings.HasPrefix(mediaType, "text/")
}

func isHTMLType(mediaType string) bool {
	return mediaType == "text/html" || mediaType == "application/xhtml+xml"
}

// paramRE finds boundary and charset parameters in a Content-Type that
// mime.ParseMediaType rejects (duplicates, bad quoting, stray bytes).
var paramRE = regexp.MustCompile(`(?i)(?:^|[;\s])(boundary|charset)\s*=\s*(?:"([^"]*)"?|([^;\s"]+))`)

// contentType returns the lower-cased media type and its parameters,
// tolerating headers that mime.ParseMediaType rejects.
func (p *mimeParser) contentType(h mimeHeader, label, defaultType string) (string, map[string]string) {
	v, ok := h.get("content-type")
	if !ok || strings.TrimSpace(v) == "" {
		return defaultType, nil
	}
	mediaType, params, err := mime.ParseMediaType(v)
	if err != nil {
		mediaType = v
		if i := strings.IndexByte(mediaType, ';'); i >= 0 {
			mediaType = mediaType[:i]
		}
		mediaType = strings.ToLower(strings.TrimSpace(mediaType))
		params = map[string]string{}
		for _, m := range paramRE.FindAllStringSubmatch(v, -1) {
			name := strings.ToLower(m[1])
			if _, seen := params[name]; !seen {
				params[name] = m[2] + m[3]
			}
		}
	}
	if mediaType == "" || mediaType == "text" {
		return defaultType, params
	}
	if !strings.Contains(mediaType, "/") {
		p.problem("%s: unreadable Content-Type %q, read as %s", label, clip(v), defaultType)
		return defaultType, params
	}
	return mediaType, params
}

// clip shortens hostile values quoted in problems.
func clip(s string) string {
	const n = 60
	if len(s) <= n {
		return s
	}
	return cutUTF8(strings.ToValidUTF8(s[:min(len(s), n+4)], "?"), n) + "…"
}

func (p *mimeParser) multipart(mediaType string, params map[string]string, body []byte, section, label string, depth int) {
	boundary := strings.TrimRight(params["boundary"], " \t")
	if boundary == "" {
		p.problem("%s: %s without boundary, body read as text", label, mediaType)
		p.textPart(nil, body, "text/plain", nil, label)
		return
	}
	childType := "text/plain"
	if mediaType == "multipart/digest" {
		childType = "message/rfc822"
	}
	s := partSplitter{body: body, delim: []byte("--" + boundary)}
	n := 0
	for {
		part, ok := s.next()
		if !ok {
			break
		}
		if p.parts >= p.lim.MaxParts {
			p.partLimit()
			return
		}
		n++
		child := childSection(section, n)
		h, b := p.readHeaderBlock(part, partLabel(child), false)
		p.entity(h, b, child, depth+1, childType)
	}
	switch {
	case n == 0:
		p.problem("%s: boundary %q not found, body read as text", label, clip(boundary))
		p.textPart(nil, body, "text/plain", nil, label)
	case !s.closed:
		p.problem("%s: multipart not closed", label)
	}
}

// embedded handles a message/rfc822 part: its headers become a text so that
// a forwarded scam's recipients are seen, and its body is walked.
func (p *mimeParser) embedded(h mimeHeader, body []byte, section, label string, depth int) {
	cte := transferEncoding(h)
	if cte == "base64" || cte == "quoted-printable" {
		// Encoding a message/rfc822 is not allowed but happens; the decoded
		// copy is bounded so that a huge one cannot take the memory.
		maxLen := p.lim.MaxHeaderBytes + p.lim.MaxTextBytes
		var buf bytes.Buffer
		r := newTransferDecoder(cte, body)
		n, _ := buf.ReadFrom(limitReader(r, maxLen+1))
		if n > int64(maxLen) {
			p.problem("%s: encoded message over %s cut", label, sizeText(maxLen))
			buf.Truncate(maxLen)
		}
		body = buf.Bytes()
	}
	ih, ibody := p.readHeaderBlock(body, label, false)
	if len(ih) == 0 {
		p.textPart(nil, ibody, "text/plain", nil, label)
		return
	}
	var sb strings.Builder
	for _, name := range []string{"from", "to", "cc", "date", "subject"} {
		for _, v := range ih.all(name) {
			sb.WriteString(canonicalName(name))
			sb.WriteString(": ")
			sb.WriteString(p.decodeHeaderText(v, name))
			sb.WriteByte('\n')
		}
	}
	if sb.Len() > 0 && p.textLeft > 0 {
		p.addText(sb.String())
	}
	p.entity(ih, ibody, section, depth+1, "text/plain")
}

func canonicalName(name string) string {
	switch name {
	case "cc":
		return "Cc"
	case "to":
		return "To"
	}
	return strings.ToUpper(name[:1]) + name[1:]
}

// partSplitter cuts a multipart body into its parts without copying. It
// accepts LF and CRLF line ends and ignores the preamble and epilogue.
type partSplitter struct {
	body   []byte
	delim  []byte // "--" + boundary
	pos    int    // where the next part starts
	start  bool   // the first delimiter was looked for
	done   bool
	closed bool // the close delimiter was seen
}

// next returns the next part, or false when there are no more.
func (s *partSplitter) next() ([]byte, bool) {
	if s.done {
		return nil, false
	}
	if !s.start {
		s.start = true
		_, end, closing, ok := s.findDelim(0)
		if !ok || closing {
			s.done = true
			s.closed = ok
			return nil, false
		}
		s.pos = end
	}
	lineStart, end, closing, ok := s.findDelim(s.pos)
	if !ok {
		s.done = true
		return s.body[s.pos:], true
	}
	part := s.body[s.pos:trimLineBreak(s.body, s.pos, lineStart)]
	s.pos = end
	if closing {
		s.done = true
		s.closed = true
	}
	return part, true
}

// trimLineBreak returns the end of the part that ends before the delimiter
// line at lineStart: the line break before a delimiter belongs to it.
func trimLineBreak(b []byte, from, lineStart int) int {
	end := lineStart
	if end > from && b[end-1] == '\n' {
		end--
		if end > from && b[end-1] == '\r' {
			end--
		}
	}
	return end
}

// findDelim finds the next delimiter line at or after from. It returns where
// the line starts, where the next line starts, and whether it is the close
// delimiter.
func (s *partSplitter) findDelim(from int) (lineStart, next int, closing, ok bool) {
	b := s.body
	for i := from; i < len(b); {
		j := bytes.Index(b[i:], s.delim)
		if j < 0 {
			return 0, 0, false, false
		}
		k := i + j
		i = k + 1
		if k > 0 && b[k-1] != '\n' {
			continue
		}
		rest := b[k+len(s.delim):]
		eol := bytes.IndexByte(rest, '\n')
		line := rest
		next = len(b)
		if eol >= 0 {
			line = rest[:eol]
			next = k + len(s.delim) + eol + 1
		}
		if bytes.HasPrefix(line, []byte("--")) {
			return k, next, true, true
		}
		// Anything but white space after the boundary means a longer
		// boundary, typically a nested one that shares our prefix.
		if len(bytes.Trim(line, " \t\r")) != 0 {
			continue
		}
		return k, next, false, true
	}
	return 0, 0, false, false
}
