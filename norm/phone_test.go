package norm_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"

	"github.com/leaktrace/leaktrace/norm"
)

func TestPhoneE164(t *testing.T) {
	tests := []struct {
		in, region, want string
		wantErr          string // substring of the error; "" for none
	}{
		{"+84 912 345 678", "VN", "+84912345678", ""},
		{"0912345678", "VN", "+84912345678", ""},
		{"0912.345.678", "VN", "+84912345678", ""},
		{"0912-345-678", "VN", "+84912345678", ""},
		{"(+84) 912345678", "VN", "+84912345678", ""},
		{"84912345678", "VN", "+84912345678", ""},
		{"0084912345678", "VN", "+84912345678", ""},
		{"０９１２３４５６７８", "VN", "+84912345678", ""},
		{" 0912345678 ", "vn", "+84912345678", ""},
		{"+86 138 0013 8000", "VN", "+8613800138000", ""},
		{"+86 138 0013 8000", "CN", "+8613800138000", ""},
		{"13800138000", "CN", "+8613800138000", ""},
		{"(415) 555-2671", "US", "+14155552671", ""},
		{"+1 415-555-2671", "VN", "+14155552671", ""},
		{"028 3812 3456", "VN", "+842838123456", ""},
		{"12345", "VN", "", `phone "12345": not a valid number for region VN`},
		{"", "VN", "", `phone "": empty`},
		{"   ", "VN", "", "empty"},
		{"0912345678 ext 12", "VN", "", "unexpected character"},
		{"1-800-FLOWERS", "US", "", "unexpected character"},
		{"0912345678", "", "", `phone "0912345678"`},
		{"13800138000", "VN", "", "not a valid number for region VN"},
		{"240512091234567812", "VN", "", "too long"},
	}
	for _, tt := range tests {
		got, err := norm.PhoneE164(tt.in, tt.region)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("PhoneE164(%q, %q) error %v", tt.in, tt.region, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("PhoneE164(%q, %q) error %v, want one containing %q", tt.in, tt.region, err, tt.wantErr)
		case got != tt.want:
			t.Errorf("PhoneE164(%q, %q)=%q, want %q", tt.in, tt.region, got, tt.want)
		}
	}
}

