package norm

import (
	"strings"
	"sync"
	"unicode/utf8"

	unorm "golang.org/x/text/unicode/norm"
)

// Fold on text that is not ASCII spends its time in whole-string
// normalisation and case mapping. Most code points that mail is written in
// fold the same wherever they stand, so Fold looks them up in a table of
// what foldFull does to each and walks the text once; the rest of the text
// is folded by foldFull as a whole.
//
// A code point is tabled only if foldFull cannot join it to its
// neighbours: it starts an NFKC segment (nothing before it composes with
// it or reorders around it), and its folded text starts an NFC segment (it
// does not compose with the text before it either). Case mapping joins
// nothing outside Greek, which is not tabled. Every tabled code point then
// folds the same between any neighbours, which is what foldFull does to it
// between two ASCII letters: a text, white space, or nothing.

var (
	foldSmall = sync.OnceValue(func() *runeTable { return buildRuneTable(groupRunes(false), foldClass) })
	foldHan   = sync.OnceValue(func() *runeTable { return buildRuneTable(groupRunes(true), foldClass) })
)

// foldClass returns what foldFull does to r wherever it stands, or
// entryUnknown when that may depend on its neighbours.
func foldClass(r rune) (int, string) {
	if !unorm.NFKC.PropertiesString(string(r)).BoundaryBefore() {
		return entryUnknown, ""
	}
	got := foldFull("a" + string(r) + "b")
	switch got {
	case "ab":
		return entryDrop, ""
	case "a b":
		return entrySpace, ""
	}
	mid, ok := strings.CutPrefix(got, "a")
	if !ok {
		return entryUnknown, ""
	}
	if mid, ok = strings.CutSuffix(mid, "b"); !ok || mid == "" || mid[0] == ' ' || mid[len(mid)-1] == ' ' {
		return entryUnknown, ""
	}
	if !unorm.NFC.PropertiesString(mid).BoundaryBefore() {
		return entryUnknown, ""
	}
	return entryText, mid
}

// foldTabled is Fold for text whose code points are all ASCII or tabled;
// ok is false for any other text, which foldFull must fold.
func foldTabled(s string) (string, bool) {
	small := foldSmall()
	var han *runeTable // built on the first Han character
	buf := make([]byte, 0, len(s))
	pendingSpace := false
	for i := 0; i < len(s); {
		c := s[i]
		if '!' <= c && c <= '~' {
			// A run of visible ASCII, lower-cased as foldASCII does.
			j := i + 1
			for j < len(s) && '!' <= s[j] && s[j] <= '~' {
				j++
			}
			if pendingSpace {
				buf = append(buf, ' ')
				pendingSpace = false
			}
			n := len(buf)
			buf = append(buf, s[i:j]...)
			for k := n; k < len(buf); k++ {
				if c := buf[k]; 'A' <= c && c <= 'Z' {
					buf[k] = c + 'a' - 'A'
				}
			}
			i = j
			continue
		}
		if c < utf8.RuneSelf {
			// White space and control characters, as foldASCII.
			i++
			if c == ' ' || ('\t' <= c && c <= '\r') {
				pendingSpace = len(buf) > 0
			}
			continue
		}
		if k, w := latinIndex(s, i); k >= 0 {
			if e := small.entries[k]; e.kind() == entryByte {
				// A Latin letter that folds to one ASCII letter: the
				// common case of Vietnamese, inline.
				if pendingSpace {
					buf = append(buf, ' ')
					pendingSpace = false
				}
				buf = append(buf, e.byte())
				i += w
				continue
			}
		}
		r, w := decodeRune(s, i)
		t, k := small, smallIndex(r)
		if k < 0 {
			if k = hanIndex(r); k < 0 {
				// Not tabled, or invalid UTF-8 (RuneError is not tabled).
				return "", false
			}
			if han == nil {
				han = foldHan()
			}
			t = han
		}
		e := t.entries[k]
		switch e.kind() {
		case entryUnknown:
			return "", false
		case entryDrop:
			i += w
			continue
		case entrySpace:
			pendingSpace = len(buf) > 0
			i += w
			continue
		}
		if pendingSpace {
			buf = append(buf, ' ')
			pendingSpace = false
		}
		switch e.kind() {
		case entryByte:
			buf = append(buf, e.byte())
		case entrySame:
			buf = append(buf, s[i:i+w]...)
		default:
			buf = append(buf, t.text(e)...)
		}
		i += w
	}
	return string(buf), true
}
