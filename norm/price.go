package norm

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Price is an amount of money in the currency's minor unit: cents for CNY,
// USD, EUR and GBP (68.50 CNY is 6850), whole đồng for VND, which has no
// minor unit in use (68.500đ is 68500).
type Price struct {
	Amount   int64
	Currency string // ISO 4217 code
}

// minorDigits is how many decimal digits a currency's minor unit takes.
func minorDigits(currency string) int {
	switch currency {
	case "VND", "JPY", "KRW":
		return 0
	}
	return 2
}

// Key returns the canonical form of p, for matching and display:
// "CNY 68.50", "VND 68500", "USD 12.99".
func (p Price) Key() string {
	d := minorDigits(p.Currency)
	if d == 0 {
		return fmt.Sprintf("%s %d", p.Currency, p.Amount)
	}
	sign, a := "", p.Amount
	if a < 0 {
		sign, a = "-", -a
	}
	unit := int64(1)
	for range d {
		unit *= 10
	}
	return fmt.Sprintf("%s %s%d.%0*d", p.Currency, sign, a/unit, d, a%unit)
}

// PriceMention is a price found in free text: Text is text[Start:End].
type PriceMention struct {
	Price      Price
	Text       string
	Start, End int
}

// The price grammar works on scanText, so it is lower case, full-width forms
// are ASCII (￥ is ¥), and Vietnamese words have lost their tone marks but
// kept đ. A number is digits with single "." or "," between them; which of
// those are thousands separators is decided by parseAmount.
const (
	priceNum = `[0-9](?:[0-9]|[.,][0-9])*`
	// Currency marks before a number, after it, and multipliers, as
	// alternatives (priceMarkEnds and priceMarkStarts are read off them).
	priceMarksBefore = `us\$|rmb|cny|usd|eur|gbp|vnđ|vnd|\$|¥|€|£|₫`
	priceMarksAfter  = `đong|dong|vnđ|vnd|đ|₫|元|块|圆|rmb|cny|usd|eur|gbp|dollars|dollar|€|¥|\$|£|d`
	priceMults       = `k|nghin|ngan|trieu|ty|ti|万`
	priceWords       = `nghin|ngan|trieu|ty|ti`
	// Prefix forms: "¥68.50", "US$12.99", "RMB 68.50", "VND 68,500".
	pricePrefix = `(` + priceMarksBefore + `) ?(` + priceNum + `)`
	// Suffix forms: "68.5元", "68元5角", "68.500đ", "68k đ", "1,5 triệu
	// đồng", "1.5万元", "12.99 USD".
	priceSuffix = `(` + priceNum + `) ?(` + priceMults + `)? ?` +
		`(` + priceMarksAfter + `)` +
		`(?:([0-9])角(?:([0-9])分)?)?`
	// Vietnamese counting words name đồng on their own: "68 nghìn".
	priceWord = `(` + priceNum + `) ?(` + priceWords + `)`
	priceAny  = pricePrefix + `|` + priceSuffix + `|` + priceWord
)

// Submatch indexes into a priceRe match.
const (
	pmPreCur = 1 + iota
	pmPreNum
	pmSufNum
	pmSufMul
	pmSufCur
	pmJiao
	pmFen
	pmWordNum
	pmWordMul
)

var (
	// Compiled regexps are immutable and safe for concurrent use.
	priceWholeRe = regexp.MustCompile(`^(?:` + priceAny + `)$`)
	bareNumRe    = regexp.MustCompile(`^` + priceNum + ` ?k?$`)
)

