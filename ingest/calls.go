package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/norm"
)

// CallColumns are the columns a calls CSV must have, in any order.
var CallColumns = []string{"time", "from", "to", "duration_s", "transcript"}

// CallsOptions says how to read a calls CSV.
type CallsOptions struct {
	// Locale and Location read times written without an offset and numbers
	// written without a country code: the investigation's. Empty: such
	// times and numbers are errors.
	Locale   string
	Location *time.Location
	// Charset of the file: "" or "auto" detects UTF-8 or GB18030; any
	// WHATWG label ("gb18030", "gbk", "big5", "windows-1258") is accepted.
	Charset string
}

// CSVRecord is one record of a CSV file in the file's own bytes: the
// bytes of its line or lines, without the final line break.
type CSVRecord struct {
	Line int
	Raw  []byte
}

// CSVRecords splits a CSV file into records in the file's bytes, one at a
// time: a record ends at a line break outside double quotes. It works on
// UTF-8 and on GB18030, whose multi-byte characters never contain the
// bytes of '"', '\r' or '\n'. Records over max bytes are an error.
func CSVRecords(r io.Reader, max int, fn func(CSVRecord) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	line := 0
	for {
		var rec []byte
		start := line + 1
		quoted := false
		for {
			frag, err := br.ReadSlice('\n')
			if err == bufio.ErrBufferFull {
				err = nil
			} else if len(frag) > 0 || err == nil {
				line++
			}
			for _, c := range frag {
				if c == '"' {
					quoted = !quoted
				}
			}
			rec = append(rec, frag...)
			if len(rec) > max {
				return canary.Invalidf("line %d: a record of over %d bytes (an unclosed quote?)", start, max)
			}
			if err == io.EOF {
				if len(rec) == 0 {
					return nil
				}
				if quoted {
					return canary.Invalidf("line %d: the file ends inside a quoted field", start)
				}
				return fn(CSVRecord{Line: start, Raw: csvTrimEOL(rec)})
			}
			if err != nil {
				return fmt.Errorf("read line %d: %w", line, err)
			}
			if bytes.HasSuffix(rec, []byte("\n")) && !quoted {
				break
			}
		}
		if err := fn(CSVRecord{Line: start, Raw: csvTrimEOL(rec)}); err != nil {
			return err
		}
	}
}

func csvTrimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// csvDecoder turns a record's bytes into text in the file's charset.
type csvDecoder struct {
	name string
	enc  encoding.Encoding // nil for UTF-8
}

func (d csvDecoder) decode(b []byte) (string, error) {
	if d.enc == nil {
		if !utf8.Valid(b) {
			return "", fmt.Errorf("not valid UTF-8: pass --charset (gb18030, windows-1258, ...)")
		}
		return string(b), nil
	}
	out, err := d.enc.NewDecoder().Bytes(b)
	if err != nil {
		return "", fmt.Errorf("not valid %s: %w", d.name, err)
	}
	return string(out), nil
}

func charsetDecoder(label string) (csvDecoder, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "", "auto", "utf-8", "utf8":
		return csvDecoder{name: "UTF-8"}, nil
	case "gb18030":
		return csvDecoder{name: "GB18030", enc: simplifiedchinese.GB18030}, nil
	}
	enc, err := htmlindex.Get(label)
	if err != nil {
		return csvDecoder{}, canary.Invalidf("--charset %q: unknown; use utf-8, gb18030, gbk, big5, windows-1258, ...", label)
	}
	name, _ := htmlindex.Name(enc)
	if name == "utf-8" {
		return csvDecoder{name: "UTF-8"}, nil
	}
	return csvDecoder{name: name, enc: enc}, nil
}

// detectCharset looks at a whole file: UTF-8 if every byte sequence is,
// else GB18030 if it decodes cleanly as that.
func detectCharset(r io.Reader) (csvDecoder, error) {
	data, err := io.ReadAll(io.LimitReader(r, 256<<20))
	if err != nil {
		return csvDecoder{}, err
	}
	if utf8.Valid(data) {
		return csvDecoder{name: "UTF-8"}, nil
	}
	if out, err := simplifiedchinese.GB18030.NewDecoder().Bytes(data); err == nil && !bytes.ContainsRune(out, utf8.RuneError) {
		return csvDecoder{name: "GB18030", enc: simplifiedchinese.GB18030}, nil
	}
	return csvDecoder{}, canary.Invalidf("the file is neither UTF-8 nor GB18030: pass --charset")
}

// parseCSVFields reads one record's decoded text as CSV fields.
func parseCSVFields(text string) ([]string, error) {
	cr := csv.NewReader(strings.NewReader(text))
	cr.FieldsPerRecord = -1
	fields, err := cr.Read()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		// csv names line 1 of the record: say what, the caller says where.
		if pe, ok := err.(*csv.ParseError); ok {
			return nil, pe.Err
		}
		return nil, err
	}
	return fields, nil
}

