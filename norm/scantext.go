package norm

import (
	"sort"
	"sync"
	"unicode"
	"unicode/utf8"

	unorm "golang.org/x/text/unicode/norm"
)

// scanText is a text folded one code point at a time for the finders: ASCII
// digits for full-width ones, lower case, no diacritics except that đ stays
// (it marks đồng). Folding code point by code point keeps the map from
// folded bytes back to the original text exact, which whole-string
// normalisation would not.
type scanText struct {
	s    string
	text string // the original
	// marks are where some code points start, in s and in text, one every
	// scanMarkEvery bytes or so of either: orig walks the text from the
	// nearest one instead of keeping two offsets for every folded byte,
	// since only the few mentions found are ever mapped back. Marking the
	// original text too bounds the walk over code points that fold to
	// nothing, however many a text strings together.
	marks []scanMark
	// runs are where the runs of ASCII digits in s start: every mention
	// holds a digit, so the finders look around these and nowhere else.
	runs []int
}

type scanMark struct{ fold, orig int }

const scanMarkEvery = 256

func newScanText(text string) scanText {
	f := scanFolder{small: scanSmall()}
	buf := make([]byte, 0, len(text))
	marks := make([]scanMark, 1, 1+len(text)/scanMarkEvery)
	var runs []int
	inDigits := false // whether buf ends in a digit
	nextFold, nextOrig := scanMarkEvery, scanMarkEvery
	for i := 0; i < len(text); {
		if len(buf) >= nextFold || i >= nextOrig {
			marks = append(marks, scanMark{fold: len(buf), orig: i})
			nextFold, nextOrig = len(buf)+scanMarkEvery, i+scanMarkEvery
		}
		if c := text[i]; c < utf8.RuneSelf {
			// As appendRune, inline for the common case.
			switch {
			case 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
				inDigits = false
			case '0' <= c && c <= '9':
				if !inDigits {
					runs = append(runs, len(buf))
				}
				inDigits = true
			default:
				inDigits = false
			}
			buf = append(buf, c)
			i++
			continue
		}
		if k, w := latinIndex(text, i); k >= 0 {
			if e := f.small.entries[k]; e.kind() == entryByte {
				// A Latin letter that folds to one ASCII letter: the
				// common case of Vietnamese, inline.
				c := e.byte()
				d := isASCIIDigit(rune(c))
				if d && !inDigits {
					runs = append(runs, len(buf))
				}
				inDigits = d
				buf = append(buf, c)
				i += w
				continue
			}
		}
		n := len(buf)
		var w int
		buf, w = f.appendRune(buf, text, i)
		i += w
		for k := n; k < len(buf); k++ {
			// Full-width digits and the like fold to ASCII ones.
			d := isASCIIDigit(rune(buf[k]))
			if d && !inDigits {
				runs = append(runs, k)
			}
			inDigits = d
		}
	}
	return scanText{s: string(buf), text: text, marks: marks, runs: runs}
}

// orig maps the folded range [i, j) to a range of the original text.
func (t scanText) orig(i, j int) (int, int) {
	start, _ := t.span(i)
	_, end := t.span(j - 1)
	return start, end
}

// span returns where the code point that gave folded byte k starts in the
// original text, and where it ends, including any code points after it that
// gave nothing: a dropped mark belongs to the letter before it, so a mention
// ending at that letter quotes the mark too. That end is where the next code
// point that gives anything starts, or the end of the text.
func (t scanText) span(k int) (start, end int) {
	start, next := t.locate(k)
	if next == len(t.s) {
		return start, len(t.text)
	}
	end, _ = t.locate(next)
	return start, end
}

// locate returns where the code point that gave folded byte k starts in the
// original text, and the folded offset after all it gave.
func (t scanText) locate(k int) (start, next int) {
	// The last mark at or before k: the code point that gave byte k is
	// the first after it that gives anything past k.
	m := t.marks[sort.Search(len(t.marks), func(x int) bool { return t.marks[x].fold > k })-1]
	f := scanFolder{small: scanSmall()}
	var scratch [32]byte
	fold, i := m.fold, m.orig
	for {
		out, w := f.appendRune(scratch[:0], t.text, i)
		if fold+len(out) > k {
			return i, fold + len(out)
		}
		fold += len(out)
		i += w
	}
}

// scanFolder folds code points for scanText, from the tables where it can.
type scanFolder struct {
	small, han *runeTable // han is built on the first Han character
}

// appendRune appends the fold of the code point at text[i:] to buf and
// returns buf and the code point's width.
func (f *scanFolder) appendRune(buf []byte, text string, i int) ([]byte, int) {
	if c := text[i]; c < utf8.RuneSelf {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		return append(buf, c), 1
	}
	r, w := decodeRune(text, i)
	t, k := f.small, smallIndex(r)
	if k < 0 {
		if k = hanIndex(r); k < 0 {
			// Not tabled, or invalid UTF-8 (RuneError is not tabled).
			return appendScanRune(buf, r), w
		}
		if f.han == nil {
			f.han = scanHan()
		}
		t = f.han
	}
	switch e := t.entries[k]; e.kind() {
	case entryDrop:
		return buf, w
	case entryByte:
		return append(buf, e.byte()), w
	case entrySame:
		return append(buf, text[i:i+w]...), w
	case entryText:
		return append(buf, t.text(e)...), w
	}
	return appendScanRune(buf, r), w
}

// Every code point folds the same wherever it stands, so the tables are
// what appendScanRune gives for each.
var (
	scanSmall = sync.OnceValue(func() *runeTable { return buildRuneTable(groupRunes(false), scanClass) })
	scanHan   = sync.OnceValue(func() *runeTable { return buildRuneTable(groupRunes(true), scanClass) })
)

func scanClass(r rune) (int, string) {
	out := appendScanRune(nil, r)
	if len(out) == 0 {
		return entryDrop, ""
	}
	return entryText, string(out)
}

// appendScanRune appends the fold of r: its compatibility decomposition
// without non-spacing marks, lower case, with dashes, the asterisk operator
// and spaces made ASCII.
func appendScanRune(buf []byte, r rune) []byte {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return append(buf, byte(r))
	}
	var enc [utf8.UTFMax]byte
	n := utf8.EncodeRune(enc[:], r)
	d := unorm.NFKD.Properties(enc[:n]).Decomposition()
	if d == nil {
		return appendScanPart(buf, r)
	}
	for _, c := range string(d) {
		buf = appendScanPart(buf, c)
	}
	return buf
}

func appendScanPart(buf []byte, r rune) []byte {
	switch {
	case unicode.Is(unicode.Mn, r):
		return buf
	case r == '\u2010', r == '\u2011', r == '\u2012', r == '\u2013', r == '\u2014', r == '\u2015', r == '\u2212':
		r = '-'
	case r == '\u2217':
		r = '*'
	case r > utf8.RuneSelf && unicode.Is(unicode.Zs, r):
		r = ' '
	default:
		r = unicode.ToLower(r)
	}
	return utf8.AppendRune(buf, r)
}
