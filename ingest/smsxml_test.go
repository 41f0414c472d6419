package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leaktrace/leaktrace/attribution"
	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/ingest"
	"github.com/leaktrace/leaktrace/sqlite"
)

// phoneFixture is a store with one placed order in each locale, whose
// tokens the texts and transcripts of these tests quote.
type phoneFixture struct {
	db     *sqlite.DB
	in     *ingest.Ingester
	orders map[string]*canary.Order // by locale
}

var phoneTestNow = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func newPhoneFixture(tb testing.TB) *phoneFixture {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "t.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	now := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { return now }
	if err := db.AddDomain(ctx, &canary.Domain{Name: "canary.example"}); err != nil {
		tb.Fatal(err)
	}
	pool := "number,provider\n0912000001,Vinaphone\n0912000002,Vinaphone\n0912000003,Vinaphone\n+8613800138001,China Mobile\n+8613800138002,China Mobile\n+12025550101,Twilio\n+12025550102,Twilio\n"
	if _, err := db.ImportPhones(ctx, strings.NewReader(pool), "pool.csv", "VN", 0); err != nil {
		tb.Fatal(err)
	}
	for _, p := range []canary.Party{{Name: "ShopA", Kind: canary.KindPlatform}, {Name: "Lens Pharmacy", Kind: canary.KindMerchant},
		{Name: "FastExpress", Kind: canary.KindCourier}} {
		if err := db.AddParty(ctx, &p); err != nil {
			tb.Fatal(err)
		}
	}
	f := &phoneFixture{db: db, orders: map[string]*canary.Order{}}
	facts := map[string][]sqlite.Fact{
		canary.LocaleVietnam: {{Key: canary.FactOrderNo, Value: "2610017788"}, {Key: canary.FactPrice, Value: "68.500đ"}, {Key: canary.FactItem, Value: "Kem chống nắng"}},
		canary.LocaleChina:   {{Key: canary.FactOrderNo, Value: "2610028899"}, {Key: canary.FactPrice, Value: "68.50 CNY"}},
		canary.LocaleUS:      {{Key: canary.FactOrderNo, Value: "2610039900"}, {Key: canary.FactPrice, Value: "$19.99"}},
	}
	for _, loc := range canary.Locales {
		inv := &canary.Investigation{Name: "inv-" + loc, Locale: loc, Address: "12 Main Street"}
		if err := db.CreateInvestigation(ctx, inv); err != nil {
			tb.Fatal(err)
		}
		o, _, err := db.CreateOrder(ctx, sqlite.OrderSpec{Investigation: inv.Name, Ref: "o-" + loc, Platform: "ShopA",
			Merchant: "Lens Pharmacy", Courier: "FastExpress", Payment: canary.PaymentCOD, PlacedAt: now, Facts: facts[loc]})
		if err != nil {
			tb.Fatalf("CreateOrder(%s): %v", loc, err)
		}
		f.orders[loc] = o
	}
	u, err := db.Universe(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	f.in = &ingest.Ingester{Store: db, Matcher: attribution.NewMatcher(u), Limits: ingest.DefaultLimits(),
		Now: func() time.Time { return phoneTestNow }}
	db.Now = func() time.Time { return phoneTestNow }
	return f
}

func (f *phoneFixture) token(tb testing.TB, locale, field string) canary.Token {
	tb.Helper()
	for _, t := range f.orders[locale].Tokens {
		if t.Field == field {
			return t
		}
	}
	tb.Fatalf("order %s has no %q token", locale, field)
	return canary.Token{}
}

// matchedKinds lists "kind:how" of the contact's matches.
func matchedKinds(c *canary.Contact) []string {
	var out []string
	for _, m := range c.Matches {
		out = append(out, string(m.Kind)+":"+m.How)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xmlEscapeTo(&b, s)
	return b.String()
}

func xmlEscapeTo(w io.Writer, s string) error {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "\n", "&#10;")
	_, err := io.WriteString(w, r.Replace(s))
	return err
}

func smsFile(records ...string) string {
	return "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n<?xml-stylesheet type=\"text/xsl\" href=\"sms.xsl\"?>\n<smses count=\"" +
		fmt.Sprint(len(records)) + "\">\n  " + strings.Join(records, "\n  ") + "\n</smses>\n"
}

func smsRecord(ms int64, typ, from, body string) string {
	return fmt.Sprintf(`<sms protocol="0" address="%s" date="%d" type="%s" subject="null" body="%s" toa="null" sc_toa="null" service_center="+84900000000" read="1" status="-1" locked="0" date_sent="%d" readable_date="" contact_name="(Unknown)" />`,
		from, ms, typ, xmlEscape(body), ms)
}

func TestSMSXMLMatchesTexts(t *testing.T) {
	f := newPhoneFixture(t)
	vi, zh, en := f.orders[canary.LocaleVietnam], f.orders[canary.LocaleChina], f.orders[canary.LocaleUS]
	viName := f.token(t, canary.LocaleVietnam, "shipping name").Value
	zhName := f.token(t, canary.LocaleChina, "shipping name").Value
	enName := f.token(t, canary.LocaleUS, "shipping name").Value
	number := f.token(t, canary.LocaleVietnam, "shipping phone").Value
	ms := time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC).UnixMilli()
	recs := []string{
		smsRecord(ms, "1", "0987654321", "Chào "+viName+", đơn hàng 2610017788 giá 68.500đ cần xác nhận hoàn tiền."),
		smsRecord(ms+1000, "1", "+8613900000000", "您好 "+zhName+"，您的订单2610028899退款68.50元，请点击链接。"),
		smsRecord(ms+2000, "1", "+12025550199", "Hi "+enName+", your order 2610039900 ($19.99) refund is pending."),
		smsRecord(ms+3000, "2", "0987654321", "outbound reply, not a contact"),
	}
	data := smsFile(recs...)
	var got []*ingest.Recorded
	var kept [][]byte
	st, err := f.in.SMSXML(context.Background(), strings.NewReader(data), "/phone/sms.xml", number, false, func(r ingest.PhoneRecord, rec *ingest.Recorded) error {
		if rec != nil {
			got = append(got, rec)
			kept = append(kept, r.Raw)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Recorded != 3 || st.Skipped != 1 {
		t.Fatalf("Recorded=%d Skipped=%d, want 3 and 1", st.Recorded, st.Skipped)
	}
	for i, rec := range got {
		raw, err := f.db.RawObject(context.Background(), rec.Contact.RawSHA256)
		if err != nil {
			t.Fatal(err)
		}
		if string(raw) != recs[i] || !bytes.Equal(raw, kept[i]) {
			t.Fatalf("record %d: raw=%q, want the element's exact bytes %q", i, raw, recs[i])
		}
	}
	tests := []struct {
		i     int
		order *canary.Order
		want  []string
	}{
		{0, vi, []string{"fact:fact", "phone:recipient"}},
		{1, zh, []string{"fact:fact"}},
		{2, en, []string{"fact:fact"}},
	}
	for _, tt := range tests {
		kinds := matchedKinds(got[tt.i].Contact)
		for _, w := range tt.want {
			if !slices.Contains(kinds, w) {
				t.Errorf("text %d (%s): matches=%q, want %s among them", tt.i, tt.order.Ref, kinds, w)
			}
		}
		hasName := slices.ContainsFunc(got[tt.i].Contact.Matches, func(m canary.Match) bool { return m.Kind == canary.TokenName })
		if !hasName {
			t.Errorf("text %d (%s): matches=%q, want the shipping name", tt.i, tt.order.Ref, kinds)
		}
	}
	// Importing the same file again records nothing new.
	st, err = f.in.SMSXML(context.Background(), strings.NewReader(data), "/phone/sms.xml", number, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Recorded != 0 || st.Duplicates != 3 {
		t.Fatalf("second import: Recorded=%d Duplicates=%d, want 0 and 3", st.Recorded, st.Duplicates)
	}
}

func TestSMSXMLGroupMMSAndCalls(t *testing.T) {
	f := newPhoneFixture(t)
	number := f.token(t, canary.LocaleVietnam, "shipping phone").Value
	other := "+84912000003" // a pool number with no token: unissued
	mms := `<mms date="1793592000000" msg_box="1" address="+84987000001~` + number + `~` + other + `" sub="null" readable_date="Nov 2, 2026" contact_name="(Unknown)">
    <parts>
      <part seq="-1" ct="application/smil" name="null" text="&lt;smil&gt;&lt;/smil&gt;" />
      <part seq="0" ct="text/plain" name="text_0.txt" text="Don hang 2610017788 cua ban bi giu lai" />
      <part seq="0" ct="image/png" name="x.png" data="not-valid-base64-content!!" />
    </parts>
    <addrs>
      <addr address="+84987000001" type="137" charset="106" />
      <addr address="` + number + `" type="151" charset="106" />
      <addr address="` + other + `" type="151" charset="106" />
    </addrs>
  </mms>`
	data := smsFile(mms)
	var rec *ingest.Recorded
	var pr ingest.PhoneRecord
	if _, err := f.in.SMSXML(context.Background(), strings.NewReader(data), "/phone/sms.xml", number, false, func(r ingest.PhoneRecord, got *ingest.Recorded) error {
		rec, pr = got, r
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if rec == nil {
		t.Fatal("the inbound group MMS was not recorded")
	}
	if pr.Contact.From != "+84987000001" || !slices.Equal(pr.Others, []string{other}) {
		t.Fatalf("From=%q Others=%q, want the 137 sender and the other group member", pr.Contact.From, pr.Others)
	}
	if !slices.Contains(rec.Contact.Unissued, other) {
		t.Fatalf("Unissued=%q, want the other pool number of the group", rec.Contact.Unissued)
	}
	if !slices.ContainsFunc(rec.Contact.Problems, func(p string) bool { return strings.Contains(p, "not valid base64") }) {
		t.Fatalf("Problems=%q, want the corrupt attachment named", rec.Contact.Problems)
	}
	if !strings.Contains(data, string(pr.Raw)) || !strings.HasPrefix(string(pr.Raw), "<mms ") || !strings.HasSuffix(string(pr.Raw), "</mms>") {
		t.Fatalf("Raw=%q, want the element's exact bytes", pr.Raw)
	}

	calls := `<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>
<calls count="3">
  <call number="0987000002" duration="33" date="1793592000000" type="1" readable_date="Nov 2, 2026" contact_name="(Unknown)" />
  <call number="0987000003" duration="0" date="1793592060000" type="3" readable_date="Nov 2, 2026" contact_name="(Unknown)" />
  <call number="0987000004" duration="12" date="1793592120000" type="2" readable_date="Nov 2, 2026" contact_name="(Unknown)" />
</calls>
`
	st, err := f.in.SMSXML(context.Background(), strings.NewReader(calls), "/phone/calls.xml", number, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Recorded != 2 || st.Skipped != 1 {
		t.Fatalf("calls: Recorded=%d Skipped=%d, want 2 (incoming, missed) and 1 (outgoing)", st.Recorded, st.Skipped)
	}
}

func TestSMSXMLBadInput(t *testing.T) {
	f := newPhoneFixture(t)
	number := f.token(t, canary.LocaleVietnam, "shipping phone").Value
	ms := time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC).UnixMilli()
	good := smsRecord(ms, "1", "0987654321", "hello")
	full := smsFile(good, smsRecord(ms+1, "1", "0987654321", "second"))
	tests := []struct {
		name, data, want string
	}{
		{"truncated in a record", full[:len(full)-60], "truncated"},
		{"truncated after a record", full[:strings.Index(full, "second")+20], "truncated"},
		{"not xml", "hello, world", "not"},
		{"another root", "<?xml version='1.0'?><html><body/></html>", "not an SMS Backup"},
		{"declared gb18030", "<?xml version='1.0' encoding='GB18030'?><smses count=\"0\"></smses>", "iconv"},
		{"invalid utf-8", smsFile(smsRecord(ms, "1", "0987", "caf\xe9")), "UTF-8"},
		{"date not a number", smsFile(strings.Replace(good, fmt.Sprint(ms), "yesterday", 1)), "milliseconds"},
		{"in the future", smsFile(smsRecord(phoneTestNow.Add(48*time.Hour).UnixMilli(), "1", "0987", "later")), "future"},
		{"empty file", "", "no <smses>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := f.db.Contacts(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.in.SMSXML(context.Background(), strings.NewReader(tt.data), "/phone/bad.xml", number, false, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err=%v, want one saying %q", err, tt.want)
			}
			if !errors.Is(err, canary.ErrInvalid) {
				t.Fatalf("err=%v, want canary.ErrInvalid", err)
			}
			after, err := f.db.Contacts(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(after) != len(before) {
				t.Fatalf("contacts %d -> %d: a bad file must store nothing", len(before), len(after))
			}
		})
	}
}

func TestSMSXMLSurrogateReferences(t *testing.T) {
	f := newPhoneFixture(t)
	number := f.token(t, canary.LocaleVietnam, "shipping phone").Value
	// Some phones write an emoji as its two UTF-16 halves, which XML forbids.
	rec := `<sms protocol="0" address="0987654321" date="1793592000000" type="1" body="Gift &#55357;&#56832; for order 2610017788" read="1" />`
	var got ingest.PhoneRecord
	if _, err := f.in.SMSXML(context.Background(), strings.NewReader(smsFile(rec)), "/phone/emoji.xml", number, false, func(r ingest.PhoneRecord, _ *ingest.Recorded) error {
		got = r
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if string(got.Raw) != rec {
		t.Fatalf("Raw=%q, want the bytes as written %q", got.Raw, rec)
	}
	if got.Contact.Text != "Gift \uFFFD\uFFFD for order 2610017788" {
		t.Fatalf("Text=%q, want the halves read as U+FFFD", got.Contact.Text)
	}
}

// The shared corpus holds real exports, an empty one and one with corrupt
// attachments: every one is read, the empty one records nothing.
func TestSMSXMLCorpus(t *testing.T) {
	dir := "../../shared/corpora/sms-export-formats/sms-backup-restore-xml"
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.xml"))
	if len(files) == 0 {
		t.Skipf("shared corpora not found at %s (CI keeps ../shared beside the checkout)", dir)
	}
	f := newPhoneFixture(t)
	number := f.token(t, canary.LocaleUS, "shipping phone").Value
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var problems []string
			truncated := filepath.Base(file) == "sms_and_mms.xml" // cut short upstream
			if truncated {
				if _, err := f.in.SMSXML(context.Background(), bytes.NewReader(data), file, number, false, nil); err == nil || !strings.Contains(err.Error(), "truncated") {
					t.Fatalf("err=%v, want the truncation named", err)
				}
			}
			st, err := f.in.SMSXML(context.Background(), bytes.NewReader(data), file, number, truncated, func(r ingest.PhoneRecord, rec *ingest.Recorded) error {
				if !bytes.Contains(data, r.Raw) || !bytes.Equal(data[r.Start:r.End], r.Raw) {
					t.Fatalf("line %d: raw is not the file's bytes %d-%d", r.Line, r.Start, r.End)
				}
				problems = append(problems, r.Problems...)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			switch filepath.Base(file) {
			case "empty.xml":
				if st.Records != 0 {
					t.Fatalf("empty.xml: Records=%d, want 0", st.Records)
				}
			case "sms_and_mms.xml":
				if st.Damaged == "" || st.Records == 0 {
					t.Fatalf("Damaged=%q Records=%d, want the records before the cut and the cut named", st.Damaged, st.Records)
				}
			case "corrupt_attachments.xml":
				if st.Recorded+st.Duplicates != 2 || len(problems) != 2 {
					t.Fatalf("corrupt_attachments.xml: recorded=%d problems=%q, want 2 texts, each attachment named", st.Recorded+st.Duplicates, problems)
				}
			default:
				if st.Records == 0 {
					t.Fatalf("Records=0, want some")
				}
			}
		})
	}
}

func FuzzSMSXMLReader(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "smsxml", "*.xml"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		read := func() ([]*ingest.PhoneRecord, error) {
			x := ingest.NewSMSXMLReader(bytes.NewReader(data), "+84912000001", "fuzz.xml", 1<<20)
			var out []*ingest.PhoneRecord
			for {
				r, err := x.Next()
				if err == io.EOF {
					return out, nil
				}
				if err != nil {
					return out, err
				}
				if r.Start < 0 || r.End > int64(len(data)) || r.Start > r.End || !bytes.Equal(data[r.Start:r.End], r.Raw) {
					t.Fatalf("record at line %d: raw is not the input's bytes %d-%d", r.Line, r.Start, r.End)
				}
				out = append(out, r)
				if len(out) > len(data) {
					t.Fatal("more records than bytes")
				}
			}
		}
		a, errA := read()
		b, errB := read()
		if len(a) != len(b) || (errA == nil) != (errB == nil) {
			t.Fatalf("not deterministic: %d/%v then %d/%v", len(a), errA, len(b), errB)
		}
		if errA != nil && !errors.Is(errA, canary.ErrInvalid) {
			t.Fatalf("error %v is not canary.ErrInvalid", errA)
		}
	})
}
