package norm

import (
	"slices"
	"testing"
)

// checkPriceMarks compares markBefore and markAfter with the regexps they
// guard, at every position of s and from several starts.
func checkPriceMarks(t *testing.T, s string) {
	t.Helper()
	for i := range len(s) + 1 {
		for _, lo := range []int{max(0, i-64), max(0, i-8), max(0, i-2), max(0, i-1), i} {
			if got, want := markBefore(s, lo, i), pricePrefixRe.FindStringSubmatchIndex(s[lo:i]); !slices.Equal(got, want) {
				t.Fatalf("markBefore(%q, %d, %d)=%v, regexp %v", s, lo, i, got, want)
			}
		}
		if i == len(s) || !isASCIIDigit(rune(s[i])) {
			continue // markAfter is called at digits only
		}
		for _, hi := range []int{len(s), min(len(s), i+96), min(len(s), i+3), i + 1} {
			if got, want := markAfter(s, i, hi), priceAfterRe.FindStringSubmatchIndex(s[i:hi]); !slices.Equal(got, want) {
				t.Fatalf("markAfter(%q, %d, %d)=%v, regexp %v", s, i, hi, got, want)
			}
		}
	}
}

func TestPriceMarks(t *testing.T) {
	for _, s := range refSeeds(t) {
		checkPriceMarks(t, newScanText(s).s)
	}
	for _, s := range []string{
		"usd 5", "usd  5", "us$5", "vnđ5", "₫5", "€ 5", "5  đ", "5 k đ", "5k  đ", "5   đ", "5.", "5.5.", "5,5 trieu",
		"1.5万元", "68元5角3分", "5d", "5 dollars", "5 dollar", "$", "5", "5 ", "5  ", "x5 gbp", "12.345,67 eur",
	} {
		checkPriceMarks(t, s)
	}
}

func FuzzPriceMarks(f *testing.F) {
	for _, s := range refSeeds(f) {
		f.Add(newScanText(s).s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkPriceMarks(t, s)
	})
}
