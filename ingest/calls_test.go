package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/ingest"
)

func callsOptions(tb testing.TB, locale string) ingest.CallsOptions {
	tb.Helper()
	loc, err := time.LoadLocation(canary.DefaultTimeZone(locale))
	if err != nil {
		tb.Fatal(err)
	}
	return ingest.CallsOptions{Locale: locale, Location: loc}
}

func TestCallsCSV(t *testing.T) {
	f := newPhoneFixture(t)
	viPhone := f.token(t, canary.LocaleVietnam, "shipping phone").Value
	zhPhone := f.token(t, canary.LocaleChina, "shipping phone").Value
	viName := f.token(t, canary.LocaleVietnam, "shipping name").Value
	zhName := f.token(t, canary.LocaleChina, "shipping name").Value
	local := "0" + strings.TrimPrefix(viPhone, "+84")
	csv := "time,from,to,duration_s,transcript\n" +
		"02/11/2026 10:00,0987654321," + local + ",95,\"Alo chị " + viName + ", đơn 2610017788 giá 68.500đ, \"\"shop\"\" nhờ em gọi\nđể hoàn tiền\"\n" +
		"2026-11-02T03:05:00Z,+8613900000000," + zhPhone + ",40,您好" + zhName + "，您的订单2610028899退款68.50元\r\n"
	var recs []ingest.PhoneRecord
	var got []*ingest.Recorded
	st, err := f.in.CallsCSV(context.Background(), strings.NewReader(csv), "/phone/calls.csv", callsOptions(t, canary.LocaleVietnam),
		func(r ingest.PhoneRecord, rec *ingest.Recorded) error {
			recs, got = append(recs, r), append(got, rec)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if st.Recorded != 2 {
		t.Fatalf("Recorded=%d, want 2", st.Recorded)
	}
	lines := strings.SplitAfter(csv, "\n")
	wantRaw := []string{strings.TrimSuffix(lines[1]+lines[2], "\n"), strings.TrimSuffix(lines[3], "\r\n")}
	for i, r := range recs {
		raw, err := f.db.RawObject(context.Background(), got[i].Contact.RawSHA256)
		if err != nil {
			t.Fatal(err)
		}
		if string(raw) != wantRaw[i] {
			t.Fatalf("row %d: raw=%q, want the row's exact bytes %q", i, raw, wantRaw[i])
		}
		if r.Contact.Channel != canary.ChannelCall {
			t.Fatalf("Channel=%q, want call", r.Contact.Channel)
		}
	}
	if want := time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC); !got[0].Contact.ReceivedAt.Equal(want) {
		t.Fatalf("ReceivedAt=%s, want %s (02/11 is 2 November in vi-VN, 10:00 in Ho Chi Minh City)", got[0].Contact.ReceivedAt, want)
	}
	if recs[0].Contact.To != viPhone || recs[0].Line != 2 || recs[1].Line != 4 {
		t.Fatalf("To=%q lines=%d,%d, want %s read in the investigation's region, lines 2 and 4", recs[0].Contact.To, recs[0].Line, recs[1].Line, viPhone)
	}
	for i, rec := range got {
		kinds := matchedKinds(rec.Contact)
		for _, w := range []string{"phone:recipient", "fact:fact"} {
			if !slices.Contains(kinds, w) {
				t.Errorf("row %d: matches=%q, want %s", i, kinds, w)
			}
		}
		if !slices.ContainsFunc(rec.Contact.Matches, func(m canary.Match) bool { return m.Kind == canary.TokenName }) {
			t.Errorf("row %d: matches=%q, want the name in the transcript", i, kinds)
		}
	}
}

func TestCallsCSVGB18030(t *testing.T) {
	f := newPhoneFixture(t)
	zhPhone := f.token(t, canary.LocaleChina, "shipping phone").Value
	zhName := f.token(t, canary.LocaleChina, "shipping name").Value
	text := "time,from,to,duration_s,transcript\n2026-11-02 11:05,13900000000," + zhPhone + ",40,您好" + zhName + "，订单2610028899退款68.50元\n"
	gb, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	for _, charset := range []string{"", "gb18030"} {
		t.Run("charset="+charset, func(t *testing.T) {
			opts := callsOptions(t, canary.LocaleChina)
			opts.Charset = charset
			var got *ingest.Recorded
			if _, err := f.in.CallsCSV(context.Background(), bytes.NewReader(gb), "/phone/zh.csv", opts, func(_ ingest.PhoneRecord, rec *ingest.Recorded) error {
				got = rec
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			raw, err := f.db.RawObject(context.Background(), got.Contact.RawSHA256)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(raw, bytes.TrimSuffix(gb[bytes.IndexByte(gb, '\n')+1:], []byte("\n"))) {
				t.Fatalf("raw=%q, want the GB18030 bytes of the row", raw)
			}
			if !slices.ContainsFunc(got.Contact.Matches, func(m canary.Match) bool { return m.Kind == canary.TokenName }) {
				t.Fatalf("matches=%q, want the name read from GB18030", matchedKinds(got.Contact))
			}
		})
	}
	t.Run("declared utf-8", func(t *testing.T) {
		opts := callsOptions(t, canary.LocaleChina)
		opts.Charset = "utf-8"
		if _, err := f.in.CallsCSV(context.Background(), bytes.NewReader(gb), "/phone/zh.csv", opts, nil); err == nil || !strings.Contains(err.Error(), "--charset") {
			t.Fatalf("err=%v, want a hint to pass --charset", err)
		}
	})
}

func TestCallsCSVBadInput(t *testing.T) {
	f := newPhoneFixture(t)
	vi := callsOptions(t, canary.LocaleVietnam)
	header := "time,from,to,duration_s,transcript\n"
	good := "2026-11-02T10:00:00+07:00,+84987654321,+84912000001,10,hello\n"
	tests := []struct {
		name, data string
		opts       ingest.CallsOptions
		want       []string
	}{
		{"empty", "", vi, []string{"empty"}},
		{"no header", good, vi, []string{"line 1", "lacks column"}},
		{"missing column", "time,from,to,transcript\n" + good, vi, []string{"duration_s"}},
		{"short row", header + good + "2026-11-02T10:00:00+07:00,+84987654321\n", vi, []string{"line 3", "2 fields"}},
		{"bad rows named by line", header + good + "yesterday,x,+84912000001,1,a\n" + good + "2026-11-02T10:00:00+07:00,x,,1,a\n" + "2026-11-02T10:00:00+07:00,x,+84912000001,-5,a\n",
			vi, []string{"line 3", "line 5", "line 6", "duration_s"}},
		{"local number without region", header + "2026-11-02T10:00:00+07:00,x,0912000001,1,a\n", ingest.CallsOptions{}, []string{"line 2", "country code", "--investigation"}},
		{"time without offset or zone", header + "2026-11-02 10:00,x,+84912000001,1,a\n", ingest.CallsOptions{}, []string{"line 2", "no offset"}},
		{"unclosed quote", header + "2026-11-02T10:00:00+07:00,x,+84912000001,1,\"never closed\n", vi, []string{"quoted"}},
		{"future", header + "2027-11-02T10:00:00+07:00,x,+84912000001,1,a\n", vi, []string{"future"}},
		{"not utf-8 nor gb18030", header + "2026-11-02T10:00:00+07:00,x,+84912000001,1,\xff\xfe\xff\n", vi, []string{"--charset"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := f.db.Contacts(context.Background())
			_, err := f.in.CallsCSV(context.Background(), strings.NewReader(tt.data), "/phone/bad.csv", tt.opts, nil)
			if err == nil {
				t.Fatalf("CallsCSV succeeded, want an error saying %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("err=%v, want it to say %q", err, w)
				}
			}
			if !errors.Is(err, canary.ErrInvalid) {
				t.Fatalf("err=%v, want canary.ErrInvalid", err)
			}
			after, _ := f.db.Contacts(context.Background())
			if len(after) != len(before) {
				t.Fatalf("contacts %d -> %d: a bad file stores nothing", len(before), len(after))
			}
		})
	}
}

func FuzzCallsCSV(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "calls", "*.csv"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	in, _ := imapTestDB(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var recs []ingest.CSVRecord
		err := ingest.CSVRecords(bytes.NewReader(data), 1<<16, func(r ingest.CSVRecord) error {
			recs = append(recs, ingest.CSVRecord{Line: r.Line, Raw: bytes.Clone(r.Raw)})
			return nil
		})
		// Every record is the file's own bytes, in order.
		pos := 0
		for _, r := range recs {
			i := bytes.Index(data[pos:], r.Raw)
			if i < 0 {
				t.Fatalf("record at line %d is not the input's bytes", r.Line)
			}
			pos += i + len(r.Raw)
		}
		if err != nil && !errors.Is(err, canary.ErrInvalid) {
			t.Fatalf("CSVRecords error %v is not canary.ErrInvalid", err)
		}
		_, err = in.CallsCSV(context.Background(), bytes.NewReader(data), "fuzz.csv", ingest.CallsOptions{}, nil)
		if err != nil && !errors.Is(err, canary.ErrInvalid) {
			t.Fatalf("CallsCSV error %v is not canary.ErrInvalid", err)
		}
	})
}
