package ref

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"
	unorm "golang.org/x/text/unicode/norm"
)

// Fold returns the matching key for s: NFKC (so full-width ＡＢＣ１２３ reads
// as ABC123), lower case, diacritics removed (Vietnamese tones and marks
// included, and đ read as d because it has no decomposition), invisible
// format and control characters dropped, every run of white space made one
// ASCII space, and the ends trimmed. CJK text is kept as it is. Invalid UTF-8
// bytes become U+FFFD. Fold is idempotent.
//
//	Fold("Chị  Lình") == "chi linh"
//	Fold("Trần Thị Đào") == "tran thi dao"
//	Fold("ＬＩＮＨ") == "linh"
func Fold(s string) string {
	if ascii(s) {
		return foldASCII(s)
	}
	return foldFull(s)
}

func foldFull(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = unorm.NFKC.String(s)
	// A Caser keeps state between calls, so each call gets its own.
	s = cases.Lower(language.Und).String(s)
	s = unorm.NFD.String(s)

	var b strings.Builder
	b.Grow(len(s))
	pendingSpace := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			pendingSpace = b.Len() > 0
			continue
		case unicode.Is(unicode.Mn, r),
			// Zero-width spaces, joiners, soft hyphens and bidi marks
			// are invisible to a reader, so they must not make two
			// keys differ.
			unicode.Is(unicode.Cf, r),
			unicode.Is(unicode.Cc, r):
			continue
		case r == 'đ':
			r = 'd'
		}
		if pendingSpace {
			b.WriteByte(' ')
			pendingSpace = false
		}
		b.WriteRune(r)
	}
	return unorm.NFC.String(b.String())
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// foldASCII is Fold for ASCII text, where normalisation changes nothing:
// most mail is ASCII, and Fold runs on every text matched.
func foldASCII(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	pendingSpace := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || ('\t' <= c && c <= '\r'):
			pendingSpace = b.Len() > 0
			continue
		case c < 0x20 || c == 0x7f:
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if pendingSpace {
			b.WriteByte(' ')
			pendingSpace = false
		}
		b.WriteByte(c)
	}
	return b.String()
}

// scanText is a text folded one code point at a time for the finders: ASCII
// digits for full-width ones, lower case, no diacritics except that đ stays
// (it marks đồng), and one byte-offset range into the original text for every
// folded byte. Folding code point by code point keeps that map exact, which
// whole-string normalisation would not.
type scanText struct {
	s     string
	start []int // start[i] is where the code point that produced s[i] starts in the original
	end   []int // end[i] is where it ends, including any combining marks dropped after it
}

func newScanText(text string) scanText {
	buf := make([]byte, 0, len(text))
	start := make([]int, 0, len(text))
	end := make([]int, 0, len(text))
	last := 0 // first folded byte of the last code point that produced any
	for i := 0; i < len(text); {
		r, w := utf8.DecodeRuneInString(text[i:])
		n := len(buf)
		buf = appendScanRune(buf, r)
		if len(buf) == n {
			// A dropped mark belongs to the letter before it, so a
			// mention ending at that letter quotes the mark too.
			for k := last; k < len(end); k++ {
				end[k] = i + w
			}
		} else {
			for range len(buf) - n {
				start = append(start, i)
				end = append(end, i+w)
			}
			last = n
		}
		i += w
	}
	return scanText{s: string(buf), start: start, end: end}
}

// orig maps the folded range [i, j) to a range of the original text.
func (t scanText) orig(i, j int) (int, int) {
	return t.start[i], t.end[j-1]
}

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
