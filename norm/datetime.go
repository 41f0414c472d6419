package norm

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// dayFirst reports how locale orders the day and month of a numeric date
// such as 01/11: Vietnamese and British-style English put the day first,
// US English and Chinese (which writes 2026/11/01 and 11/01 as month/day) the
// month. ok is false for a locale we do not know, whose numeric dates are
// then left unread rather than guessed.
func dayFirst(locale string) (first, ok bool) {
	lang, region, _ := strings.Cut(strings.ReplaceAll(strings.ToLower(locale), "_", "-"), "-")
	switch lang {
	case "vi":
		return true, true
	case "zh":
		return false, true
	case "en":
		switch region {
		case "", "us", "ph":
			return false, true
		}
		return true, true
	}
	return false, false
}

// parseTimeRe is the ParseTime grammar, on scanText (lower case, ASCII
// digits); the comments number its groups.
var parseTimeRe = regexp.MustCompile(`^(?:` +
	`([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})` + // 1-3 ISO
	`|([0-9]{4})/([0-9]{1,2})/([0-9]{1,2})` + // 4-6 y/m/d
	`|([0-9]{4}) ?年 ?([0-9]{1,2}) ?月 ?([0-9]{1,2}) ?[日号]` + // 7-9
	`|([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})` + // 10-12 locale order
	`)(?:( |t|, ?|)([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?(?: ?(am|pm))?` + // 13-17
	` ?(z|[+-][0-9]{2}:?[0-9]{2})?)?$`) // 18

// ParseTime reads a time a user typed, on a command line or in a form:
//
//	2026-11-01T10:00:00+08:00  RFC 3339, offset kept
//	2026-11-01 10:00           also with T, seconds, or a trailing offset
//	2026-11-01                 midnight
//	2026/11/01 10:00           year first, any locale
//	2026年11月1日 10:00         zh-CN, the space optional
//	01/11/2026 10:00           vi-VN: day first (1 November)
//	11/01/2026 10:00 AM        en-US: month first (1 November)
//
// Numeric dates like 01/11/2026 follow locale (see dayFirst); for an unknown
// locale only year-first forms are read. Times may carry AM or PM. A time
// without an offset is in loc, UTC when loc is nil.
func ParseTime(s, locale string, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	t := strings.TrimSpace(s)
	if v, err := time.Parse(time.RFC3339, t); err == nil {
		return v, nil
	}
	m := parseTimeRe.FindStringSubmatch(newScanText(t).s)
	if m == nil {
		return time.Time{}, fmt.Errorf("time %q: not a recognised form; %s", s, acceptedTimes(locale))
	}
	var y, mo, d int
	switch {
	case m[1] != "":
		y, mo, d = atoi(m[1]), atoi(m[2]), atoi(m[3])
	case m[4] != "":
		y, mo, d = atoi(m[4]), atoi(m[5]), atoi(m[6])
	case m[7] != "":
		y, mo, d = atoi(m[7]), atoi(m[8]), atoi(m[9])
	default:
		first, ok := dayFirst(locale)
		if !ok {
			return time.Time{}, fmt.Errorf("time %q: day and month order unknown for locale %q; %s", s, locale, acceptedTimes(locale))
		}
		y, mo, d = atoi(m[12]), atoi(m[10]), atoi(m[11])
		if first {
			mo, d = d, mo
		}
	}
	if m[13] == "" && m[14] != "" && m[9] == "" {
		// Only 日 may touch the time: "2026-11-0110:00" is a typo.
		return time.Time{}, fmt.Errorf("time %q: no space between date and time; %s", s, acceptedTimes(locale))
	}
	if err := checkDate(y, mo, d); err != nil {
		return time.Time{}, fmt.Errorf("time %q: %w", s, err)
	}
	h, mi, sec := 0, 0, 0
	if m[14] != "" {
		h, mi = atoi(m[14]), atoi(m[15])
		if m[16] != "" {
			sec = atoi(m[16])
		}
		var err error
		if h, err = applyMeridiem(h, m[17]); err != nil {
			return time.Time{}, fmt.Errorf("time %q: %w", s, err)
		}
		if h > 23 || mi > 59 || sec > 59 {
			return time.Time{}, fmt.Errorf("time %q: %02d:%02d:%02d is not a time of day", s, h, mi, sec)
		}
	}
	switch z := m[18]; z {
	case "":
	case "z":
		loc = time.UTC
	default:
		z = strings.ReplaceAll(z, ":", "")
		oh, om := atoi(z[1:3]), atoi(z[3:5])
		if oh > 23 || om > 59 {
			return time.Time{}, fmt.Errorf("time %q: offset %s out of range", s, m[18])
		}
		off := (oh*60 + om) * 60
		if z[0] == '-' {
			off = -off
		}
		loc = time.FixedZone("", off)
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, 0, loc), nil
}