func TestFindPhones(t *testing.T) {
	full := func(text, e164 string) norm.PhoneMention {
		return norm.PhoneMention{Text: text, E164: e164}
	}
	masked := func(text, prefix, suffix string, hidden, cc int) norm.PhoneMention {
		return norm.PhoneMention{Text: text, Masked: true, Prefix: prefix, Suffix: suffix, Hidden: hidden, CountryCode: cc}
	}
	tests := []struct {
		name, text, region string
		want               []norm.PhoneMention
	}{
		{"international", "Gọi +84 912 345 678 nhé", "VN", []norm.PhoneMention{full("+84 912 345 678", "+84912345678")}},
		{"national forms", "SĐT: 0912345678, 0912.345.678; 0912-345-678", "VN", []norm.PhoneMention{
			full("0912345678", "+84912345678"), full("0912.345.678", "+84912345678"), full("0912-345-678", "+84912345678"),
		}},
		{"country code forms", "(+84) 912345678 hoặc 84912345678 hoặc 0084912345678", "VN", []norm.PhoneMention{
			full("(+84) 912345678", "+84912345678"), full("84912345678", "+84912345678"), full("0084912345678", "+84912345678"),
		}},
		{"full-width", "số ０９１２３４５６７８ nha", "VN", []norm.PhoneMention{full("０９１２３４５６７８", "+84912345678")}},
		{"full-width punctuation", "电话：（＋８６）１３８－００１３－８０００", "CN", []norm.PhoneMention{full("（＋８６）１３８－００１３－８０００", "+8613800138000")}},
		{"chinese adjacent", "请拨打13800138000联系，或+86 138 0013 8000", "CN", []norm.PhoneMention{
			full("13800138000", "+8613800138000"), full("+86 138 0013 8000", "+8613800138000"),
		}},
		{"foreign number in VN text", "call +86 138 0013 8000", "VN", []norm.PhoneMention{full("+86 138 0013 8000", "+8613800138000")}},
		{"us", "Call (415) 555-2671 or +1 415-555-2671 today", "US", []norm.PhoneMention{
			full("(415) 555-2671", "+14155552671"), full("+1 415-555-2671", "+14155552671"),
		}},
		{"landline", "hotline (028) 3812 3456", "VN", []norm.PhoneMention{full("(028) 3812 3456", "+842838123456")}},
		{"enclosing brackets", "(0912345678)", "VN", []norm.PhoneMention{full("0912345678", "+84912345678")}},
		{"two numbers side by side", "0912345678 0987654321", "VN", []norm.PhoneMention{
			full("0912345678", "+84912345678"), full("0987654321", "+84987654321"),
		}},
		{"two numbers joined by a dash", "0912345678-0987654321", "VN", []norm.PhoneMention{
			full("0912345678", "+84912345678"), full("0987654321", "+84987654321"),
		}},
		{"word after", "0912345678 xin chào", "VN", []norm.PhoneMention{full("0912345678", "+84912345678")}},
		{"invalid utf-8 around", "\xff0912345678\xfe", "VN", []norm.PhoneMention{full("0912345678", "+84912345678")}},
		{"masked chinese", "尾号138****5678的用户", "CN", []norm.PhoneMention{masked("138****5678", "138", "5678", 4, 86)}},
		{"masked trunk", "SĐT 0912***678 của chị", "VN", []norm.PhoneMention{masked("0912***678", "912", "678", 3, 84)}},
		{"masked x", "số +84 91x xxx 678 nhé", "VN", []norm.PhoneMention{masked("+84 91x xxx 678", "91", "678", 4, 84)}},
		{"masked spaced", "0912 *** 678", "VN", []norm.PhoneMention{masked("0912 *** 678", "912", "678", 3, 84)}},
		{"masked full-width", "１３８＊＊＊＊５６７８", "CN", []norm.PhoneMention{masked("１３８＊＊＊＊５６７８", "138", "5678", 4, 86)}},
		{"masked then full", "0912***678 0987654321", "VN", []norm.PhoneMention{
			masked("0912***678", "912", "678", 3, 84), full("0987654321", "+84987654321"),
		}},
		{"order number", "Mã đơn 240512091234567812 đã giao", "VN", nil},
		{"order number cn", "订单号2026110110050001已发货", "CN", nil},
		{"glued to letters", "DH0912345678 0912345678abc SPXVN0912345678", "VN", nil},
		{"order and email markers", "#0912345678 0912345678@gmail.com", "VN", nil},
		{"price", "1.250.000đ và 12.345.678đ", "VN", nil},
		{"grouped big number", "12.345.678.901.234", "VN", nil},
		{"date", "2026-11-01 01.11.2026 2026.11.01", "CN", nil},
		{"dash-joined short groups", "240512-0912345678", "VN", nil},
		{"too few visible digits", "09*****678 0912***67 0912*678", "VN", nil},
		{"short number", "mã OTP 482913", "VN", nil},
		{"empty", "", "VN", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := norm.FindPhones(tt.text, tt.region)
			if len(got) != len(tt.want) {
				t.Fatalf("FindPhones(%q, %q)=%+v, want %+v", tt.text, tt.region, got, tt.want)
			}
			from := 0
			for i, w := range tt.want {
				w.Start = from + strings.Index(tt.text[from:], w.Text)
				w.End = w.Start + len(w.Text)
				from = w.End
				if got[i] != w {
					t.Errorf("FindPhones(%q, %q)[%d]=%+v, want %+v", tt.text, tt.region, i, got[i], w)
				}
			}
		})
	}
}