// callRow reads one data row into a contact, or says what is wrong with it.
func (o CallsOptions) callRow(cols map[string]int, fields []string, path string, line int) (TextContact, error) {
	get := func(name string) string { return strings.TrimSpace(fields[cols[name]]) }
	tc := TextContact{Channel: canary.ChannelCall, Source: fmt.Sprintf("calls:%s:%d", path, line),
		Extra: map[string]string{"line": strconv.Itoa(line)}}
	ts := get("time")
	if ts == "" {
		return tc, fmt.Errorf("time is empty")
	}
	at, err := o.readTime(ts)
	if err != nil {
		return tc, err
	}
	tc.At, tc.AtText = at, ts
	to := get("to")
	if to == "" {
		return tc, fmt.Errorf("to is empty: the alias number that was called")
	}
	e, err := o.phone(to)
	if err != nil {
		return tc, fmt.Errorf("to: %w", err)
	}
	tc.To = e
	if from := get("from"); from != "" {
		tc.From = from
		if e, err := o.phone(from); err == nil {
			tc.From = e
		}
	}
	if d := get("duration_s"); d != "" {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil || n < 0 {
			return tc, fmt.Errorf("duration_s %q is not a number of seconds", d)
		}
		tc.Extra["duration_s"] = d
	}
	tc.Text = strings.TrimSpace(fields[cols["transcript"]])
	return tc, nil
}

func (o CallsOptions) readTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if o.Locale == "" {
		return time.Time{}, fmt.Errorf("time %q has no offset: pass --investigation (its time zone reads it) or write it with one (2026-11-02T10:00:00+07:00)", s)
	}
	t, err := norm.ParseTime(s, o.Locale, o.Location)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

func (o CallsOptions) phone(s string) (string, error) {
	region := ""
	if o.Locale != "" {
		region = canary.Region(o.Locale)
	}
	e, err := norm.PhoneE164(s, region)
	if err != nil && region == "" && !strings.HasPrefix(strings.TrimSpace(s), "+") {
		return "", fmt.Errorf("%q has no country code: pass --investigation (its locale gives the region) or write it +84…", s)
	}
	return e, err
}

// CallsCSV records the calls of a CSV file with the columns CallColumns
// (header row required). The file is read twice: first whole, so that any
// bad row stores nothing and every bad row (up to ten) is named by line;
// then each row is recorded with the exact bytes of its line as raw
// evidence. Transcripts are matched like any text.
func (in *Ingester) CallsCSV(ctx context.Context, r io.ReadSeeker, path string, opts CallsOptions, each PhoneFunc) (*PhoneFileStats, error) {
	const maxRecord = 1 << 20
	var dec csvDecoder
	var err error
	if l := strings.ToLower(opts.Charset); l == "" || l == "auto" {
		dec, err = detectCharset(r)
	} else {
		dec, err = charsetDecoder(opts.Charset)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	st := &PhoneFileStats{}
	pass := func(store bool) error {
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		var cols map[string]int
		var bad []string
		fail := func(line int, format string, args ...any) {
			if len(bad) < maxPhoneFileErrors {
				bad = append(bad, fmt.Sprintf("line %d: %s", line, fmt.Sprintf(format, args...)))
			}
		}
		err := CSVRecords(r, maxRecord, func(rec CSVRecord) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			text, err := dec.decode(rec.Raw)
			if err != nil {
				fail(rec.Line, "%v", err)
				return nil
			}
			if cols == nil {
				text = strings.TrimPrefix(text, "\ufeff")
				if strings.TrimSpace(text) == "" {
					return nil
				}
				fields, err := parseCSVFields(text)
				if err != nil {
					return canary.Invalidf("%s line %d: header: %v", path, rec.Line, err)
				}
				cols = map[string]int{}
				for i, f := range fields {
					cols[strings.ToLower(strings.TrimSpace(f))] = i
				}
				var missing []string
				for _, c := range CallColumns {
					if _, ok := cols[c]; !ok {
						missing = append(missing, c)
					}
				}
				if len(missing) > 0 {
					return canary.Invalidf("%s line %d: the header row lacks column(s) %s: the first row must name the columns %s",
						path, rec.Line, strings.Join(missing, ", "), strings.Join(CallColumns, ","))
				}
				return nil
			}
			if strings.TrimSpace(text) == "" {
				return nil
			}
			fields, err := parseCSVFields(text)
			if err != nil {
				fail(rec.Line, "%v", err)
				return nil
			}
			if len(fields) != len(cols) {
				fail(rec.Line, "%d fields, the header has %d", len(fields), len(cols))
				return nil
			}
			tc, err := opts.callRow(cols, fields, path, rec.Line)
			if err == nil {
				err = in.checkTextContact(tc)
			}
			if err != nil {
				fail(rec.Line, "%v", err)
				return nil
			}
			pr := PhoneRecord{Line: rec.Line, Raw: rec.Raw, Contact: tc}
			if dec.enc != nil {
				pr.Contact.Extra["charset"] = dec.name
			}
			if !store {
				st.Records++
				return nil
			}
			got, err := in.recordCounted(ctx, path, pr, st)
			if err != nil {
				return err
			}
			if each != nil {
				return each(pr, got)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if cols == nil {
			return canary.Invalidf("%s: empty: the first row must name the columns %s", path, strings.Join(CallColumns, ","))
		}
		if len(bad) > 0 {
			return canary.Invalidf("%s: nothing recorded: %s", path, strings.Join(bad, "; "))
		}
		return nil
	}
	if err := pass(false); err != nil {
		return nil, err
	}
	if err := pass(true); err != nil {
		return st, err
	}
	return st, nil
}
