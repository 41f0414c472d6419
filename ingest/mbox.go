package ingest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
)

// MboxMessage is one message of an mbox file. Raw is exactly the file's
// bytes Start to End: the message without its "From " separator line and
// without the blank line the mbox writer put after it.
type MboxMessage struct {
	FromLine string // the separator line, without its line break
	Line     int    // line number of the separator line, from 1
	Start    int64
	End      int64
	Raw      []byte // nil when the message is over the reader's limit
	TooLarge bool
}

// MboxReader splits an mbox file (mboxo, mboxrd, mboxcl) into messages,
// reading it once and holding one message at a time.
//
// A line that starts with "From " separates messages when it looks like a
// separator ("From sender Mon Jan  2 15:04:05 2006"), or follows a blank
// line and has a sender and a time in it. Body
// lines that begin with "From " are escaped by mbox writers (">From "),
// and the bytes are kept as escaped: the file is the evidence.
type MboxReader struct {
	br    *bufio.Reader
	max   int64
	off   int64 // offset of the next byte to read
	line  int   // lines read so far
	next  *MboxMessage
	err   error
	begun bool
}

// NewMboxReader reads r; messages over max bytes come back with TooLarge
// set and no Raw.
func NewMboxReader(r io.Reader, max int64) *MboxReader {
	return &MboxReader{br: bufio.NewReaderSize(r, 64<<10), max: max}
}

// ErrNotMbox is returned when the first line is not a "From " separator.
var ErrNotMbox = errors.New("not an mbox file: it does not begin with a \"From \" line")

// fromLineRe is the classic separator: "From " sender asctime-date.
// looseFromRe is any "From " sender line with a time in it, a separator
// only after a blank line (writers vary the date format).
var (
	fromLineRe  = regexp.MustCompile(`^From \S+\s+(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d`)
	looseFromRe = regexp.MustCompile(`^From \S+\s.*\d:\d\d`)
)

// Next returns the next message, or io.EOF after the last one.
func (m *MboxReader) Next() (*MboxMessage, error) {
	if m.err != nil {
		return nil, m.err
	}
	if !m.begun {
		m.begun = true
		if err := m.start(); err != nil {
			m.err = err
			return nil, err
		}
	}
	cur := m.next
	if cur == nil {
		m.err = io.EOF
		return nil, io.EOF
	}
	m.next = nil
	var buf bytes.Buffer
	size := int64(0)
	atLineStart := true
	prevBlank := false // the last complete line was blank
	blankAt, blankOff := 0, int64(0)
	for {
		lineOff := m.off
		frag, err := m.br.ReadSlice('\n')
		full := err != bufio.ErrBufferFull
		if err == bufio.ErrBufferFull {
			err = nil
		}
		if len(frag) > 0 {
			if atLineStart {
				m.line++
				if bytes.HasPrefix(frag, []byte("From ")) && (fromLineRe.Match(frag) || prevBlank && looseFromRe.Match(frag)) {
					from, rest := frag, []byte(nil)
					if !full {
						// A separator line longer than the buffer: read it whole.
						rest, err = m.restOfLine()
						from = append(bytes.Clone(frag), rest...)
					}
					m.off += int64(len(frag) + len(rest))
					m.next = &MboxMessage{FromLine: string(mboxTrimEOL(from)), Line: m.line, Start: m.off}
					end, n := lineOff, buf.Len()
					if prevBlank {
						end, n = blankOff, blankAt
					}
					return m.finish(cur, buf.Bytes()[:min(n, buf.Len())], end, size > m.max), err
				}
				blank := mboxBlankLine(frag)
				if blank && full {
					blankAt, blankOff = buf.Len(), lineOff
				}
				prevBlank = blank && full
			} else {
				prevBlank = false
			}
			m.off += int64(len(frag))
			size += int64(len(frag))
			if size <= m.max {
				buf.Write(frag)
			}
			atLineStart = full
		}
		if err == io.EOF {
			end, n := m.off, buf.Len()
			if prevBlank {
				end, n = blankOff, blankAt
			}
			return m.finish(cur, buf.Bytes()[:min(n, buf.Len())], end, size > m.max), nil
		}
		if err != nil {
			m.err = fmt.Errorf("read mbox: %w", err)
			return nil, m.err
		}
	}
}