func acceptedTimes(locale string) string {
	forms := "accepted: 2026-11-01T10:00:00+08:00, 2026-11-01 10:00, 2026-11-01, 2026/11/01 10:00"
	first, ok := dayFirst(locale)
	switch {
	case !ok:
	case strings.HasPrefix(strings.ToLower(locale), "zh"):
		forms += ", 2026年11月1日 10:00, 11/01/2026 10:00 (month first)"
	case first:
		forms += ", 01/11/2026 10:00 (day first)"
	default:
		forms += ", 11/01/2026 10:00 AM (month first)"
	}
	return forms
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// checkDate reports whether y-mo-d is a calendar date; y 0 is an unknown
// year, in which 29 February may fall.
func checkDate(y, mo, d int) error {
	if mo < 1 || mo > 12 {
		return fmt.Errorf("month %d out of range", mo)
	}
	if y != 0 && (y < 1900 || y > 2199) {
		return fmt.Errorf("year %d out of range", y)
	}
	ly := y
	if ly == 0 {
		ly = 2000
	}
	if last := time.Date(ly, time.Month(mo)+1, 0, 0, 0, 0, 0, time.UTC).Day(); d < 1 || d > last {
		return fmt.Errorf("day %d is not in month %d", d, mo)
	}
	return nil
}

// applyMeridiem turns hour h, qualified by an English, Vietnamese or Chinese
// part of the day, into a 24-hour clock hour.
func applyMeridiem(h int, part string) (int, error) {
	switch part {
	case "":
		return h, nil
	case "am", "a.m.":
		if h < 1 || h > 12 {
			return 0, fmt.Errorf("hour %d with %s", h, part)
		}
		return h % 12, nil
	case "pm", "p.m.":
		if h < 1 || h > 12 {
			return 0, fmt.Errorf("hour %d with %s", h, part)
		}
		return h%12 + 12, nil
	case "sang", "上午", "早上", "凌晨":
		return h, nil
	case "trua", "中午":
		if h >= 1 && h <= 4 {
			return h + 12, nil
		}
		return h, nil
	case "chieu", "toi", "下午", "晚上", "傍晚":
		if h >= 1 && h < 12 {
			return h + 12, nil
		}
		return h, nil
	}
	return 0, fmt.Errorf("unknown part of day %q", part)
}

// DateTimeMention is a date, a time of day, or both, found in free text;
// Text is text[Start:End]. Year is 0 when not written; Month and Day are 0
// for a time alone; Hour and Minute are -1 for a date alone.
type DateTimeMention struct {
	Year, Month, Day, Hour, Minute int
	Text                           string
	Start, End                     int
}

// The FindDateTimes grammar, on scanText: lower case, ASCII digits,
// Vietnamese without tone marks ("ngày" is "ngay", "giờ" is "gio").
const monthWord = `(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)([a-z]*)\.?`

var (
	// Dates, each with groups year, month, day (some empty).
	dateISORe  = mustDigitRegexp(`([0-9]{4})[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})`)
	dateZhRe   = mustDigitRegexp(`(?:([0-9]{4}) ?年 ?)?([0-9]{1,2}) ?月 ?([0-9]{1,2}) ?[日号]`)
	dateViRe   = mustDigitRegexp(`(?:ngay )?([0-9]{1,2}) thang ([0-9]{1,2})(?:,? nam ([0-9]{4}))?`)
	dateNumRe  = mustDigitRegexp(`([0-9]{1,2})([-/.])([0-9]{1,2})(?:([-/.])([0-9]{4}|[0-9]{2}))?`)
	dateMDYRe  = mustDigitRegexp(monthWord + ` ?([0-9]{1,2})(?:st|nd|rd|th)?(?:,? ([0-9]{4}))?`)
	dateDMYRe  = mustDigitRegexp(`([0-9]{1,2})(?:st|nd|rd|th)? (?:of )?` + monthWord + `(?:,? ([0-9]{4}))?`)
	timeColRe  = mustDigitRegexp(`([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?(?: ?(am|pm|a\.m\.|p\.m\.|sang|trua|chieu|toi))?`)
	timeViRe   = mustDigitRegexp(`([0-9]{1,2})(?:h([0-9]{1,2})?| ?gio(?: ([0-9]{1,2}) ?phut)?)(?: (sang|trua|chieu|toi))?`)
	timeZhRe   = mustDigitRegexp(`(上午|下午|晚上|早上|中午|凌晨|傍晚)? ?([0-9]{1,2}) ?[点點时時](?:(半)|([0-9]{1,2})分?)?`)
	timeAmPmRe = mustDigitRegexp(`([0-9]{1,2}) ?(am|pm|a\.m\.|p\.m\.)`)
	// What may stand between a date and a time that belong together.
	dateTimeGapRe = regexp.MustCompile(`^[ ,]*(?:(?:ngay|luc|vao|at|on|t|-)[ ,]*)*$`)
)

// monthNumber returns the month an English month name or abbreviation
// names, 0 for other words ("mayor", "decimal").
func monthNumber(word string) int {
	switch word {
	case "jan", "january":
		return 1
	case "feb", "february":
		return 2
	case "mar", "march":
		return 3
	case "apr", "april":
		return 4
	case "may":
		return 5
	case "jun", "june":
		return 6
	case "jul", "july":
		return 7
	case "aug", "august":
		return 8
	case "sep", "sept", "september":
		return 9
	case "oct", "october":
		return 10
	case "nov", "november":
		return 11
	case "dec", "december":
		return 12
	}
	return 0
}

// dtItem is a date or a time found in scanText, before pairing.
type dtItem struct {
	start, end int // folded offsets
	isTime     bool
	weak       bool // a bare hour ("10h", "10点"): kept only next to a date
	y, mo, d   int
	h, mi      int
}

// FindDateTimes returns the dates and times quoted in text, in order. It
// reads ISO dates (2026-11-01), numeric dates in locale's day/month order
// (01/11, 1/11/2026, 11/01 for en-US; see dayFirst), Chinese dates
// (2026年11月1日, 11月1号), Vietnamese and English dates in words (ngày 1
// tháng 11, Nov 1, 1st November 2026), and times as 10:05, 10:05 AM, 10h05,
// 10 giờ 5 phút, 3pm, 10点05分, 下午3点半. A date and a time joined by
// nothing, spaces, commas or the words ngày, lúc, vào, at, on become one
// mention ("10:05 ngày 01/11", "Nov 1 at 10:05"). A bare hour such as 10h or
// 10点 counts only when joined to a date; numeric dates without a year use
// "/" only, since 10.05 and 10-05 are more often other numbers.
// Scan.DateTimes is FindDateTimes on a text already prepared for several
// finders.
func FindDateTimes(text, locale string) []DateTimeMention {
	return findDateTimes(newScanText(text), locale)
}

func findDateTimes(st scanText, locale string) []DateTimeMention {
	text, s := st.text, st.s
	var items []dtItem
	items = append(items, findDates(s, locale, st.runs)...)
	items = append(items, findTimes(s, st.runs)...)
	items = dropOverlaps(items)

	var out []DateTimeMention
	for i := 0; i < len(items); i++ {
		it := items[i]
		if i+1 < len(items) {
			next := items[i+1]
			if next.isTime != it.isTime && next.start-it.end <= 16 && dateTimeGapRe.MatchString(s[it.end:next.start]) {
				date, tm := it, next
				if it.isTime {
					date, tm = next, it
				}
				out = append(out, dtMention(text, st, it.start, next.end, date, tm))
				i++
				continue
			}
		}
		if it.weak {
			continue
		}
		if it.isTime {
			out = append(out, dtMention(text, st, it.start, it.end, dtItem{}, it))
		} else {
			out = append(out, dtMention(text, st, it.start, it.end, it, dtItem{h: -1, mi: -1}))
		}
	}
	return out
}

func dtMention(text string, st scanText, i, j int, date, tm dtItem) DateTimeMention {
	start, end := st.orig(i, j)
	return DateTimeMention{
		Year: date.y, Month: date.mo, Day: date.d, Hour: tm.h, Minute: tm.mi,
		Text: text[start:end], Start: start, End: end,
	}
}

// dropOverlaps sorts items and keeps, of any that overlap, the one that
// starts first, then the longest, then a date before a time.
func dropOverlaps(items []dtItem) []dtItem {
	slices.SortFunc(items, func(a, b dtItem) int {
		if a.start != b.start {
			return a.start - b.start
		}
		if a.end != b.end {
			return b.end - a.end
		}
		if a.isTime != b.isTime {
			if a.isTime {
				return 1
			}
			return -1
		}
		return 0
	})
	var out []dtItem
	for _, it := range items {
		if len(out) > 0 && it.start < out[len(out)-1].end {
			continue
		}
		out = append(out, it)
	}
	return out
}

func findDates(s, locale string, runs []int) []dtItem {
	var out []dtItem
	add := func(m []int, y, mo, d int) {
		if checkDate(y, mo, d) == nil {
			out = append(out, dtItem{start: m[0], end: m[1], y: y, mo: mo, d: d})
		}
	}
	ok := func(m []int) bool { return numBoundaries(s, m[0], m[1]) }
	for _, m := range dateISORe.findAll(s, runs, ok) {
		// One separator throughout: 2026-11/01 is not a date.
		if s[m[3]] == s[m[5]] {
			add(m, atoi(sub(s, m, 1)), atoi(sub(s, m, 2)), atoi(sub(s, m, 3)))
		}
	}
	for _, m := range dateZhRe.findAll(s, runs, ok) {
		add(m, atoi(sub(s, m, 1)), atoi(sub(s, m, 2)), atoi(sub(s, m, 3)))
	}
	for _, m := range dateViRe.findAll(s, runs, ok) {
		add(m, atoi(sub(s, m, 3)), atoi(sub(s, m, 2)), atoi(sub(s, m, 1)))
	}
	if first, known := dayFirst(locale); known {
		for _, m := range dateNumRe.findAll(s, runs, ok) {
			sep1, sep2, y := sub(s, m, 2), sub(s, m, 4), sub(s, m, 5)
			if y == "" && sep1 != "/" || y != "" && sep1 != sep2 {
				continue
			}
			a, b := atoi(sub(s, m, 1)), atoi(sub(s, m, 3))
			mo, d := a, b
			if first {
				mo, d = b, a
			}
			year := atoi(y)
			if len(y) == 2 {
				year += 2000
			}
			add(m, year, mo, d)
		}
	}
	for _, m := range dateMDYRe.findAll(s, runs, ok) {
		if mo := monthNumber(sub(s, m, 1) + sub(s, m, 2)); mo > 0 {
			add(m, atoi(sub(s, m, 4)), mo, atoi(sub(s, m, 3)))
		}
	}
	for _, m := range dateDMYRe.findAll(s, runs, ok) {
		if mo := monthNumber(sub(s, m, 2) + sub(s, m, 3)); mo > 0 {
			add(m, atoi(sub(s, m, 4)), mo, atoi(sub(s, m, 1)))
		}
	}
	return out
}

func findTimes(s string, runs []int) []dtItem {
	var out []dtItem
	add := func(m []int, h, mi int, part string, weak bool) {
		h, err := applyMeridiem(h, part)
		if err == nil && h >= 0 && h <= 23 && mi >= 0 && mi <= 59 {
			out = append(out, dtItem{start: m[0], end: m[1], isTime: true, weak: weak, h: h, mi: mi})
		}
	}
	ok := func(m []int) bool { return timeBoundaries(s, m[0], m[1]) }
	for _, m := range timeColRe.findAll(s, runs, ok) {
		add(m, atoi(sub(s, m, 1)), atoi(sub(s, m, 2)), sub(s, m, 4), false)
	}
	for _, m := range timeViRe.findAll(s, runs, ok) {
		mi := sub(s, m, 2) + sub(s, m, 3)
		add(m, atoi(sub(s, m, 1)), atoi(mi), sub(s, m, 4), mi == "")
	}
	for _, m := range timeZhRe.findAll(s, runs, ok) {
		mi, half := sub(s, m, 4), sub(s, m, 3) != ""
		minute := atoi(mi)
		if half {
			minute = 30
		}
		add(m, atoi(sub(s, m, 2)), minute, sub(s, m, 1), mi == "" && !half)
	}
	for _, m := range timeAmPmRe.findAll(s, runs, ok) {
		add(m, atoi(sub(s, m, 1)), 0, sub(s, m, 2), false)
	}
	return out
}

// numBoundaries reports whether s[i:j] stands apart from the numbers and
// words around it: no date inside 1.250.000, 0912.34.56 or v1.2.3. A "-"
// next to it is allowed, as in the range 10:00-10:30.
func numBoundaries(s string, i, j int) bool {
	return numStartOK(s, i) && numEndOK(s, j)
}

func numStartOK(s string, i int) bool {
	if i == 0 {
		return true
	}
	prev, w := utf8.DecodeLastRuneInString(s[:i])
	first, _ := utf8.DecodeRuneInString(s[i:])
	if isASCIIDigit(first) && isASCIIDigit(prev) || (isLatinLetter(first) || isASCIIDigit(first)) && isLatinLetter(prev) {
		return false
	}
	if strings.ContainsRune("./:", prev) && i-w > 0 {
		pp, _ := utf8.DecodeLastRuneInString(s[:i-w])
		return !isASCIIDigit(pp)
	}
	return true
}

func numEndOK(s string, j int) bool {
	if j == len(s) {
		return true
	}
	last, _ := utf8.DecodeLastRuneInString(s[:j])
	next, w := utf8.DecodeRuneInString(s[j:])
	if isASCIIDigit(last) && isASCIIDigit(next) || isLatinLetter(last) && (isLatinLetter(next) || isASCIIDigit(next)) {
		return false
	}
	if strings.ContainsRune("./:", next) && j+w < len(s) {
		nn, _ := utf8.DecodeRuneInString(s[j+w:])
		return !isASCIIDigit(nn)
	}
	return true
}

// timeBoundaries is numBoundaries for times, which may follow the T of an
// ISO date but not the sign of a UTC offset (10:05:00+08:00, 10:05:00-05:00).
func timeBoundaries(s string, i, j int) bool {
	if !numEndOK(s, j) {
		return false
	}
	if i == 0 {
		return true
	}
	switch prev := s[i-1]; {
	case prev == '+':
		return false
	case prev == '-' && timeWithSecondsRe.MatchString(s[clockRunStart(s, i-1):i-1]):
		return false
	case prev == 't' && i > 1 && isASCIIDigit(rune(s[i-2])):
		return true
	}
	return numStartOK(s, i)
}

// timeWithSecondsRe matches a text ending in a time with seconds, after
// which "-05:00" is a UTC offset rather than the end of a range.
var timeWithSecondsRe = regexp.MustCompile(`[0-9]:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?$`)

// clockRunStart returns where the run of digits, ":" and "." at the end of
// s[:j] starts. A match of timeWithSecondsRe at the end of s[:j] lies within
// that run, so the regexp need not read the text before it: a long text
// with many ranges would otherwise be read again for each.
func clockRunStart(s string, j int) int {
	for j > 0 && (isASCIIDigit(rune(s[j-1])) || s[j-1] == ':' || s[j-1] == '.') {
		j--
	}
	return j
}