// ParsePrice reads one price written by a person. The currency must be
// marked, by a sign or code before ("¥68.50", "$12.99", "US$12.99",
// "RMB 68.50") or by a sign, code or word after ("68.5元", "68.500đ",
// "68,500 VND", "68.500 VNĐ", "12.99 USD", "68 nghìn"); a bare number is an
// error. "k" means a thousand only for đồng ("68k đ"), so "68k" alone is an
// error too.
//
// Separators: for VND a "." or "," followed by exactly three digits groups
// thousands ("1.250.000đ" is 1250000 VND) and a lone one followed by one or
// two digits is a decimal point, which only a multiplier can make whole
// ("1,5 triệu"). For other currencies "." is the decimal point and ","
// groups thousands, except that a lone "," followed by one or two digits is a
// decimal comma ("12,99 €"). With both present the last is the decimal
// point. Digits beyond the minor unit must be zeros.
func ParsePrice(s string) (Price, error) {
	t := strings.TrimSpace(s)
	st := newScanText(t)
	m := priceWholeRe.FindStringSubmatchIndex(st.s)
	if m == nil {
		if bareNumRe.MatchString(st.s) && strings.HasSuffix(st.s, "k") {
			return Price{}, fmt.Errorf("price %q: no currency; k means a thousand đồng only before đ or VND (68k đ)", s)
		}
		if bareNumRe.MatchString(st.s) {
			return Price{}, fmt.Errorf("price %q: no currency; write it as ¥68.50, 68.5元, 68.500đ, 68k đ, $12.99 or 12.99 USD", s)
		}
		return Price{}, fmt.Errorf("price %q: not a price; write it as ¥68.50, 68.5元, 68.500đ, 68k đ, $12.99 or 12.99 USD", s)
	}
	p, err := priceFromMatch(st.s, m)
	if err != nil {
		return Price{}, fmt.Errorf("price %q: %w", s, err)
	}
	return p, nil
}

// FindPrices returns every currency-marked amount in text, in order. It reads
// the forms ParsePrice does, with the same separator rules, and skips
// amounts that do not parse. A sign or code glued to a word is not a
// currency mark ("2 đơn hàng" has no price), nor is a number glued to a
// letter or inside a longer number. Scan.Prices is FindPrices on a text
// already prepared for several finders.
func FindPrices(text string) []PriceMention {
	return findPrices(newScanText(text))
}

func findPrices(st scanText) []PriceMention {
	text := st.text
	var out []PriceMention
	for _, m := range findNumeric(st.s, st.runs, func(m []int) bool { return priceBoundaries(st.s, m) }) {
		p, err := priceFromMatch(st.s, m)
		if err != nil {
			continue
		}
		start, end := st.orig(m[0], m[1])
		// A match that begins or ends inside one written character (½
		// folds to 1⁄2) is not what the text says: keep only mentions that
		// read back as the same price.
		if again, err := ParsePrice(text[start:end]); err != nil || again != p {
			continue
		}
		out = append(out, PriceMention{Price: p, Text: text[start:end], Start: start, End: end})
	}
	return out
}

// Anchored pieces of the price grammar, tried only where a number starts:
// Go's regexp backtracker costs the input's length times the program's size
// for every start position, which over a long mail body made a plain search
// the slowest part of matching.
var (
	priceAfterRe  = regexp.MustCompile(`^(?:` + priceSuffix + `|` + priceWord + `)`)
	pricePrefixRe = regexp.MustCompile(`(` + priceMarksBefore + `) ?$`)
	priceNumRe    = regexp.MustCompile(`^` + priceNum)
)

// findNumeric finds price matches, in priceRe's group numbering, at the
// start of every run of digits (runs, from scanText) not inside an earlier
// match: a currency mark before it, or a suffix form from it.
func findNumeric(s string, runs []int, ok func(m []int) bool) [][]int {
	var out [][]int
	last := 0
	for _, i := range runs {
		if i < last {
			continue
		}
		if m := priceAt(s, i, last, ok); m != nil {
			out = append(out, m)
			last = m[1]
		}
	}
	return out
}

