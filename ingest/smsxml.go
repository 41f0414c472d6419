package ingest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/leaktrace/leaktrace/attribution"
	"github.com/leaktrace/leaktrace/canary"
)

// PhoneRecord is one text or call read from a phone export file, with the
// exact bytes of that record in the file.
type PhoneRecord struct {
	Line       int   // line of the record in the file, from 1
	Start, End int64 // byte range of the record in the file
	Raw        []byte
	Contact    TextContact
	Others     []string // the other recipients of a group message
	Problems   []string
	Skip       string // why it is not a contact: outbound, draft, ...
}

// SMSXMLReader reads "SMS Backup & Restore" files (<smses> with <sms> and
// <mms>, or <calls> with <call>) one record at a time with
// encoding/xml's Decoder.Token, keeping each record's exact bytes.
type SMSXMLReader struct {
	kr      *xmlKeepReader
	d       *xml.Decoder
	number  string
	path    string
	root    string
	fixed   int // character references XML forbids, read as U+FFFD
	maxRec  int
	records int
}

// NewSMSXMLReader reads r, the export file of the alias phone number
// (E.164), named path in sources and errors. Records over maxRecord bytes
// are an error.
func NewSMSXMLReader(r io.Reader, number, path string, maxRecord int) *SMSXMLReader {
	kr := &xmlKeepReader{r: r}
	d := xml.NewDecoder(kr)
	d.CharsetReader = func(label string, _ io.Reader) (io.Reader, error) {
		return nil, fmt.Errorf("the file declares encoding %q: SMS Backup & Restore writes UTF-8; convert it (iconv -f %s -t UTF-8) or export it again", label, label)
	}
	return &SMSXMLReader{kr: kr, d: d, number: number, path: path, maxRec: maxRecord}
}

// FixedReferences counts character references XML does not allow (the
// halves of an emoji, written separately by some phones) that were read
// as U+FFFD. The raw bytes keep them as written.
func (x *SMSXMLReader) FixedReferences() int { return x.fixed + x.kr.fixed }

func (x *SMSXMLReader) errorf(format string, args ...any) error {
	line, col := x.d.InputPos()
	return canary.Invalidf("%s line %d column %d: %s", x.path, line, col, fmt.Sprintf(format, args...))
}

// Next returns the next record, or io.EOF after the last.
func (x *SMSXMLReader) Next() (*PhoneRecord, error) {
	for {
		start := x.d.InputOffset()
		x.kr.trim(start)
		tok, err := x.d.Token()
		if err == io.EOF {
			if x.root == "" {
				return nil, canary.Invalidf("%s: no <smses> or <calls> element: not an SMS Backup & Restore file", x.path)
			}
			return nil, io.EOF
		}
		if err != nil {
			return nil, x.xmlError(err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "smses", "calls":
			if x.root != "" {
				return nil, x.errorf("<%s> inside <%s>", se.Name.Local, x.root)
			}
			x.root = se.Name.Local
			continue
		case "sms", "mms", "call":
			if x.root == "" {
				return nil, x.errorf("<%s> outside <smses> or <calls>", se.Name.Local)
			}
			x.kr.limit = x.maxRec
			line, _ := x.d.InputPos()
			rec, err := x.record(se, start, line)
			x.kr.limit = 0
			return rec, err
		default:
			if x.root == "" {
				return nil, x.errorf("root element <%s>: not an SMS Backup & Restore file (want <smses> or <calls>)", se.Name.Local)
			}
			if err := x.d.Skip(); err != nil {
				return nil, x.xmlError(err)
			}
		}
	}
}

func (x *SMSXMLReader) xmlError(err error) error {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		if strings.Contains(se.Msg, "unexpected EOF") {
			return canary.Invalidf("%s line %d: the file ends in the middle of a record (truncated export?): %s", x.path, se.Line, se.Msg)
		}
		return canary.Invalidf("%s line %d: not well-formed XML: %s", x.path, se.Line, se.Msg)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return x.errorf("the file ends in the middle of a record (truncated export?)")
	}
	return x.errorf("%v", err)
}

