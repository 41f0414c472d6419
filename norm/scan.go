package norm

import "strings"

// Scan is a text prepared once for the finders: FindPhones, FindPrices and
// FindDateTimes each fold the whole text before they search it, so a
// caller that runs several of them, or FindPhones for several regions, on
// one text makes a Scan and asks it instead. A Scan does not change after
// NewScan and is safe for concurrent use.
type Scan struct {
	st scanText
}

// NewScan prepares text for its finders.
func NewScan(text string) *Scan {
	return &Scan{st: newScanText(text)}
}

// Text returns the text the Scan was made from.
func (sc *Scan) Text() string { return sc.st.text }

// Phones is FindPhones on the Scan's text.
func (sc *Scan) Phones(region string) []PhoneMention { return findPhones(sc.st, region, nil) }

// PhonesCached is Phones with phonenumbers' answers kept in cache, which
// may be shared by any number of texts and goroutines.
func (sc *Scan) PhonesCached(region string, cache *PhoneCache) []PhoneMention {
	return findPhones(sc.st, region, cache)
}

// Prices is FindPrices on the Scan's text.
func (sc *Scan) Prices() []PriceMention { return findPrices(sc.st) }

// DateTimes is FindDateTimes on the Scan's text.
func (sc *Scan) DateTimes(locale string) []DateTimeMention { return findDateTimes(sc.st, locale) }

// DatesWithTimes is DateTimes limited to the mentions that hold both a
// date and a time of day, what a quoted order time is. A text without a
// time of day is turned away before the date finders run: they are the
// costlier part, and most mail quotes no time.
func (sc *Scan) DatesWithTimes(locale string) []DateTimeMention {
	if !mayHoldTime(sc.st.s, sc.st.runs) || len(findTimes(sc.st.s, sc.st.runs)) == 0 {
		return nil
	}
	var out []DateTimeMention
	for _, dm := range findDateTimes(sc.st, locale) {
		if dm.Month > 0 && dm.Day > 0 && dm.Hour >= 0 && dm.Minute >= 0 {
			out = append(out, dm)
		}
	}
	return out
}

// mayHoldTime reports whether a time of day could be written in the scan
// text s (runs: where its digit runs start). Every time expression has
// its hour's digits end a run and be followed, after at most one space,
// by ':', 'h' or one of timeMarks; a text where no run is holds none, and
// the expressions need not run.
func mayHoldTime(s string, runs []int) bool {
	for _, start := range runs {
		e := start
		for e < len(s) && s[e] >= '0' && s[e] <= '9' {
			e++
		}
		if e < len(s) && s[e] == ' ' {
			e++
		}
		if e >= len(s) {
			continue
		}
		if s[e] == ':' || s[e] == 'h' {
			return true
		}
		for _, mark := range timeMarks {
			if strings.HasPrefix(s[e:], mark) {
				return true
			}
		}
	}
	return false
}

// timeMarks are the other words and signs that can follow an hour in the
// time expressions (timeViRe, timeAmPmRe, timeZhRe, timeColRe's am/pm).
var timeMarks = []string{"gio", "am", "pm", "a.m.", "p.m.", "点", "點", "时", "時"}
