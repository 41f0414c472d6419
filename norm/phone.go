package norm

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// Limits on a phone number written in text. E.164 allows 15 digits after the
// country code; 17 leaves room for an international prefix such as 00.
const (
	minPhoneDigits = 7
	maxPhoneDigits = 17
)

// Visible digits a masked number needs before it counts. Two on the left is
// what "+84 91x xxx 678" shows after its country code; three on the right is
// what masking schemes in the wild keep at least. Two or more hidden
// characters keep "0912345678 x2" (an extension, or a count) out.
const (
	minMaskedPrefix = 2
	minMaskedSuffix = 3
	maxMaskedSuffix = 5
	maxMaskedLead   = 8 // written digits before the mask, prefixes included
	minMaskedHidden = 2
)

// PhoneE164 returns s, a single phone number written in any usual way, in
// E.164 form ("+84912345678"). region is the ISO 3166 country ("VN", "CN",
// "US") used for numbers written without a country code. The number must be
// valid by libphonenumber's metadata, not merely the right length.
func PhoneE164(s, region string) (string, error) {
	region = strings.ToUpper(strings.TrimSpace(region))
	t := strings.TrimSpace(s)
	if t == "" {
		return "", fmt.Errorf("phone %q: empty", s)
	}
	for _, r := range t {
		if _, ok := digitValue(r); ok || isPhonePunct(r) {
			continue
		}
		return "", fmt.Errorf("phone %q: unexpected character %q", s, r)
	}
	n, err := phonenumbers.Parse(t, region)
	if err != nil {
		return "", fmt.Errorf("phone %q: %w", s, err)
	}
	if !phonenumbers.IsValidNumber(n) {
		return "", fmt.Errorf("phone %q: not a valid number for region %s", s, region)
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// isPhonePunct reports whether r may appear between the digits of a number
// given on its own, as on a command line or in a form field.
func isPhonePunct(r rune) bool {
	switch r {
	case '+', '＋', '(', ')', '（', '）', '-', '－', '.', '．', ' ', '\u00a0', '\u3000', '/',
		'\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2212':
		return true
	}
	return false
}

// digitValue reads ASCII and full-width decimal digits.
func digitValue(r rune) (int, bool) {
	switch {
	case '0' <= r && r <= '9':
		return int(r - '0'), true
	case '０' <= r && r <= '９':
		return int(r - '０'), true
	}
	return 0, false
}

// PhoneMention is a phone number found in free text.
type PhoneMention struct {
	// Text is the number as written, text[Start:End] of the searched text.
	Text       string
	Start, End int
	// E164 is set for a full number, "+84912345678".
	E164 string
	// Masked is set for a number with hidden digits ("138****5678");
	// Prefix and Suffix are then its visible leading and trailing digits,
	// the prefix in national significant form (no trunk 0, no country
	// code), so "0912***678" has Prefix "912" and Suffix "678".
	Masked         bool
	Prefix, Suffix string
	// Hidden is how many digits the mask stands for, as written.
	Hidden int
	// CountryCode is the calling code of a masked number: written, or
	// that of the region the text was read for.
	CountryCode int
}

// FindPhones returns every phone number written in text, in order, reading
// numbers without a country code as numbers of region.
//
// A number is digit groups joined by at most three separator characters
// (spaces, dots, dashes, parentheses), optionally led by "+", "(" or an
// international prefix; full-width forms count. Full mentions must be valid
// numbers (phonenumbers.IsValidNumber). Rules that keep other numbers out:
//   - a digit group is never split, so an 18-digit order number gives nothing;
//   - groups joined by a single "." or "-" ("12.345.678", "2026-11-01") are
//     one number unless both sides are long enough (7+ digits) to be numbers;
//   - a group glued to a Latin letter ("DH0912345678", "0912345678abc"),
//     after "#", before "@" or next to "_" is an identifier, not a phone;
//   - a number next to a currency sign is an amount; a d.m.yyyy shape a date.
//
// Chinese text may touch a number directly ("请拨打13800138000联系").
//
// A masked mention needs mask characters (*, x, X, •, ●, ×) in one block,
// at least 2 visible national digits before it, 3 to 5 after it, and at
// least 2 hidden characters, and with the hidden digits filled in it must be
// a possible number for its country.
//
// To run several finders on one text, make a Scan (NewScan) and use its
// methods: the text is then folded once.
func FindPhones(text, region string) []PhoneMention {
	return findPhones(newScanText(text), region, nil)
}

func findPhones(st scanText, region string, shared *PhoneCache) []PhoneMention {
	pp := &phoneParser{region: strings.ToUpper(strings.TrimSpace(region)), shared: shared}
	text, s := st.text, st.s
	var out []PhoneMention
	// A number starts at a digit, or at "+", "(", "(+" or "+(" right
	// before the first digit of a run (startsRun). Its digit groups take in
	// the whole run, and the next number is looked for after them, never
	// inside a run: so only the two bytes before each run and its first
	// digit need trying, in order, and no byte of the text between.
	i := 0 // no number starts before i
	for _, d := range st.runs {
		for p := max(i, d-2); p <= d; p++ {
			if !startsRun(s, p, rune(s[p])) {
				continue
			}
			if groups, next := readPhoneRun(s, p); len(groups) > 0 {
				out = append(out, phonesInRun(text, st, groups, pp)...)
				i = next
				break
			}
		}
	}
	return out
}

// phoneGroup is a maximal run of digits and mask characters in scanText.
type phoneGroup struct {
	start, end int    // folded offsets of the group's characters
	lead       int    // where a mention starting here begins: "+" or "(" before the digits
	plus       bool   // written after a "+"
	chars      string // ASCII digits, with '*' for every mask character
	digits     int
	masks      int
	tight      bool // joined to the group before by a lone "." or "-"
	tainted    bool // glued to a word, so part of an identifier
}

func isMask(r rune) bool {
	switch r {
	case '*', 'x', '×', '•', '●':
		return true
	}
	return false
}

func isASCIIDigit(r rune) bool { return '0' <= r && r <= '9' }

func isPhoneSep(r rune) bool {
	switch r {
	case ' ', '.', '-', '(', ')':
		return true
	}
	return false
}

// startsRun reports whether a number may begin at s[i]: a digit, or "+", "(",
// "(+" or "+(" directly before one.
func startsRun(s string, i int, r rune) bool {
	if isASCIIDigit(r) {
		return true
	}
	if r != '+' && r != '(' {
		return false
	}
	for k := i; k < len(s) && k < i+2; k++ {
		switch {
		case isASCIIDigit(rune(s[k])):
			return true
		case s[k] != '+' && s[k] != '(':
			return false
		}
	}
	return i+2 < len(s) && isASCIIDigit(rune(s[i+2]))
}

// readPhoneRun reads the digit groups of one run starting at s[i] (see
// startsRun) and returns them with the offset just after the run.
func readPhoneRun(s string, i int) ([]phoneGroup, int) {
	var groups []phoneGroup
	pos := i
	for pos < len(s) && (s[pos] == '+' || s[pos] == '(') {
		pos++
	}
	lead, tight := i, false
	for {
		g := phoneGroup{start: pos, lead: lead, tight: tight}
		g.plus = strings.Contains(s[lead:pos], "+")
		var b strings.Builder
	group:
		for pos < len(s) {
			r, w := utf8.DecodeRuneInString(s[pos:])
			switch {
			case isASCIIDigit(r):
				b.WriteRune(r)
				g.digits++
			case isMask(r) && (len(groups) > 0 || g.digits > 0):
				b.WriteByte('*')
				g.masks++
			default:
				break group
			}
			pos += w
		}
		g.end = pos
		g.chars = b.String()
		g.tainted = taintedGroup(s, g)
		groups = append(groups, g)

		// Separators, then the next group if there is one.
		next := pos
		for n := 0; next < len(s) && n < 3 && isPhoneSep(rune(s[next])); n++ {
			next++
		}
		plus := next < len(s) && s[next] == '+'
		if plus {
			next++
		}
		if next == pos || next >= len(s) {
			return groups, pos
		}
		r, _ := utf8.DecodeRuneInString(s[next:])
		if !isASCIIDigit(r) && (plus || !isMask(r)) {
			return groups, pos
		}
		lead = next
		for lead > pos && (s[lead-1] == '(' || s[lead-1] == '+') {
			lead--
		}
		tight = next == pos+1 && (s[pos] == '.' || s[pos] == '-')
		pos = next
	}
}

// taintedGroup reports whether g is glued to a word or marker that makes it
// part of something other than a phone number.
func taintedGroup(s string, g phoneGroup) bool {
	if g.lead > 0 {
		r, _ := utf8.DecodeLastRuneInString(s[:g.lead])
		if isLatinLetter(r) || r == '#' || r == '_' || r == '@' {
			return true
		}
	}
	if g.end < len(s) {
		r, _ := utf8.DecodeRuneInString(s[g.end:])
		if isLatinLetter(r) || r == '_' || r == '@' {
			return true
		}
	}
	return false
}

func isLatinLetter(r rune) bool {
	return r < utf8.RuneSelf && ('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') ||
		r >= utf8.RuneSelf && unicode.Is(unicode.Latin, r)
}

// phonesInRun picks the masked and full numbers out of one run of groups.
func phonesInRun(text string, st scanText, groups []phoneGroup, pp *phoneParser) []PhoneMention {
	used := make([]bool, len(groups))
	var out []PhoneMention
	// Masked numbers first: their visible digit groups would otherwise be
	// tried, and perhaps taken, as parts of full numbers.
	for k := range groups {
		if used[k] || groups[k].masks == 0 || groups[k].tainted {
			continue
		}
		m, lo, hi, ok := maskedSpan(groups, used, k, pp)
		if !ok {
			continue
		}
		setMentionText(&m, text, st, groups[lo].lead, groups[hi].end)
		out = append(out, m)
		for x := lo; x <= hi; x++ {
			used[x] = true
		}
	}
	for i := 0; i < len(groups); i++ {
		if !canStartFull(groups, used, i) {
			continue
		}
		for j := lastFullEnd(groups, used, i); j >= i; j-- {
			if !canEndFull(groups, j) || looksLikeDate(groups[i:j+1]) {
				continue
			}
			e164, ok := validSpan(groups[i:j+1], pp)
			if !ok || nextToCurrency(st.s, groups[i].lead, groups[j].end) {
				continue
			}
			m := PhoneMention{E164: e164}
			setMentionText(&m, text, st, groups[i].lead, groups[j].end)
			out = append(out, m)
			for x := i; x <= j; x++ {
				used[x] = true
			}
			i = j
			break
		}
	}
	slices.SortFunc(out, func(a, b PhoneMention) int { return a.Start - b.Start })
	return out
}

func canStartFull(groups []phoneGroup, used []bool, i int) bool {
	g := groups[i]
	if used[i] || g.masks > 0 || g.tainted {
		return false
	}
	return !g.tight || i == 0 || splittable(groups[i-1], g)
}

func canEndFull(groups []phoneGroup, j int) bool {
	return j == len(groups)-1 || !groups[j+1].tight || splittable(groups[j], groups[j+1])
}

// splittable reports whether a lone "." or "-" between a and b may separate
// two numbers rather than join the parts of one.
func splittable(a, b phoneGroup) bool {
	return a.digits >= minPhoneDigits && b.digits >= minPhoneDigits
}

// lastFullEnd returns the last group a full number starting at group i may
// extend to.
func lastFullEnd(groups []phoneGroup, used []bool, i int) int {
	n := groups[i].digits
	j := i
	for k := i + 1; k < len(groups); k++ {
		g := groups[k]
		if used[k] || g.masks > 0 || g.tainted || g.plus || n+g.digits > maxPhoneDigits {
			break
		}
		n += g.digits
		j = k
	}
	return j
}

func validSpan(groups []phoneGroup, pp *phoneParser) (string, bool) {
	var b strings.Builder
	if groups[0].plus {
		b.WriteByte('+')
	}
	for _, g := range groups {
		b.WriteString(g.chars)
	}
	digits := b.Len()
	if groups[0].plus {
		digits--
	}
	if digits < minPhoneDigits || digits > maxPhoneDigits {
		return "", false
	}
	return pp.validE164(b.String())
}

// looksLikeDate reports whether groups read as a date such as 2026-11-01,
// 01.11.2026 or 2026.11.01, which a phone parser may otherwise accept.
func looksLikeDate(groups []phoneGroup) bool {
	if len(groups) != 3 || !groups[1].tight || !groups[2].tight {
		return false
	}
	a, b, c := groups[0].digits, groups[1].digits, groups[2].digits
	short := func(n int) bool { return n == 1 || n == 2 }
	return a == 4 && short(b) && short(c) || short(a) && short(b) && (c == 4 || c == 2)
}

// nextToCurrency reports whether the folded range [i, j) touches a currency
// sign, which makes it an amount.
func nextToCurrency(s string, i, j int) bool {
	if i > 0 {
		r, _ := utf8.DecodeLastRuneInString(s[:i])
		if strings.ContainsRune("$¥€£₫", r) {
			return true
		}
	}
	if j < len(s) {
		r, _ := utf8.DecodeRuneInString(s[j:])
		if strings.ContainsRune("đ₫元¥€$", r) {
			return true
		}
	}
	return false
}

// maskedSpan finds the groups around masked group k that form one masked
// number: the block of mask characters, up to maxMaskedSuffix digits after
// it, and the widest run of digit groups before it (back to a "+") that
// still reads as a possible number.
func maskedSpan(groups []phoneGroup, used []bool, k int, pp *phoneParser) (PhoneMention, int, int, bool) {
	hi := k
	for hi+1 < len(groups) && groups[hi+1].masks > 0 && !used[hi+1] && !groups[hi+1].tainted && !groups[hi+1].plus {
		hi++
	}
	after := len(groups[hi].chars) - strings.LastIndexByte(groups[hi].chars, '*') - 1
	for hi+1 < len(groups) {
		g := groups[hi+1]
		if used[hi+1] || g.masks > 0 || g.tainted || g.plus || after+g.digits > maxMaskedSuffix {
			break
		}
		after += g.digits
		hi++
	}
	lo := k
	before := strings.IndexByte(groups[k].chars, '*')
	for lo-1 >= 0 && !groups[lo].plus {
		g := groups[lo-1]
		if used[lo-1] || g.masks > 0 || g.tainted || before+g.digits > maxMaskedLead {
			break
		}
		before += g.digits
		lo--
	}
	for ; lo <= k; lo++ {
		if m, ok := maskedMention(groups[lo:hi+1], pp); ok {
			return m, lo, hi, true
		}
	}
	return PhoneMention{}, 0, 0, false
}

// maskedMention reads groups, one masked number, with phonenumbers: it fills
// the hidden digits with zeros and lets the parser strip the trunk prefix or
// country code, so that the prefix comes out in national significant form as
// it would for a full number.
func maskedMention(groups []phoneGroup, pp *phoneParser) (PhoneMention, bool) {
	var b strings.Builder
	if groups[0].plus {
		b.WriteByte('+')
	}
	for _, g := range groups {
		b.WriteString(g.chars)
	}
	written := b.String()
	// One block of mask characters between the visible digits.
	first, last := strings.IndexByte(written, '*'), strings.LastIndexByte(written, '*')
	if first < 0 || strings.Trim(written[first:last+1], "*") != "" {
		return PhoneMention{}, false
	}
	hidden := strings.Count(written, "*")
	suffix := written[strings.LastIndexByte(written, '*')+1:]
	if hidden < minMaskedHidden || len(suffix) < minMaskedSuffix {
		return PhoneMention{}, false
	}
	filled := strings.ReplaceAll(written, "*", "0")
	nsn, countryCode, ok := pp.possibleNSN(filled)
	if !ok {
		return PhoneMention{}, false
	}
	tail := strings.Repeat("0", hidden) + suffix
	if !strings.HasSuffix(nsn, tail) || len(nsn)-len(tail) < minMaskedPrefix {
		return PhoneMention{}, false
	}
	return PhoneMention{
		Masked:      true,
		Prefix:      nsn[:len(nsn)-len(tail)],
		Suffix:      suffix,
		Hidden:      hidden,
		CountryCode: countryCode,
	}, true
}

// setMentionText maps the folded range [i, j) back to text, dropping an
// unmatched "(" at the start or taking in the ")" that closes it.
func setMentionText(m *PhoneMention, text string, st scanText, i, j int) {
	s := st.s
	if strings.Count(s[i:j], "(") > strings.Count(s[i:j], ")") {
		if s[i] == '(' {
			// "(0912345678)": the brackets enclose the number.
			for i < j && s[i] == '(' {
				i++
			}
		} else if j < len(s) && s[j] == ')' {
			j++
		}
	}
	m.Start, m.End = st.orig(i, j)
	m.Text = text[m.Start:m.End]
}

// MaskedMatches reports whether mention m is consistent with the full number
// e164: for a masked mention, the same country, the prefix at the start of the
// national significant number, the suffix at its end and exactly Hidden digits
// between them (any number of at least one when Hidden is 0); for a full
// mention, the same number.
func MaskedMatches(m PhoneMention, e164 string) bool {
	n, err := phonenumbers.Parse(e164, phonenumbers.UNKNOWN_REGION)
	if err != nil {
		return false
	}
	if !m.Masked {
		return m.E164 != "" && m.E164 == phonenumbers.Format(n, phonenumbers.E164)
	}
	if m.CountryCode != 0 && int(n.GetCountryCode()) != m.CountryCode {
		return false
	}
	nsn := phonenumbers.GetNationalSignificantNumber(n)
	hidden := len(nsn) - len(m.Prefix) - len(m.Suffix)
	if hidden < 1 || m.Hidden > 0 && hidden != m.Hidden {
		return false
	}
	return strings.HasPrefix(nsn, m.Prefix) && strings.HasSuffix(nsn, m.Suffix)
}