type smsPart struct{ ct, text, name, data string }
type smsAddr struct{ address, typ string }

func smsAttrs(se xml.StartElement) map[string]string {
	m := make(map[string]string, len(se.Attr))
	for _, a := range se.Attr {
		v := a.Value
		if v == "null" {
			v = ""
		}
		m[a.Name.Local] = v
	}
	return m
}

func (x *SMSXMLReader) record(se xml.StartElement, start int64, line int) (*PhoneRecord, error) {
	a := smsAttrs(se)
	var parts []smsPart
	var addrs []smsAddr
	for depth := 1; depth > 0; {
		tok, err := x.d.Token()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, x.xmlError(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch t.Name.Local {
			case "part":
				pa := smsAttrs(t)
				parts = append(parts, smsPart{ct: strings.ToLower(pa["ct"]), text: pa["text"], name: pa["name"], data: pa["data"]})
			case "addr":
				aa := smsAttrs(t)
				addrs = append(addrs, smsAddr{address: aa["address"], typ: aa["type"]})
			}
		case xml.EndElement:
			depth--
		}
	}
	end := x.d.InputOffset()
	if x.kr.over {
		x.kr.over = false
		return nil, x.errorf("<%s> record of over %d bytes", se.Name.Local, x.maxRec)
	}
	raw, ok := x.kr.slice(start, end)
	if !ok {
		return nil, x.errorf("internal: record bytes %d-%d not held", start, end)
	}
	x.records++
	rec := &PhoneRecord{Line: line, Start: start, End: end, Raw: raw}
	tc := TextContact{To: x.number, Source: fmt.Sprintf("sms-xml:%s#%d-%d", x.path, start, end), Extra: map[string]string{"line": strconv.Itoa(line)}}
	ms, err := strconv.ParseInt(a["date"], 10, 64)
	if err != nil || ms <= 0 {
		return nil, x.errorf("<%s> date %q is not milliseconds since 1970", se.Name.Local, a["date"])
	}
	tc.At = time.UnixMilli(ms).UTC()
	tc.AtText = a["date"]
	if rd := a["readable_date"]; rd != "" {
		tc.AtText += " (" + rd + ")"
	}
	switch se.Name.Local {
	case "sms":
		tc.Channel, tc.From, tc.Text = canary.ChannelSMS, a["address"], a["body"]
		if a["type"] != "1" {
			rec.Skip = "not an inbound text (type=" + a["type"] + ")"
		}
		if sc := a["service_center"]; sc != "" {
			tc.Extra["service_center"] = sc
		}
		if s := a["subject"]; s != "" {
			tc.Text = s + "\n" + tc.Text
		}
	case "mms":
		tc.Channel = canary.ChannelSMS
		tc.Extra["kind"] = "mms"
		if a["msg_box"] != "1" {
			rec.Skip = "not an inbound message (msg_box=" + a["msg_box"] + ")"
		}
		var texts []string
		if s := a["sub"]; s != "" {
			texts = append(texts, s)
		}
		for _, p := range parts {
			switch {
			case p.ct == "text/plain":
				texts = append(texts, p.text)
			case p.data != "":
				if _, err := io.Copy(io.Discard, base64.NewDecoder(base64.StdEncoding, strings.NewReader(p.data))); err != nil {
					rec.Problems = append(rec.Problems, fmt.Sprintf("attachment %q (%s): data is not valid base64", p.name, p.ct))
				}
			}
		}
		tc.Text = strings.Join(texts, "\n")
		tc.From, rec.Others = mmsParties(a["address"], addrs, x.number)
		if strings.Contains(a["address"], "~") {
			tc.Extra["group"] = a["address"]
		}
	case "call":
		tc.Channel, tc.From = canary.ChannelCall, a["number"]
		tc.Extra["duration_s"] = a["duration"]
		tc.Extra["call_type"] = a["type"]
		switch a["type"] {
		case "1", "3", "4", "5", "6", "7":
		default:
			rec.Skip = "not an incoming call (type=" + a["type"] + ")"
		}
	}
	if !utf8.ValidString(tc.Text) {
		tc.Text = strings.ToValidUTF8(tc.Text, "\uFFFD")
	}
	rec.Contact = tc
	return rec, nil
}