func TestMaskedMatches(t *testing.T) {
	mention := func(text, region string) norm.PhoneMention {
		t.Helper()
		ms := norm.FindPhones(text, region)
		if len(ms) != 1 {
			t.Fatalf("FindPhones(%q, %q)=%+v, want one mention", text, region, ms)
		}
		return ms[0]
	}
	tests := []struct {
		text, region, e164 string
		want               bool
	}{
		{"138****5678", "CN", "+8613800005678", true},
		{"138****5678", "CN", "+8613812345678", true},
		{"138****5678", "CN", "+8613912345678", false}, // prefix differs
		{"138****5678", "CN", "+8613812345679", false}, // suffix differs
		{"138****5678", "CN", "+841385678", false},     // other country
		{"0912***678", "VN", "+84912345678", true},
		{"0912***678", "VN", "+84912345679", false},
		{"0912***678", "VN", "+849123345678", false}, // one digit too many hidden
		{"+84 91x xxx 678", "VN", "+84912345678", true},
		{"0912 *** 678", "VN", "+84912345678", true},
		{"0912 *** 678", "VN", "not a number", false},
		{"0912345678", "VN", "+84912345678", true}, // a full mention matches its own number
		{"0912345678", "VN", "+84987654321", false},
	}
	for _, tt := range tests {
		m := mention(tt.text, tt.region)
		if got := norm.MaskedMatches(m, tt.e164); got != tt.want {
			t.Errorf("MaskedMatches(%q, %q)=%v, want %v", tt.text, tt.e164, got, tt.want)
		}
	}
	// A mention made by hand, with the hidden count unknown.
	m := norm.PhoneMention{Masked: true, Prefix: "912", Suffix: "678"}
	for _, tt := range []struct {
		e164 string
		want bool
	}{
		{"+84912345678", true},
		{"+849123345678", true},
		{"+86912678", false}, // nothing hidden
	} {
		if got := norm.MaskedMatches(m, tt.e164); got != tt.want {
			t.Errorf("MaskedMatches(%+v, %q)=%v, want %v", m, tt.e164, got, tt.want)
		}
	}
}

var regions = []string{"VN", "CN", "US"}

func FuzzFindPhones(f *testing.F) {
	for i, s := range append(readLines(f, "phones.txt"), readFile(f, "mixed.txt")) {
		f.Add(s, uint8(i))
	}
	f.Fuzz(func(t *testing.T, text string, r uint8) {
		region := regions[int(r)%len(regions)]
		got := norm.FindPhones(text, region)
		end := 0
		for _, m := range got {
			if m.Start < end || m.Start >= m.End || m.End > len(text) {
				t.Fatalf("FindPhones(%q, %q): mention %+v out of order or bounds", text, region, m)
			}
			end = m.End
			if m.Text != text[m.Start:m.End] {
				t.Fatalf("FindPhones(%q, %q): Text=%q, want %q", text, region, m.Text, text[m.Start:m.End])
			}
			if m.Masked {
				if m.E164 != "" || len(m.Prefix) < 2 || len(m.Suffix) < 3 || m.Hidden < 2 {
					t.Fatalf("FindPhones(%q, %q): bad masked mention %+v", text, region, m)
				}
				continue
			}
			if !strings.HasPrefix(m.E164, "+") {
				t.Fatalf("FindPhones(%q, %q): E164=%q, want a leading +", text, region, m.E164)
			}
			n, err := phonenumbers.Parse(m.E164, "")
			if err != nil || !phonenumbers.IsValidNumber(n) {
				t.Fatalf("FindPhones(%q, %q): E164=%q is not a valid number (%v)", text, region, m.E164, err)
			}
		}
	})
}

func BenchmarkFindPhones(b *testing.B) {
	text := readFile(b, "mixed.txt")
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		norm.FindPhones(text, "VN")
	}
}

func readFile(tb testing.TB, name string) string {
	tb.Helper()
	s, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatalf("read %s: %v", name, err)
	}
	return string(s)
}
