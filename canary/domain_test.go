package canary_test

import (
	"strings"
	"testing"

	"github.com/leaktrace/leaktrace/canary"
)

func TestDomainKey(t *testing.T) {
	for in, want := range map[string]string{
		"Canary.Example.":  "canary.example",
		"Bücher.VN":        "xn--bcher-kva.vn",
		"xn--BCHER-kva.vn": "xn--bcher-kva.vn",
		// What IDNA refuses is kept as written, lower-cased, so it still
		// equals itself and nothing else.
		"Bad_Name.vn":     "bad_name.vn",
		"BAD\xffname.vn":  "bad\xffname.vn",
		"BAD\xfename.vn":  "bad\xfename.vn",
		"  spaced.vn  ":   "spaced.vn",
		"ĐẶNG.example.vn": "xn--ng-pma4741a.example.vn",
	} {
		if got := canary.DomainKey(in); got != want {
			t.Errorf("DomainKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAddressKey(t *testing.T) {
	for in, want := range map[string]string{
		"Linh.Tran@Canary.Example": "linh.tran@canary.example",
		"An.Vo@Bücher.vn":          "an.vo@xn--bcher-kva.vn",
		"An.Vo@xn--bcher-kva.VN.":  "an.vo@xn--bcher-kva.vn",
		"me+Tag@Gmail.com":         "me+tag@gmail.com",
		"no-at-sign":               "no-at-sign",
		"M\xfcller@canary.example": "m\xfcller@canary.example",
		"a@b@Canary.Example":       "a@b@canary.example",
	} {
		if got := canary.AddressKey(in); got != want {
			t.Errorf("AddressKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// A name longer than DNS allows is not run through IDNA, whose Punycode
// step would take seconds on it: anyone can write one into a message.
func TestDomainKeyOfOverlongNames(t *testing.T) {
	var b strings.Builder
	for i := range 20000 {
		b.WriteRune(rune(0x4e00 + i%20000))
	}
	long := b.String()
	for _, name := range []string{long + ".vn", "mail." + long, strings.Repeat("ü.", 200) + "vn"} {
		// Unchanged, so IDNA (which would have written xn--) never ran.
		if got := canary.DomainKey(name); got != strings.ToLower(name) {
			t.Errorf("DomainKey of a %d-byte name changed it", len(name))
		}
		if canary.CheckDomainName(name) == nil {
			t.Errorf("CheckDomainName accepted a %d-byte name", len(name))
		}
	}
}

func TestCheckDomainName(t *testing.T) {
	for name, ok := range map[string]bool{
		"canary.example":    true,
		"bücher.vn":         true,
		"xn--bcher-kva.vn":  true,
		"xn--bücher-kva.vn": false, // IDNA would make it xn--bcher-isa8j.vn, another name
		// 43 letters, whose ASCII form is a 65-character label.
		"muabánđồgiadụngchấtlượngcaogiárẻnhấtviệtnam.vn": false,
		strings.Repeat("ü", 60) + ".vn":                  false,
		"a_b.example":                                    false,
		"bad\xff.vn":                                     false,
	} {
		if err := canary.CheckDomainName(name); (err == nil) != ok {
			t.Errorf("CheckDomainName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func TestQuotedDomain(t *testing.T) {
	for in, want := range map[string]string{
		"bücher.vn获取优惠": "bücher.vn",
		"bücher.vn":     "bücher.vn",
		"例子.中国":         "例子.中国",
		"shop.vn。请回复":   "shop.vn。",
		"x.com-안녕":      "x.com",
	} {
		if got := canary.QuotedDomain(in); got != want {
			t.Errorf("QuotedDomain(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAddressText(t *testing.T) {
	for in, want := range map[string]string{
		"an@bücher．vn":       "an@bücher.vn",
		"an＠bücher.vn":       "an@bücher.vn",
		"an@bücher。vn":       "an@bücher.vn",
		"an@bü\u200bcher.vn": "an@bücher.vn",
		"an@bü\u00adcher.vn": "an@bücher.vn",
		"an@bu\u0308cher.vn": "an@bücher.vn", // decomposed, composed
		"Trần Thị Lình":      "Trần Thị Lình",
	} {
		if got := canary.AddressText(in); got != want {
			t.Errorf("AddressText(%q) = %q, want %q", in, got, want)
		}
	}
}