// priceAt returns the price match whose number starts at i that ok
// accepts, a currency mark before the number first, or nil.
func priceAt(s string, i, last int, ok func(m []int) bool) []int {
	blank := func() []int {
		m := make([]int, 2*(pmWordMul+1))
		for k := range m {
			m[k] = -1
		}
		return m
	}
	lo := max(last, i-8)
	if p := markBefore(s, lo, i); p != nil {
		if n := priceNumRe.FindStringIndex(s[i:]); n != nil {
			m := blank()
			m[0], m[1] = lo+p[0], i+n[1]
			m[2*pmPreCur], m[2*pmPreCur+1] = lo+p[2], lo+p[3]
			m[2*pmPreNum], m[2*pmPreNum+1] = i, i+n[1]
			if ok(m) {
				return m
			}
		}
	}
	m := blank()
	a := markAfter(s, i, min(len(s), i+96))
	if a == nil {
		return nil
	}
	m[0], m[1] = i+a[0], i+a[1]
	// priceAfterRe's groups are priceRe's from pmSufNum on.
	for k := 1; 2*k+1 < len(a); k++ {
		if a[2*k] >= 0 {
			m[2*(pmSufNum+k-1)], m[2*(pmSufNum+k-1)+1] = i+a[2*k], i+a[2*k+1]
		}
	}
	if !ok(m) {
		return nil
	}
	return m
}

// findInWindow finds the matches of re in s[lo:hi] that ok accepts, with
// offsets into s. After a refused match the search resumes one code point
// after where it began, so a refused match cannot hide an accepted one that
// overlaps it. The patterns passed here use no anchors, which would misread
// the restarted search.
func findInWindow(re *regexp.Regexp, s string, lo, hi int, ok func(m []int) bool) [][]int {
	var out [][]int
	for pos := lo; pos < hi; {
		m := re.FindStringSubmatchIndex(s[pos:hi])
		if m == nil {
			break
		}
		for k := range m {
			if m[k] >= 0 {
				m[k] += pos
			}
		}
		if m[1] > m[0] && ok(m) {
			out = append(out, m)
			pos = m[1]
			continue
		}
		_, w := utf8.DecodeRuneInString(s[m[0]:])
		pos = m[0] + max(w, 1)
	}
	return out
}

// priceBoundaries reports whether match m stands apart from the words and
// numbers around it.
func priceBoundaries(s string, m []int) bool {
	if m[0] > 0 {
		prev, w := utf8.DecodeLastRuneInString(s[:m[0]])
		first, _ := utf8.DecodeRuneInString(s[m[0]:])
		if isLatinLetter(first) || isASCIIDigit(first) {
			// A code or number must not continue a word or number.
			if isLatinLetter(prev) || isASCIIDigit(prev) {
				return false
			}
			if (prev == '.' || prev == ',') && m[0]-w > 0 {
				pp, _ := utf8.DecodeLastRuneInString(s[:m[0]-w])
				if isASCIIDigit(pp) {
					return false
				}
			}
		}
	}
	if m[1] < len(s) {
		last, _ := utf8.DecodeLastRuneInString(s[:m[1]])
		next, _ := utf8.DecodeRuneInString(s[m[1]:])
		if (isLatinLetter(last) || isASCIIDigit(last)) && (isLatinLetter(next) || isASCIIDigit(next)) {
			return false
		}
	}
	return true
}

func sub(s string, m []int, k int) string {
	if m[2*k] < 0 {
		return ""
	}
	return s[m[2*k]:m[2*k+1]]
}

// priceFromMatch turns a priceRe (or priceWholeRe) match into a Price.
func priceFromMatch(s string, m []int) (Price, error) {
	var num, mul, mark string
	switch {
	case m[2*pmPreNum] >= 0:
		num, mark = sub(s, m, pmPreNum), sub(s, m, pmPreCur)
	case m[2*pmSufNum] >= 0:
		num, mul, mark = sub(s, m, pmSufNum), sub(s, m, pmSufMul), sub(s, m, pmSufCur)
	default:
		num, mul, mark = sub(s, m, pmWordNum), sub(s, m, pmWordMul), "đ"
	}
	// Texts typed without diacritics write đ as d ("312.000d", "50kd"). A
	// bare d also ends "5d" (days), so it counts only after a thousands group
	// or k.
	if mark == "d" && mul != "k" && !thousandsGrouped(num) {
		return Price{}, errors.New("d is read as đồng only after a thousands group (312.000d) or k (50kd)")
	}
	cur := currencyOf(mark)
	factor := int64(1)
	switch mul {
	case "":
	case "k", "nghin", "ngan":
		factor = 1_000
	case "trieu":
		factor = 1_000_000
	case "ty", "ti":
		factor = 1_000_000_000
	case "万":
		factor = 10_000
	}
	switch {
	case mul == "万" && cur != "CNY":
		return Price{}, errors.New("万 is read only before 元")
	case mul != "" && mul != "万" && cur != "VND":
		return Price{}, fmt.Errorf("%s is read only for đồng", mul)
	}
	amount, err := parseAmount(num, cur, factor)
	if err != nil {
		return Price{}, err
	}
	if jiao := sub(s, m, pmJiao); jiao != "" {
		if cur != "CNY" || mul != "" || strings.ContainsAny(num, ".,") {
			return Price{}, errors.New("角 follows only a whole number of 元")
		}
		fen := sub(s, m, pmFen)
		if fen == "" {
			fen = "0"
		}
		amount += int64(jiao[0]-'0')*10 + int64(fen[0]-'0')
	}
	return Price{Amount: amount, Currency: cur}, nil
}

