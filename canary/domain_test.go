package canary_test

import (
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