// mmsParties returns the sender of an MMS (the addr of type 137, PduHeaders
// FROM) and the other recipients of a group message (TO 151, CC 130, BCC
// 129, and the "~"-separated address list), without the alias itself.
func mmsParties(address string, addrs []smsAddr, number string) (string, []string) {
	from := ""
	for _, a := range addrs {
		if a.typ == "137" {
			from = a.address
			break
		}
	}
	if from == "" && !strings.Contains(address, "~") {
		from = address
	}
	var others []string
	add := func(v string) {
		v = strings.TrimSpace(v)
		if v == "" || v == from || smsSamePhone(v, number) || slices.Contains(others, v) {
			return
		}
		others = append(others, v)
	}
	for _, a := range addrs {
		switch a.typ {
		case "151", "130", "129":
			add(a.address)
		}
	}
	for _, v := range strings.Split(address, "~") {
		add(v)
	}
	return from, others
}

func smsSamePhone(a, b string) bool {
	digits := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, s)
	}
	da, db := digits(a), digits(b)
	return da != "" && db != "" && (da == db || strings.HasSuffix(db, da) && len(da) >= 8 || strings.HasSuffix(da, db) && len(db) >= 8)
}

// xmlKeepReader passes a file to the XML decoder while keeping the bytes
// of the record being read, so that the record's exact bytes can be stored.
// Character references XML forbids (&#55357; and the other halves of
// surrogate pairs, control characters) are handed to the decoder as a
// reference of the same length to U+FFFD or a space, so offsets stay the
// file's offsets; the kept bytes are the file's.
type xmlKeepReader struct {
	r     io.Reader
	raw   []byte // read from r, not yet handed on
	ready []byte // handed on next
	err   error
	kept  []byte // the file's bytes from offset base
	base  int64
	limit int // while > 0, keeping more than limit bytes sets over
	over  bool
	fixed int
}

func (k *xmlKeepReader) Read(p []byte) (int, error) {
	for len(k.ready) == 0 {
		if k.err != nil && len(k.raw) == 0 {
			return 0, k.err
		}
		if k.err == nil && len(k.raw) < 16 {
			buf := make([]byte, 32<<10)
			n, err := k.r.Read(buf)
			k.raw = append(k.raw, buf[:n]...)
			if err != nil {
				k.err = err
			}
			if n == 0 && err == nil {
				continue
			}
		}
		n := len(k.raw)
		if k.err == nil {
			// Hold back a reference that may continue in the next read.
			from := max(0, n-12)
			if i := bytes.LastIndexByte(k.raw[from:], '&'); i >= 0 && !bytes.ContainsRune(k.raw[from+i:], ';') {
				n = from + i
			}
			if n == 0 {
				buf := make([]byte, 32<<10)
				m, err := k.r.Read(buf)
				k.raw = append(k.raw, buf[:m]...)
				if err != nil {
					k.err = err
				}
				continue
			}
		}
		chunk := k.raw[:n]
		k.raw = k.raw[n:]
		k.keep(chunk)
		out := bytes.Clone(chunk)
		k.fixed += fixCharRefs(out)
		k.ready = out
	}
	m := copy(p, k.ready)
	k.ready = k.ready[m:]
	return m, nil
}

func (k *xmlKeepReader) keep(b []byte) {
	if k.limit > 0 && len(k.kept)+len(b) > k.limit+len(b)+(64<<10) {
		k.over = true
		// Keep only the tail, so trim still finds its offsets.
		drop := len(k.kept)
		k.kept = k.kept[:0]
		k.base += int64(drop)
	}
	k.kept = append(k.kept, b...)
}

// trim forgets kept bytes before off.
func (k *xmlKeepReader) trim(off int64) {
	if off <= k.base {
		return
	}
	n := int(min(off-k.base, int64(len(k.kept))))
	k.kept = k.kept[n:]
	k.base += int64(n)
	if cap(k.kept) > 1<<20 && len(k.kept) < cap(k.kept)/4 {
		k.kept = bytes.Clone(k.kept)
	}
}