func currencyOf(mark string) string {
	switch mark {
	case "$", "us$", "usd", "dollar", "dollars":
		return "USD"
	case "¥", "rmb", "cny", "元", "块", "圆":
		// ¥ is also the yen sign; in the texts we read it is the yuan.
		return "CNY"
	case "€", "eur":
		return "EUR"
	case "£", "gbp":
		return "GBP"
	}
	return "VND"
}

// parseAmount reads num, digits with "." and "," separators, as an amount of
// currency in minor units, multiplied by factor; see ParsePrice for the
// separator rules.
func parseAmount(num, currency string, factor int64) (int64, error) {
	dots, commas := strings.Count(num, "."), strings.Count(num, ",")
	intPart, frac := num, ""
	var thousands byte
	switch {
	case dots > 0 && commas > 0:
		i := strings.LastIndexAny(num, ".,")
		intPart, frac = num[:i], num[i+1:]
		thousands = '.'
		if num[i] == '.' {
			thousands = ','
		}
		if strings.Count(intPart, string(num[i])) > 0 {
			return 0, fmt.Errorf("amount %s: %q used for both thousands and decimals", num, num[i])
		}
	case dots+commas > 1:
		thousands = '.'
		if commas > 0 {
			thousands = ','
		}
	case dots+commas == 1:
		i := strings.IndexAny(num, ".,")
		after := len(num) - i - 1
		groups := after == 3 && (currency == "VND" || num[i] == ',')
		if groups {
			thousands = num[i]
		} else {
			intPart, frac = num[:i], num[i+1:]
		}
	}
	if thousands != 0 {
		parts := strings.Split(intPart, string(thousands))
		for k, p := range parts {
			if k == 0 && len(p) > 3 || k > 0 && len(p) != 3 {
				return 0, fmt.Errorf("amount %s: digits grouped irregularly", num)
			}
		}
		intPart = strings.Join(parts, "")
	}
	digits := intPart + frac
	if len(digits) > 18 {
		return 0, fmt.Errorf("amount %s: too many digits", num)
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("amount %s: %w", num, err)
	}
	// v has len(frac) decimals; scale it to minor units times factor.
	v, ok := mulInt64(v, factor)
	if !ok {
		return 0, fmt.Errorf("amount %s: too large", num)
	}
	shift := minorDigits(currency) - len(frac)
	for ; shift > 0; shift-- {
		if v, ok = mulInt64(v, 10); !ok {
			return 0, fmt.Errorf("amount %s: too large", num)
		}
	}
	for ; shift < 0; shift++ {
		if v%10 != 0 {
			return 0, fmt.Errorf("amount %s: finer than the smallest unit of %s", num, currency)
		}
		v /= 10
	}
	return v, nil
}

func mulInt64(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	c := a * b
	if c/b != a || a > 0 && b > 0 && c < 0 {
		return 0, false
	}
	return c, true
}

// thousandsGrouped reports whether num ends in a separator and three digits.
func thousandsGrouped(num string) bool {
	n := len(num)
	return n >= 5 && (num[n-4] == '.' || num[n-4] == ',') && strings.Trim(num[n-3:], "0123456789") == ""
}
