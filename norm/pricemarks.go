package norm

import "strings"

// priceAt tries two regexps at every run of digits, and most runs are not
// prices. A match needs a currency mark or multiplier in a place that one
// byte tells: markBefore and markAfter look at that byte first and run the
// regexp only where it can match, so they give what the regexp gives.

// Bytes that end a mark before a number, and bytes that start a mark or
// multiplier after one, from the alternatives the regexps are built of.
// Both are set once and only read.
var (
	priceMarkEnds   = markBytes(priceMarksBefore, false)
	priceMarkStarts = markBytes(priceMarksAfter+`|`+priceMults+`|`+priceWords, true)
)

// markBytes returns a table of the first (or last) bytes of alternatives,
// a regexp's "a|b|c" of literals with only "$" escaped.
func markBytes(alternatives string, first bool) *[256]bool {
	var t [256]bool
	for _, a := range strings.Split(strings.ReplaceAll(alternatives, `\$`, `$`), "|") {
		if first {
			t[a[0]] = true
		} else {
			t[a[len(a)-1]] = true
		}
	}
	return &t
}

// markBefore is pricePrefixRe.FindStringSubmatchIndex(s[lo:i]). A match
// ends s[lo:i] with a mark and at most one space, so the byte before that
// space must end a mark.
func markBefore(s string, lo, i int) []int {
	j := i
	if j > lo && s[j-1] == ' ' {
		j--
	}
	if j == lo || !priceMarkEnds[s[j-1]] {
		return nil
	}
	return pricePrefixRe.FindStringSubmatchIndex(s[lo:i])
}

// markAfter is priceAfterRe.FindStringSubmatchIndex(s[i:hi]), for a run of
// digits at i. A match is a number, up to two optional spaces (one on
// either side of an optional multiplier), and a multiplier or mark, which
// neither form may leave out. The number can only be the longest one at i:
// a shorter one stops before a digit, or before "." or "," and a digit,
// none of which is a space or starts a mark. So the first byte after the
// longest number and at most two spaces must start a mark or multiplier.
func markAfter(s string, i, hi int) []int {
	j := i + 1
	for j < hi {
		if isASCIIDigit(rune(s[j])) {
			j++
		} else if (s[j] == '.' || s[j] == ',') && j+1 < hi && isASCIIDigit(rune(s[j+1])) {
			j += 2
		} else {
			break
		}
	}
	for n := 0; n < 2 && j < hi && s[j] == ' '; n++ {
		j++
	}
	if j == hi || !priceMarkStarts[s[j]] {
		return nil
	}
	return priceAfterRe.FindStringSubmatchIndex(s[i:hi])
}