func (k *xmlKeepReader) slice(start, end int64) ([]byte, bool) {
	if start < k.base || end > k.base+int64(len(k.kept)) || end < start {
		return nil, false
	}
	return bytes.Clone(k.kept[start-k.base : end-k.base]), true
}

// fixCharRefs rewrites, in place, each numeric character reference to a
// character XML 1.0 forbids as a reference of the same length to an allowed
// one, and returns how many it rewrote.
func fixCharRefs(b []byte) int {
	n := 0
	for i := 0; i+3 < len(b); i++ {
		if b[i] != '&' || b[i+1] != '#' {
			continue
		}
		j := i + 2
		hex := j < len(b) && (b[j] == 'x' || b[j] == 'X')
		if hex {
			j++
		}
		k := j
		for k < len(b) && k-j < 12 && isRefDigit(b[k], hex) {
			k++
		}
		if k == j || k >= len(b) || b[k] != ';' {
			continue
		}
		base := 10
		if hex {
			base = 16
		}
		v, err := strconv.ParseUint(string(b[j:k]), base, 32)
		if err == nil && xmlCharAllowed(rune(v)) {
			continue
		}
		copy(b[j:k], refFiller(k-j, hex))
		n++
		i = k
	}
	return n
}

func isRefDigit(c byte, hex bool) bool {
	return c >= '0' && c <= '9' || hex && (c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F')
}

// refFiller is a number of exactly n digits naming an allowed character:
// U+FFFD where it fits, else a space or a tab.
func refFiller(n int, hex bool) string {
	if hex {
		switch {
		case n >= 4:
			return strings.Repeat("0", n-4) + "FFFD"
		case n >= 2:
			return strings.Repeat("0", n-2) + "20"
		default:
			return "9"
		}
	}
	switch {
	case n >= 5:
		return strings.Repeat("0", n-5) + "65533"
	case n >= 2:
		return strings.Repeat("0", n-2) + "32"
	default:
		return "9"
	}
}

func xmlCharAllowed(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// PhoneFileStats counts what reading a phone export did.
type PhoneFileStats struct {
	Records    int `json:"records"`
	Recorded   int `json:"recorded"`
	Duplicates int `json:"duplicates"`
	Skipped    int `json:"skipped"` // outbound texts and calls, drafts
	// Damaged says where a damaged file stops being readable, when the
	// records before the damage were recorded on request (partial).
	Damaged string `json:"damaged,omitempty"`
}

// PhoneFunc is called for each record of a phone export as it is stored;
// rec is nil for a record that was skipped.
type PhoneFunc func(r PhoneRecord, rec *Recorded) error

// recordCounted stores one record of a phone export and counts it.
func (in *Ingester) recordCounted(ctx context.Context, path string, pr PhoneRecord, st *PhoneFileStats) (*Recorded, error) {
	got, err := in.recordPhone(ctx, pr)
	if err != nil {
		return nil, fmt.Errorf("%s line %d: %w", path, pr.Line, err)
	}
	if got.Duplicate {
		st.Duplicates++
	} else {
		st.Recorded++
	}
	return got, nil
}

// maxPhoneFileErrors is how many bad records an error lists.
const maxPhoneFileErrors = 10

// SMSXML records the inbound texts, MMS and calls of an SMS Backup &
// Restore file of the alias number (E.164). The file is read twice: first
// whole, so that a truncated or corrupt file, or a bad record anywhere,
// stores nothing and names what is wrong; then each record is recorded
// with its exact bytes in the file as raw evidence and the byte range in
// its source ("sms-xml:/path#Start-End").
//
// With partial, a file that is truncated or stops being well-formed XML
// (a backup cut short) has its whole records before the damage recorded,
// and Damaged says where it stops; a bad record is still refused.
func (in *Ingester) SMSXML(ctx context.Context, r io.ReadSeeker, path, number string, partial bool, each PhoneFunc) (*PhoneFileStats, error) {
	const maxRecord = 64 << 20
	st := &PhoneFileStats{}
	pass := func(store bool) error {
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		x := NewSMSXMLReader(r, number, path, maxRecord)
		var bad []string
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			rec, err := x.Next()
			if err == io.EOF {
				break
			}
			if err != nil && partial && errors.Is(err, canary.ErrInvalid) {
				st.Damaged = err.Error()
				break
			}
			if err != nil {
				if len(bad) > 0 {
					return canary.Invalidf("%s; %s", strings.Join(bad, "; "), err)
				}
				return err
			}
			if !store {
				st.Records++
				if rec.Skip == "" {
					if err := in.checkTextContact(rec.Contact); err != nil && len(bad) < maxPhoneFileErrors {
						bad = append(bad, fmt.Sprintf("%s line %d: %v", path, rec.Line, err))
					}
				}
				continue
			}
			var got *Recorded
			if rec.Skip != "" {
				st.Skipped++
			} else {
				if got, err = in.recordCounted(ctx, path, *rec, st); err != nil {
					return err
				}
			}
			if each != nil {
				if err := each(*rec, got); err != nil {
					return err
				}
			}
		}
		if len(bad) > 0 {
			return canary.Invalidf("nothing recorded: %s", strings.Join(bad, "; "))
		}
		if !store && x.FixedReferences() > 0 && in.Log != nil {
			in.Log.Warn("character references XML forbids were read as U+FFFD; the raw records keep them", "file", path, "count", x.FixedReferences())
		}
		return nil
	}
	if err := pass(false); err != nil {
		return nil, err
	}
	st.Damaged = ""
	if err := pass(true); err != nil {
		return st, err
	}
	return st, nil
}

// checkTextContact applies Ingester.Text's rules without recording.
func (in *Ingester) checkTextContact(tc TextContact) error {
	if !canary.ValidChannel(tc.Channel) || tc.Channel == canary.ChannelEmail {
		return canary.Invalidf("channel %q: use postal, call, sms, chat or other", tc.Channel)
	}
	if strings.TrimSpace(tc.To) == "" && strings.TrimSpace(tc.Text) == "" {
		return canary.Invalidf("a contact needs a recipient or a text")
	}
	if tc.At.After(in.now().Add(10 * time.Minute)) {
		return canary.Invalidf("contact time %s is in the future: check the time zone or the offset", tc.At.Format(time.RFC3339))
	}
	return nil
}

// recordPhone records a text or call of an export file as Ingester.Text
// would, except that its raw evidence is the record's exact bytes in the
// file, and the other recipients of a group message are matched too.
func (in *Ingester) recordPhone(ctx context.Context, rec PhoneRecord) (*Recorded, error) {
	tc := rec.Contact
	if err := in.checkTextContact(tc); err != nil {
		return nil, err
	}
	if tc.At.IsZero() {
		tc.At = in.now()
	}
	c := &canary.Contact{Channel: tc.Channel, Source: tc.Source, From: tc.From, ReceivedAt: tc.At.UTC(), ReceivedText: tc.AtText,
		Problems: slices.Clone(rec.Problems)}
	if tc.To != "" {
		c.To = []string{tc.To}
	}
	c.To = append(c.To, rec.Others...)
	receipt, _ := json.Marshal(struct {
		Record TextContact `json:"record"`
		Others []string    `json:"group_recipients,omitempty"`
	}{tc, rec.Others})
	c.Auth = string(receipt)
	obs := attribution.Observation{ReceivedAt: c.ReceivedAt}
	if tc.To != "" {
		obs.Recipients = append(obs.Recipients, attribution.Addressed{Value: tc.To, How: canary.HowRecipient})
	}
	for _, o := range rec.Others {
		obs.Recipients = append(obs.Recipients, attribution.Addressed{Value: o, How: canary.HowHeader})
	}
	if tc.Text != "" {
		obs.Texts = append(obs.Texts, attribution.Text{Text: tc.Text, How: canary.HowBody})
	}
	return in.record(ctx, c, rec.Raw, obs)
}