func (m *MboxReader) finish(cur *MboxMessage, raw []byte, end int64, tooBig bool) *MboxMessage {
	cur.End = end
	if tooBig || end-cur.Start > m.max {
		cur.TooLarge = true
		return cur
	}
	cur.Raw = bytes.Clone(raw)
	return cur
}

func (m *MboxReader) restOfLine() ([]byte, error) {
	var out []byte
	for {
		frag, err := m.br.ReadSlice('\n')
		out = append(out, frag...)
		if err == bufio.ErrBufferFull {
			if len(out) > 1<<20 {
				return out, fmt.Errorf("read mbox: separator line of over 1 MiB")
			}
			continue
		}
		if err == io.EOF {
			err = nil
		}
		return out, err
	}
}

// start reads up to the first separator, allowing blank lines before it.
func (m *MboxReader) start() error {
	for {
		frag, err := m.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			return ErrNotMbox
		}
		if len(frag) == 0 && err == io.EOF {
			return nil // an empty file holds no messages
		}
		m.line++
		if mboxBlankLine(frag) {
			m.off += int64(len(frag))
			if err == io.EOF {
				return nil
			}
			continue
		}
		if !bytes.HasPrefix(frag, []byte("From ")) {
			return ErrNotMbox
		}
		m.off += int64(len(frag))
		m.next = &MboxMessage{FromLine: string(mboxTrimEOL(frag)), Line: m.line, Start: m.off}
		if err != nil && err != io.EOF {
			return fmt.Errorf("read mbox: %w", err)
		}
		return nil
	}
}

func mboxBlankLine(b []byte) bool {
	return len(b) == 1 && b[0] == '\n' || len(b) == 2 && b[0] == '\r' && b[1] == '\n'
}

func mboxTrimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// FileResult is the outcome of one message or record of a file.
type FileResult struct {
	Where    string // "mbox:/path#12-345", "/path line 7"
	Recorded *Recorded
	Skipped  string // why it was not recorded; "" when it was
}

// Mbox records every message of the mbox read from r, whose absolute path
// is path. Each message's raw evidence is its exact bytes in the file; the
// contact's Source names the file and the byte range
// ("mbox:/abs/path#Start-End"), and the separator line is kept in the
// receipt. Messages over max bytes are skipped and reported, never cut.
// each is called after every message; an error from it stops the import.
func (in *Ingester) Mbox(ctx context.Context, r io.Reader, path string, max int64, each func(FileResult) error) error {
	mr := NewMboxReader(r, max)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		msg, err := mr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		where := fmt.Sprintf("mbox:%s#%d-%d", path, msg.Start, msg.End)
		res := FileResult{Where: where}
		switch {
		case msg.TooLarge:
			res.Skipped = fmt.Sprintf("message at line %d is %d bytes, over the %d-byte limit", msg.Line, msg.End-msg.Start, max)
		case len(bytes.TrimSpace(msg.Raw)) == 0:
			res.Skipped = fmt.Sprintf("message at line %d is empty", msg.Line)
		default:
			rec, err := in.emailFrom(ctx, msg.Raw, where, mailOrigin{Receipt: map[string]any{
				"mbox": map[string]any{"file": path, "start": msg.Start, "end": msg.End, "from_line": msg.FromLine, "line": msg.Line}}})
			if err != nil {
				return fmt.Errorf("%s line %d: %w", path, msg.Line, err)
			}
			res.Recorded = rec
		}
		if each != nil {
			if err := each(res); err != nil {
				return err
			}
		}
	}
}
